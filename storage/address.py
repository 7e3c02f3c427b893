"""Address keys: how settlements, streets and houses are compared (contracts.md §8).

Case, «г.»/«город», «ул.»/«улица» (and the other common street types) and ё/е do not
matter: «г. Сыктывкар, ул. Комарова» and «сыктывкар комарова» are one place.
"""

from __future__ import annotations

import re

_SETTLEMENT_TYPES = (
    "город", "гор", "г", "пгт", "поселок", "посёлок", "пос", "п", "село", "с", "деревня",
    "дер", "д", "рп", "ст", "станция",
)
_STREET_TYPES = (
    "улица", "ул", "проспект", "пр-кт", "пр-т", "просп", "пр", "переулок", "пер", "шоссе",
    "ш", "бульвар", "б-р", "бул", "площадь", "пл", "набережная", "наб", "проезд", "пр-д",
    "тупик", "туп", "микрорайон", "мкр", "мкрн", "квартал", "кв-л",
)


def _strip_types(text: str, types: tuple[str, ...]) -> str:
    words = re.split(r"[\s,]+", text)
    kept = []
    for word in words:
        bare = word.rstrip(".")
        if bare in types:
            continue
        # «г.Сыктывкар», «ул.Ленина»: a type glued to the name by its dot
        match = re.match(r"^([а-я-]+)\.(.+)$", word)
        if match and match[1] in types:
            word = match[2]
        if word:
            kept.append(word)
    return " ".join(kept)


def _base(text: str) -> str:
    text = text.lower().replace("ё", "е").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()


def settlement_key(name: str) -> str:
    """«г. Сыктывкар» → «сыктывкар»."""
    return _strip_types(_base(name), _SETTLEMENT_TYPES)


def street_key(name: str) -> str:
    """«ул. Комарова» → «комарова»; «Октябрьский проспект» → «октябрьский»."""
    return _strip_types(_base(name), _STREET_TYPES)


def house_key(house: str) -> str:
    """«21 А», «д. 21а» → «21а»."""
    text = _base(house)
    text = re.sub(r"^(дом|д)\.?\s*", "", text)
    return text.replace(" ", "")
