"""Every one of the 40 items of the 本人確認情報 the prefecture receives, checked against
its source (the table in ``protocols/identity.py``) for each kind of change.

The register posts changes over mutual TLS; the prefecture's mock validates what
arrives against the XSD and keeps it; the test reads each record back from the mock and
compares all 40 items with what this test expects from its own model of the register:
the items the register sent so far (merged change by change), the change itself, the
hub's answer, and — for what no model can derive — values written out by hand per case
(異動事由 and 異動事由詳細 codes, 清音化かな by the 標準仕様書's rules as
``protocols/charconv.py`` lists them, 消除).  One hub for the module."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.harness import Env
from mock_endpoints.population import individual_number, resident_code
from protocols.identity import IdentityRecord

NUMAZU = "222038"
TOKYO = ("131016", "東京都千代田区千代田１番１号")


def outside_jis_x0208(text: str | None) -> int:
    """外字数 as the assessment counts it: characters outside JIS X 0208 (this test's
    own count, by the ISO-2022-JP codec, which holds JIS X 0208 and ASCII only)."""
    count = 0
    for ch in text or "":
        try:
            ch.encode("iso2022_jp")
        except UnicodeEncodeError:
            count += 1
    return count


@dataclasses.dataclass
class Case:
    """One change, what the test expects of it beyond its model, and what came back."""

    name: str
    person: str                 # whose change (the model keeps each person's items)
    change: dict[str, Any]
    reason: str                 # 21 異動事由, by hand
    detail: str                 # 23 異動事由詳細, by hand
    seion: str | None           # 5 清音化かな氏名, by hand
    removed: bool = False       # 35 消除
    also: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # others
    new_code: str | None = None  # 1 after a 住民票コードの変更: the code J-LIS issues
    old_code: str | None = None  # 24 旧住民票コード
    state: dict[str, Any] = dataclasses.field(default_factory=dict)
    answer: dict[str, Any] = dataclasses.field(default_factory=dict)
    record: dict[str, Any] = dataclasses.field(default_factory=dict)
    posted: tuple[dt.datetime, dt.datetime] | None = None


def _text(state: dict[str, Any], part: str, key: str = "text") -> Any:
    return (state.get(part) or {}).get(key)


def _within_post(c: Case) -> Any:
    """36 タイムスタンプ: the commit's time, so between the post and its answer."""
    assert c.posted is not None
    stamp = dt.datetime.fromisoformat(c.record["timestamp"])
    return c.record["timestamp"] if c.posted[0] <= stamp <= c.posted[1] else "not the commit"


