"""The city's own 外字 end to end: the register posts a name with a private-use code point
that the city's table (``data/gaiji.tsv``) maps to an ideographic variation sequence
(邉 + U+E0102).  The 住基ネット gets the unified character, counted as one character and
one 外字; the send-destination file counts it once in 項目長 and 外字数 and substitutes
its base character (never the whole name in kana); what goes back to the register — a
転出証明書情報 J-LIS pushed — comes in the register's own code again."""

from __future__ import annotations

from typing import Any

from devtools.synthetic import Synth

REGISTER = "渡\ue003　太郎"           # as the register system writes it (U+E003: a 外字)
UNIFIED = "渡邉\U000e0102　太郎"     # as the 住基ネット writes it


def test_a_kanji_with_a_variation_selector_is_one_character_everywhere(env_with: Any) -> None:
    e = env_with("national", "card")
    synth = Synth(seed=1901)
    [arrival] = synth.japanese_arrivals(1, numbered=True)
    # Back from abroad (no 転出証明書情報 to match the name given here against).
    arrival["resident"].update(name_kanji=REGISTER, name_kana="ワタナベ　タロウ",
                               previous_address={"text": "アメリカ合衆国"})
    code = arrival["resident_code"]
    assert e.client().post("/v1/changes", arrival)[0] == 201
    e.wait_applied(1)
    _, held = e.control("GET", f"/identities/{code}")
    assert (held["name_kanji"], held["name_gaiji_count"], held["gaiji_flag"]) == (
        UNIFIED, 1, True)

    staff = e.staff("op1901")
    status, batch = staff.post("/v1/send-destination-batches", {"residents": [code]})
    assert status == 202, batch
    status, shown = staff.get(f"/v1/send-destination-batches/{batch['batch_id']}?wait=30")
    assert shown["state"] == "delivered", shown
    _, sent = e.other_control("card", "GET", f"/send-batches/{batch['batch_id']}")
    [item] = sent["items"]
    assert (item["name"], item["name_len"], item["name_gaiji"]) == (UNIFIED, 5, 1)
    assert (item["substitution_result"], item["substitute_name"],
            item["substitute_name_positions"]) == ("1", "渡邉　太郎", "01000")

    # 転出証明書情報 from J-LIS (unified characters) reaches the register in its codes.
    e.other_control("national", "POST", "/push", {"moving_out": {
        "certificate_number": "T-IVS-1", "from_municipality_code": "131016",
        "resident_code": "12345678903", "name_kanji": "渡邉\U000e0102　花子",
        "name_kana": "ワタナベ　ハナコ", "birth_date": "1990-01-02", "sex": "2",
        "former_address": "東京都千代田区千代田１番", "planned_address": "静岡県沼津市大手町１番",
        "moving_out_date": synth.today.isoformat()}})
    e.other_control("national", "GET", "/wait?pushes_settled=1")
    status, inbox = e.client().get("/v1/inbox?kind=national.moving_out")
    assert status == 200
    assert [i["document"]["name_kanji"] for i in inbox["items"]] == ["渡\ue003　花子"]
