"""A decoded document (a dataclass) as plain JSON: what the API and the mocks' control
APIs show.  Dates and times in ISO 8601; nested records and lists followed."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any


def as_json(doc: Any, keep_none: bool = False) -> dict[str, Any]:
    """``doc``'s items; absent (``None``) ones left out unless ``keep_none``."""
    return {k: plain(v) for k, v in dataclasses.asdict(doc).items()
            if keep_none or v is not None}


def plain(value: Any) -> Any:
    """``value`` with dates as ISO text, dicts, lists and tuples followed."""
    if isinstance(value, dt.date):  # datetime too
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
