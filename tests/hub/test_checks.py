from __future__ import annotations

import datetime as dt

import pytest

from devtools.synthetic import Synth
from hub.domain import checks
from hub.domain.changes import Reason, parse_change
from hub.domain.errors import FormatError
from mock_endpoints.population import individual_number, resident_code
from protocols import codes

TODAY = dt.date(2026, 11, 27)


@pytest.mark.parametrize("code", ["222038", "131016", "011002", "221309", "222054"])
def test_municipality_check_digit_known_codes(code: str) -> None:
    # 沼津市, 千代田区, 札幌市, 浜松市, 三島市 (総務省 全国地方公共団体コード)
    checks.check_municipality_code(code)


def test_municipality_check_digit_wrong() -> None:
    with pytest.raises(FormatError) as err:
        checks.check_municipality_code("222037")
    assert (err.value.code, err.value.item) == ("invalid_check_digit", "municipality_code")


def test_individual_number_check_digit() -> None:
    checks.check_individual_number("123456789018")  # the example of 総務省令第85号
    with pytest.raises(FormatError) as err:
        checks.check_individual_number("123456789019")
    assert err.value.code == "invalid_check_digit"
    with pytest.raises(FormatError) as err:
        checks.check_individual_number("12345678901")
    assert err.value.code == "invalid_digits"


def test_resident_code_check_digit_rule() -> None:
    # modulus 11, weights 2..7 from the right: 1234567890 -> 0*2+9*3+8*4+7*5+6*6+5*7
    # +4*2+3*3+2*4+1*5 = 195, 195 % 11 = 8, 11 - 8 = 3
    assert codes.resident_code_check_digit("1234567890") == "3"
    checks.check_resident_code("12345678903")
    with pytest.raises(FormatError):
        checks.check_resident_code("12345678902")
    # remainders 0 and 1 give 0: 0000000000 -> 0; 1000000000 -> 5*1=5 -> 6
    assert codes.resident_code_check_digit("0000000000") == "0"
    assert codes.resident_code_check_digit("1000000000") == "6"


def test_generated_codes_are_valid() -> None:
    import random

    rng = random.Random(1)
    for _ in range(200):
        checks.check_resident_code(resident_code(rng))
        checks.check_individual_number(individual_number(rng))


@pytest.mark.parametrize("value", ["2026-02-30", "2026-1-01", "20260101", "令和8年"])
def test_bad_dates(value: str) -> None:
    with pytest.raises(FormatError) as err:
        checks.parse_date(value, "event_date")
    assert err.value.code == "invalid_date"


@pytest.mark.parametrize("value", ["やまだ　たろう", "ﾔﾏﾀﾞ", "ヤマダ タロウ", "山田", ""])
def test_bad_kana(value: str) -> None:
    with pytest.raises(FormatError) as err:
        checks.check_kana(value, "name_kana")
    assert err.value.code == "invalid_kana"


def test_good_kana_and_text_with_rare_kanji() -> None:
    checks.check_kana("タカハシ　ハナコ", "name_kana")
    checks.check_kana("ヴァン　ドーン", "name_kana")
    checks.check_text("髙﨑　𠮷男", "name_kanji", 50)
    with pytest.raises(FormatError) as err:
        checks.check_text("山田\x00太郎", "name_kanji", 50)
    assert err.value.code == "invalid_character"
    with pytest.raises(FormatError) as err:
        checks.check_text("あ" * 51, "name_kanji", 50)
    assert err.value.code == "invalid_length"


def _arrival() -> dict:
    return Synth(seed=5, today=TODAY).arrival()


def test_parse_move_in() -> None:
    change = parse_change(_arrival(), TODAY)
    assert change.reason is Reason.MOVE_IN
    assert change.items["municipality_code"] == "222038"
    assert isinstance(change.items["birth_date"], dt.date)


def test_missing_item_is_named() -> None:
    obj = _arrival()
    del obj["resident"]["name_kana"]
    with pytest.raises(FormatError) as err:
        parse_change(obj, TODAY)
    assert (err.value.code, err.value.item) == ("missing_item", "name_kana")


def test_future_event_date_refused() -> None:
    obj = _arrival()
    obj["event_date"] = "2026-12-01"
    with pytest.raises(FormatError) as err:
        parse_change(obj, TODAY)
    assert err.value.code == "date_in_future"


def test_move_out_carries_where_to_and_nothing_else() -> None:
    obj = _arrival()
    obj["reason"] = "move_out"
    with pytest.raises(FormatError) as err:
        parse_change(obj, TODAY)
    assert (err.value.code, err.value.item) == ("missing_item", "moving_out_address")
    where = {"planned_date": "2026-12-10", "municipality_code": "131016",
             "address": "東京都千代田区千代田１番"}
    obj["resident"]["moving_out"] = where
    with pytest.raises(FormatError) as err:
        parse_change(obj, TODAY)
    assert err.value.code == "unexpected_item"
    obj["resident"] = {"moving_out": where, "update_prohibited": False}
    change = parse_change(obj, TODAY)
    assert change.items["moving_out_planned_date"] == dt.date(2026, 12, 10)
    assert change.items["moving_out_municipality_code"] == "131016"


def test_only_move_out_says_where_to() -> None:
    obj = _arrival()
    obj["resident"]["moving_out"] = {"planned_date": "2026-12-10",
                                     "address": "東京都千代田区千代田１番"}
    with pytest.raises(FormatError) as err:
        parse_change(obj, TODAY)
    assert (err.value.code, err.value.item) == ("unexpected_item", "moving_out")


def test_the_registers_dates_may_not_be_in_the_future() -> None:
    obj = _arrival()
    obj["resident"]["address_set_date"] = "2026-12-01"
    with pytest.raises(FormatError) as err:
        parse_change(obj, TODAY)
    assert (err.value.code, err.value.item) == ("date_in_future", "address_set_date")


def test_error_messages_never_carry_values() -> None:
    obj = _arrival()
    obj["resident"]["individual_number"] = "123456789019"
    with pytest.raises(FormatError) as err:
        parse_change(obj, TODAY)
    assert "123456789019" not in str(err.value.to_json())


def test_same_body_same_fingerprint() -> None:
    a, b = _arrival(), _arrival()
    assert parse_change(a, TODAY).fingerprint == parse_change(b, TODAY).fingerprint
    b["operator_id"] = "other"
    assert parse_change(a, TODAY).fingerprint != parse_change(b, TODAY).fingerprint


def test_register_gaiji_become_unified_characters() -> None:
    from pathlib import Path

    from protocols.charconv import UnifiedCharset

    table = UnifiedCharset.load(Path(__file__).resolve().parents[2] / "data" / "gaiji.tsv")
    obj = _arrival()
    obj["resident"]["name_kanji"] = "\ue000田　一郎"  # the register's code for 𠮷
    assert parse_change(obj, TODAY, table).items["name_kanji"] == "𠮷田　一郎"
    obj["resident"]["name_kanji"] = "\ue0ff田　一郎"  # a 外字 the table does not know
    with pytest.raises(FormatError) as err:
        parse_change(obj, TODAY, table)
    assert (err.value.code, err.value.item) == ("unmapped_gaiji", "name_kanji")
