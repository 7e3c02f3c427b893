"""Address keys: how settlements, streets and houses are compared (docs/interfaces.md §8).

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
        name = match[2] if match and match[1] in types else word
        if name:
            kept.append(name)
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


# a letter right after the number is part of it («21а»), «к1»/«с2» after it are buildings
_HOUSE_NUMBER = re.compile(r"^(\d+)((?:[а-яa-z](?![\dа-яa-z]))?)")


def _house_base(key: str) -> str:
    """«17к1», «17/2», «17 стр. 3» → «17»; «21а» stays «21а» (a letter is its own house)."""
    match = _HOUSE_NUMBER.match(key)
    return match[1] + match[2] if match else key


# «все», «всё», «все дома»: staff mean the whole street (docs/interfaces.md §8)
_EVERY_HOUSE = frozenset({"все", "всё", "все дома", "всё дома", "весь", "вся улица"})


def every_house(spec: str) -> bool:
    """Whether a house list means every house: empty, or «все» / «всё» / «все дома»."""
    return not spec.strip() or _base(spec).rstrip(".") in _EVERY_HOUSE


class HouseSpec:
    """A house list as staff write it (docs/interfaces.md §8), «1-15,17,21А», parsed once and
    matched against any number of houses (parsing it per house made a long list
    against a large street quadratic). An empty list or «все» means every house.

    A range covers every house whose number is in it, with or without a letter
    («5а» is in «1-15»); a single item matches that house, its buildings and fractions
    («17» covers «17к1» and «17/2», not «17а»).
    """

    __slots__ = ("every", "exact", "ranges")

    def __init__(self, spec: str) -> None:
        self.every = every_house(spec)
        self.ranges: list[tuple[int, int]] = []
        self.exact: set[str] = set()
        if self.every:
            return
        spec = re.sub(r"\s*[-–—]\s*", "-", _base(spec))  # «1 - 15» is one range
        for raw in re.split(r"[,;\s]+", spec):
            item = re.sub(r"^(дом|д)\.?", "", raw)
            if not item:
                continue
            bounds = re.fullmatch(r"(\d+)[-–—](\d+)", item)
            if bounds:
                low, high = sorted((int(bounds[1]), int(bounds[2])))
                self.ranges.append((low, high))
            else:
                self.exact.add(item)
        self.every = not self.ranges and not self.exact

    def matches(self, house: str) -> bool:
        if self.every:
            return True
        key = house_key(house)
        if not key:
            return False
        if key in self.exact or _house_base(key) in self.exact:
            return True
        match = _HOUSE_NUMBER.match(key)
        if match is None:
            return False
        number = int(match[1])
        return any(low <= number <= high for low, high in self.ranges)


def house_in_spec(house: str, spec: str) -> bool:
    """Whether a house falls under a house list (see `HouseSpec`)."""
    return HouseSpec(spec).matches(house)
