"""Structured logs: one JSON object a line on standard output.

Fields come from ``extra={...}`` (``event`` names what happened, e.g. ``link.state``).
Callers pass codes, sequence numbers, link names and counts — never names, numbers
or addresses of residents; ``_PERSONAL`` is a last guard that drops such keys, and an
exception is written as its type and frames, never its message.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from typing import TextIO

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message",
                                                                             "asctime"}
_PERSONAL = {"name_kanji", "name_kana", "address", "resident_code", "individual_number",
             "birth_date"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in _PERSONAL:
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The frames, never the exception's message: a database error's text can
            # carry the row it failed on (PostgreSQL's "Failing row contains (…)").
            out["exc_type"] = record.exc_info[0].__name__
            out["exc"] = "".join(traceback.format_tb(record.exc_info[2]))
        return json.dumps(out, ensure_ascii=False, default=str)


def setup_logging(level: str = "info", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Lifecycle lines (ready, stopping) are always written: harnesses wait on them.
    logging.getLogger("jukihub.lifecycle").setLevel(logging.INFO)
    logging.Formatter.converter = time.gmtime


def emit(event: str, **fields: object) -> None:
    """Log a lifecycle ``event`` (readiness and the like) with ``fields``, at any level."""
    logging.getLogger("jukihub.lifecycle").info(event, extra={"event": event, **fields})
