"""``Resident.with_items`` (compiled for speed) makes exactly what ``dataclasses.replace``
makes, and refuses an item the resident does not have."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.resident import Card, Resident

NAMES = [f.name for f in dataclasses.fields(Resident)]
BASE = Resident("000000000000001", "12345678901", name_kanji="沼津　太郎",
                birth_date=dt.date(1980, 1, 2), card=Card("issued", dt.date(2026, 1, 5)))
VALUES = st.one_of(st.none(), st.text(max_size=5), st.integers(), st.booleans(), st.dates())


@given(st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=8))
def test_with_items_is_replace(items: dict[str, Any]) -> None:
    made = BASE.with_items(items)
    assert made == dataclasses.replace(BASE, **items)
    assert all(getattr(made, k) is v for k, v in items.items())


def test_an_item_the_resident_does_not_have_is_refused() -> None:
    with pytest.raises(TypeError, match="not a resident item: shoe_size"):
        BASE.with_items({"address": "x", "shoe_size": 27})
