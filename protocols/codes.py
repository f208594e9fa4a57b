"""The identifiers every link carries, and their check digits: 住民票コード (resident
code, 11 digits), 個人番号 (individual number, 12 digits) and 市町村コード (municipality
code, JIS X 0402, 6 digits).  Pure arithmetic: the domain's format checks, the
configuration and the mocks all ask here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TypeGuard

from stdnum.jp import in_ as individual_number_std


def resident_code_check_digit(first10: str) -> str:
    """Check digit of a 住民票コード from its first ten digits.

    ASSUMPTION: the official rule (平成14年総務省告示第436号) could not be found in
    text; this uses modulus 11 with weights 2–7 repeated from the rightmost digit,
    the rule the issue gives for that case (remainders 0 and 1 give check digit 0).
    Replace this one function when the notice's text is at hand.
    """
    total = sum(int(d) * (2 + i % 6) for i, d in enumerate(reversed(first10)))
    r = total % 11
    return "0" if r <= 1 else str(11 - r)


def municipality_code_check_digit(first5: str) -> str:
    """JIS X 0402 check digit: weights 6..2, remainder mod 11 subtracted from 11,
    last digit kept (222038 → 8)."""
    total = sum(int(d) * w for d, w in zip(first5, (6, 5, 4, 3, 2), strict=True))
    return str((11 - total % 11) % 10)


def individual_number_check_digit(first11: str) -> str:
    """Check digit of a 個人番号 (総務省令第85号 第5条), by python-stdnum."""
    return str(individual_number_std.calc_check_digit(first11))


def _digits(value: object, length: int) -> TypeGuard[str]:
    return (isinstance(value, str) and len(value) == length and value.isascii()
            and value.isdigit())


def is_resident_code(value: object) -> bool:
    return _digits(value, 11) and resident_code_check_digit(value[:10]) == value[10]


def is_individual_number(value: object) -> bool:
    return _digits(value, 12) and individual_number_check_digit(value[:11]) == value[11]


@lru_cache(maxsize=4096)  # a few thousand municipalities in all
def is_municipality_code(value: object) -> bool:
    return _digits(value, 6) and municipality_code_check_digit(value[:5]) == value[5]