SOURCES: dict[str, Callable[[Case], Any]] = {
    "resident_code": lambda c: c.new_code or c.change["resident_code"],         # 1
    "name_kanji": lambda c: c.state["name_kanji"],                              # 2
    "name_gaiji_count": lambda c: outside_jis_x0208(c.state["name_kanji"]),     # 3
    "name_kana": lambda c: c.state["name_kana"],                                # 4
    "name_seion_kana": lambda c: c.seion,                                       # 5
    "birth_date": lambda c: c.state["birth_date"],                              # 6
    "sex": lambda c: c.state["sex"],                                            # 7
    "municipality_code": lambda c: _text(c.state, "address", "municipality_code"),  # 8
    "aza_code": lambda c: _text(c.state, "address", "aza_code"),                # 9
    "postal_code": lambda c: _text(c.state, "address", "postal_code"),          # 10
    "address": lambda c: _text(c.state, "address"),                             # 11
    "address_gaiji_count": lambda c: outside_jis_x0208(_text(c.state, "address")),  # 12
    "individual_number": lambda c: c.state.get("individual_number"),            # 13
    "became_resident_date": lambda c: c.state["became_resident_date"],          # 14
    "address_set_date": lambda c: c.state["address_set_date"],                  # 15
    "notified_date": lambda c: c.change.get("notified_date"),                   # 16
    "previous_municipality_code": lambda c: _text(c.state, "previous_address",
                                                  "municipality_code"),         # 17
    "previous_address": lambda c: _text(c.state, "previous_address"),           # 18
    "previous_address_gaiji_count": lambda c: outside_jis_x0208(
        _text(c.state, "previous_address")),                                    # 19
    "relationship": lambda c: c.state["relationship"],                          # 20
    "reason": lambda c: c.reason,                                               # 21
    "event_date": lambda c: c.change["event_date"],                             # 22
    "reason_detail": lambda c: c.detail,                                        # 23
    # 24, 25: only a 住民票コードの変更 has an old code and the new one's first day.
    "old_resident_code": lambda c: c.old_code,
    "resident_code_used_date": lambda c: c.change["event_date"] if c.old_code else None,
    "request_id": lambda c: c.change["request_id"],                             # 26
    "operator_id": lambda c: c.change["operator_id"],                           # 27
    "terminal_id": lambda c: c.change["terminal_id"],                           # 28
    "update_seq": lambda c: c.answer["update_seq"],                             # 29
    "abnormal_update_seq": lambda c: None,  # 30: only a resend that mends a difference
    "update_prohibited": lambda c: c.state.get("update_prohibited", False),     # 31
    "prospective": lambda c: c.state.get("prospective", False),                 # 32
    "exclusive": lambda c: c.state.get("exclusive", False),                     # 33
    "gaiji_flag": lambda c: any(outside_jis_x0208(t) for t in (                 # 34
        c.state["name_kanji"], _text(c.state, "address"),
        _text(c.state, "previous_address"), _text(c.state, "old_surname", "kanji"))),
    "record_status": lambda c: "removed" if c.removed else "active",            # 35
    "timestamp": _within_post,                                                  # 36
    "old_surname_kanji": lambda c: _text(c.state, "old_surname", "kanji"),      # 37
    "old_surname_gaiji_count": lambda c: outside_jis_x0208(
        _text(c.state, "old_surname", "kanji")),                                # 38
    "old_surname_kana": lambda c: _text(c.state, "old_surname", "kana"),        # 39
    "old_surname_gaiji_change_seq": lambda c: _text(c.state, "old_surname",
                                                    "gaiji_change_seq"),        # 40
}


