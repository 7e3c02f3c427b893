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


def house_in_spec(house: str, spec: str) -> bool:
    """Whether a house falls under a house list as staff write it (contracts.md §8):
    «1-15,17,21А». An empty spec means every house (a whole street or settlement).

    A range covers every house whose number is in it, with or without a letter
    («5а» is in «1-15»); a single item matches that house, its buildings and fractions
    («17» covers «17к1» and «17/2», not «17а»).
    """
    spec = re.sub(r"\s*[-–—]\s*", "-", _base(spec))  # «1 - 15» is one range
    items = [item for item in re.split(r"[,;\s]+", spec) if item]
    if not items:
        return True
    key = house_key(house)
    if not key:
        return False
    match = _HOUSE_NUMBER.match(key)
    number = int(match[1]) if match else None
    base = _house_base(key)
    for raw in items:
        item = re.sub(r"^(дом|д)\.?", "", raw)
        bounds = re.fullmatch(r"(\d+)[-–—](\d+)", item)
        if bounds:
            low, high = sorted((int(bounds[1]), int(bounds[2])))
            if number is not None and low <= number <= high:
                return True
        elif item in (key, base):
            return True
    return False
