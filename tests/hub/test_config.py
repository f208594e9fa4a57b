"""Settings read from config.toml that need more than a type: the schedule's interval."""

from __future__ import annotations

import pytest

from hub.config import interval


@pytest.mark.parametrize(("text", "seconds"), [
    ("365d", 365 * 86400.0), ("30d", 30 * 86400.0), ("12h", 43200.0), ("90m", 5400.0),
    ("2s", 2.0), ("0.5d", 43200.0), ("off", None)])
def test_an_interval_is_a_number_and_a_unit(text: str, seconds: float | None) -> None:
    assert interval(text, "consistency.every") == seconds


@pytest.mark.parametrize("text", ["365", "d", "-1d", "0s", "nand", "infd", "1y", "",
                                  "99999d"])
def test_anything_else_is_refused_with_the_settings_name(text: str) -> None:
    with pytest.raises(ValueError, match="consistency.every"):
        interval(text, "consistency.every")