def _cases() -> list[Case]:
    rng = random.Random(40)
    codes = {p: resident_code(rng) for p in "ABCD"}
    serial = iter(range(1, 100))

    def change(person: str, reason: str, event: str, resident: dict[str, Any] | None = None,
               notified: str | None = None) -> dict[str, Any]:
        c: dict[str, Any] = {"request_id": f"ITEMS-{next(serial):03d}",
                             "operator_id": f"op{person}", "terminal_id": f"t-{reason}",
                             "reason": reason, "event_date": event,
                             "resident_code": codes[person]}
        if notified:
            c["notified_date"] = notified
        if resident is not None:
            c["resident"] = resident
        return c

    def arrival(person: str, name: tuple[str, str], born: str, sex: str, day: str,
                **more: Any) -> dict[str, Any]:
        return {"atena_number": f"A{person}0000001", "household_number": f"H{person}001",
                "name_kanji": name[0], "name_kana": name[1], "birth_date": born, "sex": sex,
                "relationship": "世帯主", "resident_type": "japanese",
                "address": {"municipality_code": NUMAZU, "postal_code": "4100022",
                            "aza_code": "0320365", "text": "静岡県沼津市大岡２丁目２９番１１号"},
                "became_resident_date": day, "address_set_date": day, **more}

    a_in = arrival("A", ("沼津　一郎", "ヌマヅ　イチロウ"), "1980-05-05", "1", "2026-11-02",
                   previous_address={"municipality_code": TOKYO[0], "text": TOKYO[1]},
                   old_surname={"kanji": "髙橋", "kana": "タカハシ", "gaiji_change_seq": 3})
    d_in = arrival("D", ("富士　花子", "フジ　ハナコ"), "1975-01-20", "2", "2026-11-03",
                   previous_address={"municipality_code": TOKYO[0], "text": TOKYO[1]})
    c_in = arrival("C", ("グエン　ヴァン　アン", "グエン　ヴァン　アン"), "1998-07-07", "1",
                   "2026-11-05", resident_type="foreign",
                   previous_address={"text": "ベトナム"},
                   foreign={"nationality": "ベトナム", "article_30_45": "1",
                            "residence_status": "技能実習", "residence_period_end": "2029-03-31",
                            "residence_card_number": "AB12345678CD"})
    b_born = arrival("B", ("沼津　陽葵", "ヌマヅ　ヒマリ"), "2026-11-15", "2", "2026-11-15",
                     relationship="子")
    b_born["household_number"] = "HA001"
    del d_in["address"]["aza_code"], d_in["address"]["postal_code"]  # none recorded
    return [
        Case("move_in from another city", "A", change("A", "move_in", "2026-11-02", a_in,
                                                      "2026-11-04"),
             "01", "0101", "ヌマス　イチロオ"),
        Case("move_in from abroad", "C", change("C", "move_in", "2026-11-05", c_in,
                                                "2026-11-06"),
             "01", "0102", "クエン　ハン　アン"),
        Case("move_in, later to go abroad", "D", change("D", "move_in", "2026-11-03", d_in),
             "01", "0101", "フシ　ハナコ"),
        Case("move_within", "A", change("A", "move_within", "2026-11-10", {
            "address": {"municipality_code": NUMAZU, "postal_code": "4100001",
                        "aza_code": "0010001", "text": "静岡県沼津市足高１番地の２"},
            "address_set_date": "2026-11-10"}, "2026-11-12"),
             "11", "1101", "ヌマス　イチロオ"),
        Case("name_change", "A", change("A", "name_change", "2026-11-16", {
            "name_kanji": "髙野　一郎", "name_kana": "タカノ　イチロオ"}, "2026-11-16"),
             "31", "3101", "タカノ　イチロオ"),
        Case("correction with the register's state", "A", change(
            "A", "correction", "2026-11-17", {"relationship": "世帯主", "prospective": True,
                                              "exclusive": True}),
             "32", "3201", "タカノ　イチロオ"),
        Case("number_designation", "A", change("A", "number_designation", "2026-11-18", {
            "individual_number": individual_number(rng)}),
             "33", "3301", "タカノ　イチロオ"),
        Case("birth", "B", change("B", "birth", "2026-11-15", b_born, "2026-11-20"),
             "02", "0201", "ヌマス　ヒマリ"),
        # 世帯変更: D founds a household of their own (the first member: its 世帯主).
        Case("household_change", "D", change("D", "household_change", "2026-11-20", {
            "household_number": "HD002", "relationship": "世帯主"}),
             "12", "1201", "フシ　ハナコ"),
        # 世帯主変更: B becomes the 世帯主 of A's household; A, the former, is now 父 —
        # A's record is checked by A's next case (its 続柄 and its 更新順番号 chain).
        Case("household_head_change", "B", change("B", "household_head_change",
                                                  "2026-11-21", {
                                                      "former_head_relationship": "父"}),
             "13", "1301", "ヌマス　ヒマリ", also={"A": {"relationship": "父"}}),
        Case("move_out to another city", "A", change("A", "move_out", "2026-11-25", {
            "moving_out": {"planned_date": "2026-11-30", "municipality_code": TOKYO[0],
                           "address": TOKYO[1]}, "update_prohibited": True}, "2026-11-25"),
             "21", "2101", "タカノ　イチロオ", removed=True),
        Case("move_out abroad", "D", change("D", "move_out", "2026-11-26", {
            "moving_out": {"planned_date": "2026-12-01", "address": "アメリカ合衆国"}}),
             "21", "2102", "フシ　ハナコ", removed=True),
        Case("death", "C", change("C", "death", "2026-11-27", None, "2026-11-28"),
             "22", "2201", "クエン　ハン　アン", removed=True),
        Case("resident_code_change", "B", change("B", "resident_code_change", "2026-11-28"),
             "34", "3401", "ヌマス　ヒマリ", new_code=resident_code(rng),
             old_code=codes["B"]),
    ]


