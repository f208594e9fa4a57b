"""What an identity query may ask: the two-of-four rule and one kind of key."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hub.domain.errors import FormatError
from hub.domain.queries import parse_query
from protocols.national import IdentityQuery

WHO: dict[str, str] = {}  # who asks comes from the staff session, not the body
CITY = "222038"


def q(**items: Any) -> dict[str, Any]:
    return {**WHO, **items}


@pytest.mark.parametrize("items", [
    {"name": "山田　太郎", "address": "静岡県沼津市大手町"},
    {"name": "山田　太郎", "address": "沼津市大手町"},
    {"name_kana": "ヤマダ　タロウ", "address": "静岡県駿東郡清水町堂庭"},
    {"name_kana": "ヤマダ　タロウ", "address": "静岡県静岡市葵区追手町"},
    {"name_kana": "ヤマダ　タロウ", "address": "三重県四日市市諏訪町"},
    {"name_kana": "ヤマダ　タロウ", "address": "東京都千代田区千代田１番"},
    {"name_kana": "ヤマダ　タロウ", "birth_date": "1980-01-02"},
    {"name": "山田　太郎", "birth_date": "1980-01-02", "sex": "1"},
    {"name": "山田　太郎", "name_kana": "ヤマダ　タロウ", "address": "静岡県",
     "birth_date": "1980-01-02", "sex": "1"},
])
def test_the_name_with_address_or_birth_date_is_enough(items: dict[str, Any]) -> None:
    req = parse_query(q(**items), CITY)
    assert req.key == "four_items"
    assert req.query.municipality_code == CITY
    assert req.query.name_kanji == items.get("name")
    assert req.query.birth_date == (dt.date(1980, 1, 2) if "birth_date" in items else None)


@pytest.mark.parametrize("items", [
    {},
    {"name": "山田　太郎"},
    {"name": "山田　太郎", "sex": "1"},  # sex does not count
    {"address": "静岡県沼津市", "birth_date": "1980-01-02"},  # two items but no name
    {"address": "静岡県沼津市", "birth_date": "1980-01-02", "sex": "2"},
    {"name_kana": "ヤマダ", "name": "山田"},  # the name twice is still one item
    # A prefecture or a municipality alone is not an address item: it names no town.
    {"name": "山田　太郎", "address": "静岡県"},
    {"name": "山田　太郎", "address": "沼津市"},
    {"name": "山田　太郎", "address": "静岡県沼津市"},
    {"name_kana": "ヤマダ　タロウ", "address": "静岡県駿東郡清水町"},
    {"name_kana": "ヤマダ　タロウ", "address": "静岡県静岡市葵区"},
    {"name_kana": "ヤマダ　タロウ", "address": "三重県四日市市"},
    {"name_kana": "ヤマダ　タロウ", "address": "大手町"},  # which city's?
])
def test_broader_searches_are_refused(items: dict[str, Any]) -> None:
    with pytest.raises(FormatError) as err:
        parse_query(q(**items), CITY)
    assert err.value.code == "query_too_broad" and err.value.status == 422


def test_a_resident_code_or_a_number_alone_is_enough() -> None:
    by_code = parse_query(q(resident_code="1234567890" + _cd("1234567890")), CITY)
    assert by_code.key == "resident_code" and by_code.query == IdentityQuery(
        CITY, resident_code="1234567890" + _cd("1234567890"))
    by_number = parse_query(q(individual_number="123456789018"), CITY)
    assert by_number.key == "individual_number"


@pytest.mark.parametrize("items,code", [
    ({"resident_code": "12345678902"}, "invalid_check_digit"),
    ({"individual_number": "123456789010"}, "invalid_check_digit"),
    ({"individual_number": "123456789018", "name": "山田"}, "ambiguous_query"),
    ({"resident_code": "12345678901", "individual_number": "123456789018"},
     "ambiguous_query"),
    ({"name_kana": "やまだ", "birth_date": "1980-01-02"}, "invalid_kana"),
    ({"name": "山田", "birth_date": "1980-02-30"}, "invalid_date"),
])
def test_malformed_keys_are_refused_by_name(items: dict[str, Any], code: str) -> None:
    with pytest.raises(FormatError) as err:
        parse_query(q(**items), CITY)
    assert err.value.code == code
    assert all(str(v) not in err.value.message for v in items.values())


def _cd(first10: str) -> str:
    from protocols.codes import resident_code_check_digit

    return resident_code_check_digit(first10)
