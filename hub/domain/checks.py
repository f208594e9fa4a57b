"""Format checks (形式チェック) of the items a change carries.

Each check raises ``FormatError`` with a code and the item's name, never its value.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable

from hub.domain.errors import FormatError
from protocols import codes
from protocols.charconv import char_length

_DIGITS = re.compile(r"[0-9]+")


def _digits(item: str, value: str, length: int) -> None:
    if not isinstance(value, str) or len(value) != length or not _DIGITS.fullmatch(value):
        raise FormatError("invalid_digits", f"{item} must be {length} digits", item)


def _code(item: str, value: str, length: int, valid: Callable[[object], bool]) -> None:
    """``length`` digits whose last is the check digit ``valid`` knows."""
    _digits(item, value, length)
    if not valid(value):
        raise FormatError("invalid_check_digit", f"{item} has a wrong check digit", item)


def check_resident_code(value: str, item: str = "resident_code") -> None:
    _code(item, value, 11, codes.is_resident_code)


def check_individual_number(value: str, item: str = "individual_number") -> None:
    """個人番号: 12 digits, check digit per 総務省令第85号 第5条."""
    _code(item, value, 12, codes.is_individual_number)


def check_municipality_code(value: str, item: str = "municipality_code") -> None:
    """市町村コード: 6 digits, check digit per JIS X 0402."""
    _code(item, value, 6, codes.is_municipality_code)


def check_postal_code(value: str, item: str = "postal_code") -> None:
    _digits(item, value, 7)


def parse_date(value: str, item: str) -> dt.date:
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FormatError("invalid_date", f"{item} must be a calendar date YYYY-MM-DD",
                          item) from None


# Full-width katakana, the prolonged sound mark and the ideographic space.
_KANA = re.compile(r"[\u30A1-\u30F6\u30FC\u3000]+")


def check_kana(value: str, item: str, max_len: int = 100) -> None:
    if not isinstance(value, str) or not _KANA.fullmatch(value):
        raise FormatError("invalid_kana", f"{item} must be full-width katakana", item)
    check_length(value, item, max_len)


def check_length(value: str, item: str, max_len: int, min_len: int = 1) -> None:
    """In characters as the 住基ネット counts them (a kanji with its variation selector
    is one)."""
    if not (min_len <= char_length(value) <= max_len):
        raise FormatError("invalid_length", f"{item} must be {min_len}–{max_len} characters",
                          item)


def check_text(value: str, item: str, max_len: int) -> None:
    """Register text: bounded length, no control or unassigned characters."""
    check_length(value, item, max_len)
    if value.replace("\u3000", " ").isprintable():
        return  # none of Cc, Cf, Cn, Cs, Zl, Zp (nor anything else unusual): the common case
    for ch in value:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cn", "Cs", "Zl", "Zp"):
            raise FormatError("invalid_character", f"{item} has a character not allowed", item)


_IDENTIFIER = re.compile(r"[0-9A-Za-z_.\-]{1,40}")


def check_identifier(value: str, item: str) -> None:
    if not _IDENTIFIER.fullmatch(value or ""):
        raise FormatError("invalid_identifier",
                          f"{item} must be 1–40 letters, digits or . _ -", item)
