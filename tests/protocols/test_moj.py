from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from protocols.errors import BodyError
from protocols.moj import FIELDS, ForeignResidentNotice, decode_notice, encode_notice
from protocols.xmlsafe import SCHEMA_DIR


def notice(**over: object) -> ForeignResidentNotice:
    base = dict(update_seq=12, previous_update_seq=3, municipality_code="222038",
                resident_code="12345678903", reason="move_within",
                event_date=dt.date(2026, 11, 1), name="NGUYEN VAN A", name_kana="グエン　ヴァン　ア",
                common_name="中村　一郎", birth_date=dt.date(1995, 5, 5), sex="1",
                nationality="ベトナム", article_30_45="1", residence_status="技能実習",
                residence_period_end=dt.date(2028, 3, 31), residence_card_number="AB12345678CD",
                address="静岡県沼津市大手町１丁目１番１号", record_status="active")
    base.update(over)
    return ForeignResidentNotice(**base)  # type: ignore[arg-type]


def test_round_trip_and_optional_items() -> None:
    for n in (notice(), notice(previous_update_seq=None, name_kana=None, common_name=None,
                               residence_status=None, residence_period_end=None,
                               residence_card_number=None)):
        assert decode_notice(encode_notice(n)) == n


def test_fields_match_the_xsd() -> None:
    xsd = etree.parse(str(SCHEMA_DIR / "moj_notice.xsd"))
    names = xsd.xpath("//xs:element[@name='ForeignResidentNotice']//xs:element/@name",
                      namespaces={"xs": "http://www.w3.org/2001/XMLSchema"})
    assert names == [el for _, el in FIELDS]


@pytest.mark.parametrize("over", [{"residence_card_number": "AB1234"},
                                  {"article_30_45": "5"}, {"name": "<&>" * 34}])
def test_schema_refusals(over: dict) -> None:
    with pytest.raises(BodyError) as err:
        decode_notice(encode_notice(notice(**over)))
    assert err.value.code == "xsd_invalid"


def test_change_notice_round_trip_and_checks() -> None:
    from protocols.moj import ResidenceChangeNotice, decode_change_notice, encode_change_notice

    n = ResidenceChangeNotice("N-1", "222038", "AB12345678CD", dt.date(2026, 11, 2), None,
                              "永住者", None, "CD87654321AB", None)
    assert decode_change_notice(encode_change_notice(n)) == n
    empty = ResidenceChangeNotice("N-2", "222038", "AB12345678CD", dt.date(2026, 11, 2),
                                  None, None, None, None, None)
    with pytest.raises(BodyError) as err:
        decode_change_notice(encode_change_notice(empty))
    assert err.value.code == "nothing_changed"
