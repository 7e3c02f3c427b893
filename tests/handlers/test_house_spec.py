"""`storage.address.house_in_spec`: house lists as staff write them."""

from __future__ import annotations

import pytest

from storage.address import house_in_spec


@pytest.mark.parametrize(
    ("house", "spec", "inside"),
    [
        ("5", "", True),  # no list: the whole street
        ("5", "1-15,17,21А", True),
        ("1", "1-15", True),
        ("15", "1-15", True),
        ("16", "1-15,17,21А", False),
        ("17", "1-15,17,21А", True),
        ("17а", "1-15,17,21А", False),  # a letter is another building
        ("17к1", "17", True),  # a building of house 17
        ("17/2", "17", True),
        ("21А", "1-15,17,21А", True),
        ("21 а", "1-15,17,21А", True),
        ("д. 21а", "21А", True),
        ("21б", "21А", False),
        ("5а", "1-15", True),  # a range covers lettered houses
        ("7", "15-1", True),  # a reversed range
        ("7", "1–15", True),  # an en dash
        ("7", "1 - 3; 7", True),
        ("2", "1 - 3", True),
        ("30", "1-15, 17", False),
        ("", "1-15", False),
        ("7", "д.7", True),
    ],
)
def test_house_in_spec(house: str, spec: str, inside: bool) -> None:
    assert house_in_spec(house, spec) is inside
