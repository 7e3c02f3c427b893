"""`gateway export labelled`: every message a person labelled, as §5 JSON objects
(docs/interfaces.md §5, §12), optionally masked for a repository.

Masking replaces phones, people's names and account numbers in texts and labels, the
same value by the same placeholder within one export, keeping their shape so that the
parser reads a masked text as it read the original: a phone stays a phone
(`+790000000NN`), an account number keeps its length (`9000000001`), a name becomes a
capitalised placeholder (`Фамилия1`, `Имя1`, `Отчество1`). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any, Final

from storage.inbox import LabelledMessage

# §5 field order; `notify_channel` only where set (it belongs to the `notify` command).
FIELDS: Final = ("intent", "account", "readings", "command", "ticket", "appeal_category")

_PHONE = (
    r"(?<![\d+])(?:\+7|8|7)[\s\-()]{0,2}\d{3}[\s\-()]{0,2}\d{3}[\s\-]?\d{2}[\s\-]?\d{2}(?!\d)"
)
_ACCOUNT = r"(?<![\d+])\d(?:-?\d){7,11}(?![\d])"
_WORD = r"[А-ЯЁ][а-яё]+"
_SCAN: Final = re.compile(rf"(?P<phone>{_PHONE})|(?P<account>{_ACCOUNT})|(?P<word>{_WORD})")
_NAME_TAGS: Final = {"Surn": "Фамилия", "Name": "Имя", "Patr": "Отчество"}
_SENTENCE_END: Final = re.compile(r"[.!?]\s*$")


@lru_cache(maxsize=1)
def _morph() -> Any:
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=20_000)
def _name_kind(word: str, initial: bool) -> tuple[str, str] | None:
    """(kind, normal form) when `word` is a person's name: any reading of a capitalised
    word inside a sentence, the likeliest one at a sentence's start («Свет отключили»)."""
    parses = _morph().parse(word.lower())
    for parse in parses[:1] if initial else parses:
        for tag, kind in _NAME_TAGS.items():
            if tag in parse.tag.grammemes:
                return kind, str(parse.normal_form)
    return None


class Masker:
    """Consistent placeholders within one export."""

    def __init__(self) -> None:
        self._phones: dict[str, str] = {}
        self._accounts: dict[str, str] = {}
        self._names: dict[tuple[str, str], str] = {}
        self._per_kind: dict[str, int] = {}

    def phone(self, raw: str) -> str:
        key = re.sub(r"\D", "", raw)[-10:]
        if key not in self._phones:
            self._phones[key] = f"+7900000{len(self._phones) + 1:04d}"
        return self._phones[key]

    def account(self, raw: str) -> str:
        key = re.sub(r"\D", "", raw)
        if key not in self._accounts:
            width = max(len(key), 2)
            self._accounts[key] = f"9{len(self._accounts) + 1:0{width - 1}d}"
        return self._accounts[key]

    def name(self, kind: str, normal: str) -> str:
        key = (kind, normal)
        if key not in self._names:
            self._per_kind[kind] = self._per_kind.get(kind, 0) + 1
            self._names[key] = f"{kind}{self._per_kind[kind]}"
        return self._names[key]

    def text(self, text: str) -> str:
        def swap(match: re.Match[str]) -> str:
            if match["phone"]:
                return self.phone(match["phone"])
            if match["account"]:
                return self.account(match["account"])
            word = match["word"]
            before = text[: match.start()]
            initial = not before.strip() or bool(_SENTENCE_END.search(before))
            found = _name_kind(word, initial)
            return word if found is None else self.name(*found)

        return _SCAN.sub(swap, text)

    def label(self, label: dict[str, Any]) -> dict[str, Any]:
        masked = dict(label)
        if masked.get("account"):
            masked["account"] = self.account(str(masked["account"]))
        if masked.get("ticket"):
            masked["ticket"] = str(masked["ticket"])  # a ticket number is no personal data
        return masked


def labelled_objects(
    rows: Iterable[LabelledMessage], *, mask: bool = False
) -> Iterator[dict[str, Any]]:
    """One §5 object per labelled message: the text as written and the labelled fields."""
    masker = Masker() if mask else None
    for row in rows:
        label = masker.label(row.label) if masker else row.label
        text = masker.text(row.text) if masker else row.text
        obj: dict[str, Any] = {"text": text}
        for field in FIELDS:
            obj[field] = label.get(field, [] if field == "readings" else None)
        if label.get("notify_channel"):
            obj["notify_channel"] = label["notify_channel"]
        yield obj
