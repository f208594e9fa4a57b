"""Households (世帯) over mutual TLS: the send-destination file has one destination per
household — its 世帯主's name and address, its own 送付先管理番号, 対象となる人数 the
members in the batch — and the changes between households (世帯変更, 世帯主変更) reach
the prefecture with their reason codes.  The rules are proven in ``test_rules.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.harness import Env
from devtools.synthetic import Synth


@pytest.fixture(scope="module")
def e(tmp_path_factory: pytest.TempPathFactory, certs_dir: Path) -> Iterator[Env]:
    env = Env(tmp_path_factory.mktemp("households"), certs_dir)
    env.start_mocks({"card": None})
    env.start_hub(["send_destination.chunk_records=3"])
    yield env
    env.stop()


def _household(e: Env, synth: Synth, *relationships: str) -> list[dict[str, Any]]:
    arrivals = synth.household(*relationships, numbered=True)
    for a in arrivals:
        status, body = e.client().post("/v1/changes", a)
        assert status == 201, body
    return arrivals


def _batch(e: Env, codes: list[str]) -> list[dict[str, Any]]:
    staff = e.staff("op1801")
    status, body = staff.post("/v1/send-destination-batches", {"residents": codes})
    assert status == 202, body
    status, shown = staff.get(f"/v1/send-destination-batches/{body['batch_id']}?wait=30")
    assert shown["state"] == "delivered", shown
    _, held = e.other_control("card", "GET", f"/send-batches/{body['batch_id']}?limit=50")
    assert held["complete"] and held["destinations"] == len(codes)
    return list(held["items"])


def test_a_household_of_four_is_one_destination_to_its_head(e: Env) -> None:
    synth = Synth(seed=1801)
    # The 世帯主 arrives last, so the head is not the first member by code or by post.
    four = _household(e, synth, "妻", "子", "子", "世帯主")
    head = four[3]["resident"]
    [single] = _household(e, synth, "世帯主")
    [alone] = _household(e, synth, "子")  # a household without a 世帯主: to themselves
    codes = [a["resident_code"] for a in (*four, single, alone)]
    # chunk_records=3: the household of four is split across two chunks.
    items = {i["resident_code"]: i for i in _batch(e, codes)}

    family = [items[a["resident_code"]] for a in four]
    assert {i["management_number"] for i in family} == {family[0]["management_number"]}
    for i in family:
        assert i["persons"] == 4
        assert (i["dest_name"], i["dest_address"]) == (head["name_kanji"],
                                                      head["address"]["text"])
        assert i["dest_name_len"] == len(head["name_kanji"])
        assert i["dest_postal_code"] == head["address"].get("postal_code")
    for a, i in zip(four, family, strict=True):  # items 38–67 stay each person's own
        assert (i["name"], i["individual_number"]) == (
            a["resident"]["name_kanji"], a["resident"]["individual_number"])
    numbers = [items[c]["management_number"] for c in codes]
    assert len(set(numbers)) == 3  # the family, the single, the one alone
    assert all(n.startswith(numbers[0][:11]) and len(n) == 18 for n in numbers)
    for a in (single, alone):
        i = items[a["resident_code"]]
        assert (i["persons"], i["dest_name"]) == (1, a["resident"]["name_kanji"])


def test_the_files_last_items_carry_what_the_register_has(e: Env) -> None:
    """61 外字パターン, 62–65 旧氏, 66–67 ローマ字."""
    synth = Synth(seed=1802)
    [a] = synth.japanese_arrivals(1, numbered=True)
    a["resident"].update(
        name_kanji="渡辺　𠮷子", name_kana="ワタナベ　ヨシコ",
        old_surname={"kanji": "髙橋", "kana": "タカハシ", "gaiji_change_seq": 2},
        romaji_name="WATANABE YOSHIKO", romaji_old_surname="TAKAHASHI")
    a["resident"]["address"]["text"] = "静岡県沼津市大手町２番"
    assert e.client().post("/v1/changes", a)[0] == 201
    [plain] = synth.japanese_arrivals(1, numbered=True)
    plain["resident"]["name_kanji"], plain["resident"]["name_kana"] = (
        "沼津　太郎", "ヌマヅ　タロウ")
    plain["resident"]["address"]["text"] = "静岡県沼津市大手町１番"
    assert e.client().post("/v1/changes", plain)[0] == 201
    items = {i["resident_code"]: i for i in _batch(e, [a["resident_code"],
                                                      plain["resident_code"]])}
    i = items[a["resident_code"]]
    assert (i["old_surname"], i["old_surname_gaiji"], i["old_surname_kana"],
            i["old_surname_gaiji_change_seq"]) == ("髙橋", 1, "タカハシ", 2)
    assert (i["romaji_name"], i["romaji_old_surname"]) == ("WATANABE YOSHIKO", "TAKAHASHI")
    # 𠮷 (the name) and 髙 (the 旧氏) are outside JIS X 0208: the printer needs both.
    assert i["gaiji_pattern"] == "U+20BB7 U+9AD9"
    p = items[plain["resident_code"]]
    assert (p["gaiji_pattern"], p["old_surname"], p["romaji_name"]) == (None, None, None)


def _record(e: Env, code: str) -> dict[str, Any]:
    e.wait_applied(e.sent_on("prefecture"))
    status, record = e.control("GET", f"/identities/{code}")
    assert status == 200, record
    return dict(record)


def test_household_and_head_changes_reach_the_prefecture(e: Env) -> None:
    synth = Synth(seed=1803)
    husband, wife, son = _household(e, synth, "世帯主", "妻", "子")
    people = {p.code: p for p in synth.people}

    # 世帯変更: the son founds his own household at the same address.
    change = synth.change("household_change", people[son["resident_code"]],
                          household_number="H-SON-1803", relationship="世帯主")
    status, body = e.client().post("/v1/changes", change)
    assert status == 201, body
    record = _record(e, son["resident_code"])
    assert (record["reason"], record["reason_detail"], record["relationship"]) == (
        "12", "1201", "世帯主")

    # 世帯主変更: the wife becomes the 世帯主; the husband is now 夫, in the same request.
    change = synth.change("household_head_change", people[wife["resident_code"]],
                          former_head_relationship="夫")
    status, body = e.client().post("/v1/changes", change)
    assert status == 201, body
    [also] = body["also"]
    assert also["resident_code"] == husband["resident_code"]
    assert also["update_seq"] == body["update_seq"] + 1
    wife_record = _record(e, wife["resident_code"])
    husband_record = _record(e, husband["resident_code"])
    assert (wife_record["relationship"], wife_record["reason_detail"]) == ("世帯主", "1301")
    assert (husband_record["relationship"], husband_record["reason_detail"],
            husband_record["update_seq"], husband_record["request_id"]) == (
        "夫", "1301", also["update_seq"], change["request_id"])
    # A repeat is answered with its first answer; nothing is written twice.
    assert e.client().post("/v1/changes", change) == (201, body)

    # The household's notices now go to its new 世帯主.
    items = _batch(e, [husband["resident_code"], wife["resident_code"]])
    assert {(i["dest_name"], i["persons"]) for i in items} == {
        (wife["resident"]["name_kanji"], 2)}


def test_a_batch_of_changes_sees_its_own_household_moves(e: Env) -> None:
    """In one batch each change sees the batch's earlier ones: a 世帯変更 after a 転居 to
    the household's address is taken; then the same move again is no move, and a
    second 世帯主 for the household is refused."""
    synth = Synth(seed=1804)
    [a] = _household(e, synth, "世帯主")
    [b] = _household(e, synth, "世帯主")
    b_person = next(p for p in synth.people if p.code == b["resident_code"])
    b_move = synth.change("household_change", b_person, household_number=a["resident"][
        "household_number"], relationship="妻")
    # b was at another address: a 転居 to a's first, in the same batch.
    b_moves_in = synth.change("move_within", b_person, address=a["resident"]["address"],
                              address_set_date=synth.today.isoformat())
    second_head = synth.change("household_change", b_person, household_number=a["resident"][
        "household_number"], relationship="世帯主")
    [c] = _household(e, synth, "世帯主")
    c_person = next(p for p in synth.people if p.code == c["resident_code"])
    c_moves_in = synth.change("move_within", c_person, address=a["resident"]["address"],
                              address_set_date=synth.today.isoformat())
    c_head = synth.change("household_change", c_person, household_number=a["resident"][
        "household_number"], relationship="世帯主")
    status, body = e.client().post("/v1/changes/batch", {
        "changes": [b_moves_in, b_move, second_head, c_moves_in, c_head]})
    assert status == 200, body
    assert [r["status"] for r in body["results"]] == [
        "accepted", "accepted", "refused", "accepted", "refused"]
    assert [body["results"][i]["error"]["code"] for i in (2, 4)] == [
        "household_unchanged", "household_head_exists"]