def _merge(state: dict[str, Any], items: dict[str, Any]) -> dict[str, Any]:
    """The register's items after a change: each item the change sends replaces its
    old value (an address, a 転入前住所, a 旧氏 as a whole)."""
    return {**copy.deepcopy(state), **copy.deepcopy(items)}


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory, certs_dir: Path) -> Iterator[list[Case]]:
    """Every case posted in order, with the record the prefecture holds after it."""
    e = Env(tmp_path_factory.mktemp("items"), certs_dir)
    e.start_mocks({"national": None})
    e.start_hub()
    try:
        client, states, delivered = e.client(), {}, 0
        cases = _cases()
        # J-LIS knows where the domestic arrivals come from (their 転出証明書情報).
        status, _ = e.other_control("national", "POST", "/persons", [
            {"resident_code": c.change["resident_code"], "municipality_code": TOKYO[0],
             "address": TOKYO[1], "record_status": "active", "held_for": TOKYO[0],
             **{k: c.change["resident"][k]
                for k in ("name_kanji", "name_kana", "birth_date", "sex")}}
            for c in cases if c.name.startswith("move_in from another city")
            or c.name.startswith("move_in, later")])
        assert status == 200
        # The numbers it generates for the birth and the arrival from abroad stay in
        # J-LIS: this test's model has no designation the register did not post.
        e.other_control("national", "POST", "/faults", {"hold_numbers": True})
        for case in cases:
            if case.new_code is not None:  # the code J-LIS is to issue
                e.other_control("national", "POST", "/next-code", {"code": case.new_code})
            before = dt.datetime.now()
            status, answer = client.post("/v1/changes", case.change)
            after = dt.datetime.now()
            assert status == 201, answer
            case.answer, case.posted = answer, (before, after)
            items = dict(case.change.get("resident") or {})
            if case.change["reason"] == "household_head_change":  # the change's effect
                items = {"relationship": "世帯主"}
            states[case.person] = _merge(states.get(case.person, {}), items)
            case.state = states[case.person]
            for other, changed in case.also.items():  # changed with it (世帯主変更)
                states[other] = _merge(states[other], changed)
            delivered += ("prefecture" in answer["links"]) * (1 + len(answer.get("also", [])))
            e.wait_applied(delivered)
            code = case.new_code or case.change["resident_code"]
            status, case.record = e.control("GET", f"/identities/{code}")
            assert status == 200, case.record
        yield cases
    finally:
        e.stop()


def test_the_table_names_every_item_once() -> None:
    assert list(SOURCES) == [f.name for f in dataclasses.fields(IdentityRecord)]
    assert len(SOURCES) == 40


@pytest.mark.parametrize("index", range(len(_cases())), ids=[c.name for c in _cases()])
def test_every_item_is_its_source(sent: list[Case], index: int) -> None:
    case = sent[index]
    expected = {item: source(case) for item, source in SOURCES.items()}
    assert case.record == expected


def test_the_cases_reach_what_each_item_can_be(sent: list[Case]) -> None:
    """The table is not checked only on empty or constant values: across the cases each
    flag is both true and false, each optional item both set and absent."""
    def seen(item: str) -> set[Any]:
        return {repr(c.record[item]) for c in sent}

    for flag in ("update_prohibited", "prospective", "exclusive", "gaiji_flag"):
        assert seen(flag) == {"True", "False"}, flag
    for item in ("previous_municipality_code", "previous_address", "individual_number",
                 "old_surname_kanji", "notified_date", "aza_code", "old_resident_code",
                 "resident_code_used_date"):
        assert "None" in seen(item) and len(seen(item)) > 1, item
    assert {c.record["name_gaiji_count"] for c in sent} == {0, 1}
    assert {c.record["old_surname_gaiji_count"] for c in sent} == {0, 1}
    assert len(seen("reason_detail")) == 13
