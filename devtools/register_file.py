"""Synthetic register files for the initial load (``jukihub load``), for the tests and the
bench: households of one to four people at one address in Numazu, valid codes and
check digits, a share of foreign residents, 個人番号 with or without their
団体内統合宛名番号, and, on request, rows planted with one fault each (the rule each must
be refused by is returned with its line).  Fast enough for a city: no Faker, names drawn
from short lists.  Nothing here is a real person.

``held_by_peers`` reads a register file as the outside systems would already hold its
residents — the prefecture's and J-LIS's identity information, the intermediate
server's 副本 (of those whose 団体内統合宛名番号 the file gives), the ministry's notices
of foreign residents — for the mock endpoints' ``POST /seed`` and ``POST /persons``
(``seed_mocks``).  It reads the file on its own, not through the hub's load: a
consistency check after the load then compares what the hub stored with what the file
says.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import random
from collections.abc import Callable, Container
from pathlib import Path
from typing import Any

from devtools.synthetic import FOREIGN, NUMAZU, NUMAZU_TOWNS
from protocols.charconv import gaiji_count, seion_kana
from protocols.codes import individual_number_check_digit, resident_code_check_digit
from protocols.identity import IdentityRecord, IdentityUpdate, encode_identity_update
from protocols.intermediate import CopyUpdate, encode_copy_update
from protocols.moj import ForeignResidentNotice, encode_notice

HEADER = ("resident_code", "atena_number", "household_number", "relationship", "name_kanji",
          "name_kana", "birth_date", "sex", "resident_type", "municipality_code", "address",
          "aza_code", "postal_code", "became_resident_date", "address_set_date",
          "previous_municipality_code", "previous_address", "individual_number",
          "integrated_atena", "card_state", "card_state_date", "nationality",
          "article_30_45", "residence_status", "residence_period_end",
          "residence_card_number", "update_seq")
LAST = [("佐藤", "サトウ"), ("鈴木", "スズキ"), ("髙橋", "タカハシ"), ("田中", "タナカ"),
        ("渡邉", "ワタナベ"), ("山﨑", "ヤマザキ"), ("𠮷田", "ヨシダ"), ("伊藤", "イトウ"),
        ("小林", "コバヤシ"), ("加藤", "カトウ"), ("杉山", "スギヤマ"), ("望月", "モチヅキ")]
FIRST = [("太郎", "タロウ"), ("花子", "ハナコ"), ("翔", "ショウ"), ("美咲", "ミサキ"),
         ("大輔", "ダイスケ"), ("陽菜", "ヒナ"), ("蓮", "レン"), ("結衣", "ユイ"),
         ("健一", "ケンイチ"), ("由美", "ユミ"), ("悠真", "ユウマ"), ("さくら", "サクラ")]
FROM = [("131016", "東京都千代田区千代田1番1号"), ("221309", "静岡県静岡市葵区追手町9番6号"),
        ("222054", "静岡県三島市北田町4番47号"), ("141003", "神奈川県横浜市中区港町1丁目1番地")]
# The faults ``write_register`` can plant, and the rule each row must be refused by.
FAULTS = {
    "check_digit": "invalid_check_digit",
    "kana": "invalid_kana",
    "date": "invalid_date",
    "sex": "schema_invalid",
    "repeated_code": "resident_on_register",
    "repeated_number": "individual_number_in_use",
    "other_city": "address_outside_city",
    "fields": "wrong_field_count",
    "foreign_without_nationality": "missing_item",
    "update_seq": "update_seq_in_use",
}


def write_register(path: Path, n: int, seed: int = 190000, faults: int = 0,
                   integrated: float = 0.5, today: dt.date | None = None,
                   first_update_seq: int = 1, numbered: float = 0.8
                   ) -> list[tuple[int, str]]:
    """``n`` residents (and ``faults`` more rows, one planted fault each, spread through
    the file) into ``path``; returns (line, rule) of each planted row.  ``numbered``:
    the share with a 個人番号; ``integrated``: the share of those whose
    団体内統合宛名番号 the file gives."""
    rng = random.Random(seed)
    today = today or dt.date.today()
    kinds = list(FAULTS)
    every = max(1, n // max(1, faults)) if faults else 0
    planted: list[tuple[int, str]] = []
    rows: list[dict[str, Any]] = []  # a few earlier rows, to repeat their codes
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        line, made, household = 1, 0, None
        while made < n:
            if household is None or household["left"] == 0:
                household = _household(rng, made, today)
            row = _resident(rng, made, household, today, first_update_seq + made, integrated,
                            numbered)
            writer.writerow(tuple(row.get(c, "") for c in HEADER))
            line += 1
            made += 1
            if len(rows) < 50:
                rows.append(row)
            if every and len(planted) < faults and made % every == every // 2:
                kind = kinds[len(planted) % len(kinds)]
                bad = _faulty(rng, kind, made, household, rows, today)
                writer.writerow(bad)
                line += 1
                planted.append((line, FAULTS[kind]))
    return planted


def _household(rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    town, postal = rng.choice(NUMAZU_TOWNS)
    last = rng.choice(LAST)
    moved = today - dt.timedelta(days=rng.randint(30, 15000))
    return {"number": f"H{i:09d}", "last": last, "left": rng.choice((1, 1, 2, 2, 3, 4)),
            "address": f"静岡県沼津市{town}{rng.randint(1, 9)}丁目{rng.randint(1, 30)}番"
                       f"{rng.randint(1, 20)}号",
            "postal": postal, "aza": f"{rng.randint(1, 999):03d}0000", "moved": moved,
            "from": rng.choice(FROM) if rng.random() < 0.6 else None, "members": 0}


def code_of(i: int) -> str:
    body = f"{(i * 7919 + 12345) % 10**10:010d}"
    return body + resident_code_check_digit(body)


def number_of(i: int) -> str:
    body = f"{(i * 104729 + 777) % 10**11:011d}"
    return body + individual_number_check_digit(body)


def _resident(rng: random.Random, i: int, h: dict[str, Any], today: dt.date,
              update_seq: int, integrated: float, numbered: float = 0.8) -> dict[str, Any]:
    head = h["members"] == 0
    h["members"] += 1
    h["left"] -= 1
    first = rng.choice(FIRST)
    born = today - dt.timedelta(days=rng.randint(400 if head else 30, 32000))
    moved = max(h["moved"], born)
    row: dict[str, Any] = {
        "resident_code": code_of(i), "atena_number": f"A{i:012d}",
        "household_number": h["number"], "relationship": "世帯主" if head else rng.choice(
            ("妻", "夫", "子", "父", "母")),
        "name_kanji": f"{h['last'][0]}　{first[0]}", "name_kana": f"{h['last'][1]}　{first[1]}",
        "birth_date": born.isoformat(), "sex": rng.choice("12"), "resident_type": "japanese",
        "municipality_code": NUMAZU, "address": h["address"], "aza_code": h["aza"],
        "postal_code": h["postal"], "became_resident_date": moved.isoformat(),
        "address_set_date": moved.isoformat(), "update_seq": update_seq}
    if h["from"] is not None and moved > born:
        row["previous_municipality_code"], row["previous_address"] = h["from"]
    if rng.random() < numbered:
        row["individual_number"] = number_of(i)
        if rng.random() < integrated:
            row["integrated_atena"] = f"{i + 1:015d}"
        if rng.random() < 0.3:
            row["card_state"] = "issued"
            row["card_state_date"] = (today - dt.timedelta(days=rng.randint(1, 900))).isoformat()
    if rng.random() < 0.03:
        country, status = rng.choice(FOREIGN)
        row.update(resident_type="foreign", nationality=country, article_30_45="1",
                   residence_status=status,
                   residence_period_end=(today + dt.timedelta(days=700)).isoformat(),
                   residence_card_number=f"AB{i % 10**8:08d}CD")
        row.pop("previous_municipality_code", None)
        if "previous_address" in row:
            row["previous_address"] = country  # from abroad: no 市町村コード
    return row


def _faulty(rng: random.Random, kind: str, i: int, h: dict[str, Any],
            earlier: list[dict[str, Any]], today: dt.date) -> tuple[Any, ...]:
    """A row with one fault of ``kind`` (its own new codes otherwise)."""
    j = 10**9 + i  # codes no good row has
    row = _resident(rng, j, dict(h, members=1, left=1), today, 2 * 10**9 + i, 0.0)
    row.pop("integrated_atena", None)
    row.update(resident_type="japanese")
    for k in ("nationality", "article_30_45", "residence_status", "residence_period_end",
              "residence_card_number"):
        row.pop(k, None)
    if kind == "check_digit":
        code = row["resident_code"]
        row["resident_code"] = code[:10] + str((int(code[10]) + 1) % 10)
    elif kind == "kana":
        row["name_kana"] = "さとう　はなこ"
    elif kind == "date":
        row["birth_date"] = "2001-02-30"
    elif kind == "sex":
        row["sex"] = "3"
    elif kind == "repeated_code":
        row["resident_code"] = earlier[0]["resident_code"]
    elif kind == "repeated_number":
        holder = next(r for r in earlier if "individual_number" in r)
        row["individual_number"] = holder["individual_number"]
        row.pop("card_state", None)
    elif kind == "other_city":
        row["municipality_code"] = "131016"
    elif kind == "fields":
        return tuple(row.get(c, "") for c in HEADER[:-3])
    elif kind == "foreign_without_nationality":
        row["resident_type"] = "foreign"
        row.pop("previous_municipality_code", None)
        row.pop("previous_address", None)
    elif kind == "update_seq":
        row["update_seq"] = earlier[1]["update_seq"]
    return tuple(row.get(c, "") for c in HEADER)


# ---- what the outside systems hold of a file's residents ------------------------------------


def held_by_peers(path: Path, skip: Container[int] = frozenset()
                  ) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """The documents each mock holds of the file's residents (by link, base64 for
    ``POST /seed``) and J-LIS's persons (``POST /persons``); rows whose first line is in
    ``skip`` (planted faults) are left out.  The file must give each 更新順番号: the
    outside systems chain the next change to it."""
    docs: dict[str, list[str]] = {"prefecture": [], "intermediate": [], "moj": []}
    persons: list[dict[str, Any]] = []
    now = dt.datetime.now().replace(microsecond=0)
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        last = reader.line_num
        for cells in reader:
            first, last = last + 1, reader.line_num
            if first in skip:
                continue
            v = {k: x for k, x in cells.items() if x}
            if "update_seq" not in v:
                raise ValueError(f"line {first}: no update_seq: the outside systems' "
                                 "copies chain on from it")
            record = _record(v, first, now)
            docs["prefecture"].append(_b64(encode_identity_update(
                IdentityUpdate(record, None))))
            persons.append({k: getattr(record, k) for k in (
                "resident_code", "individual_number", "municipality_code", "name_kanji",
                "name_kana", "sex", "address", "record_status", "update_seq")}
                | {"birth_date": record.birth_date.isoformat()})
            reason = v.get("reason") or ("move_in" if "previous_address" in v else "birth")
            event = v.get("event_date") or v["address_set_date"]
            if "integrated_atena" in v:
                docs["intermediate"].append(_b64(encode_copy_update(CopyUpdate(
                    v["integrated_atena"], record.update_seq, None, v["municipality_code"],
                    reason, event, v["name_kanji"], v["name_kana"], v["birth_date"],
                    v["sex"], v["address"], v["household_number"], v["relationship"],
                    v["resident_type"], False))))
            if v["resident_type"] == "foreign":
                docs["moj"].append(_b64(encode_notice(ForeignResidentNotice(
                    record.update_seq, None, v["municipality_code"], v["resident_code"],
                    reason, dt.date.fromisoformat(event), v["name_kanji"], v["name_kana"],
                    v.get("common_name"), record.birth_date, v["sex"], v["nationality"],
                    v["article_30_45"], v.get("residence_status"),
                    dt.date.fromisoformat(v["residence_period_end"])
                    if "residence_period_end" in v else None,
                    v.get("residence_card_number"), v["address"], "active"))))
    return docs, persons


def _b64(document: bytes) -> str:
    return base64.b64encode(document).decode("ascii")


def _record(v: dict[str, str], line: int, now: dt.datetime) -> IdentityRecord:
    from protocols.identity import reason_code

    reason = v.get("reason") or ("move_in" if "previous_address" in v else "birth")
    day = dt.date.fromisoformat
    name, address = v["name_kanji"], v["address"]
    return IdentityRecord(
        resident_code=v["resident_code"], name_kanji=name, name_gaiji_count=gaiji_count(name),
        name_kana=v["name_kana"], name_seion_kana=seion_kana(v["name_kana"]) or None,
        birth_date=day(v["birth_date"]), sex=v["sex"],
        municipality_code=v["municipality_code"], aza_code=v.get("aza_code"),
        postal_code=v.get("postal_code"), address=address,
        address_gaiji_count=gaiji_count(address),
        individual_number=v.get("individual_number"),
        became_resident_date=day(v["became_resident_date"]),
        address_set_date=day(v["address_set_date"]), notified_date=None,
        previous_municipality_code=v.get("previous_municipality_code"),
        previous_address=v.get("previous_address"),
        previous_address_gaiji_count=gaiji_count(v.get("previous_address")),
        relationship=v["relationship"], reason=reason_code(reason),
        event_date=day(v.get("event_date") or v["address_set_date"]), reason_detail=None,
        old_resident_code=None, resident_code_used_date=None, request_id=f"seed-{line}",
        operator_id="seed", terminal_id="seed", update_seq=int(v["update_seq"]),
        abnormal_update_seq=None, update_prohibited=False, prospective=False,
        exclusive=False, gaiji_flag=gaiji_count(name) + gaiji_count(address) > 0,
        record_status="active", timestamp=now, old_surname_kanji=None,
        old_surname_gaiji_count=0, old_surname_kana=None, old_surname_gaiji_change_seq=None)


def seed_mocks(path: Path, control: Callable[[str, str, str, Any], tuple[int, Any]],
               skip: Container[int] = frozenset(), page: int = 1000) -> dict[str, int]:
    """Give each mock (``control(link, method, path, body)``: its control API) what it
    holds of the file's residents; how many documents each took."""
    docs, persons = held_by_peers(path, skip)
    seeded: dict[str, int] = {}
    lists: list[tuple[str, list[Any]]] = [*docs.items(), ("national", persons)]
    for link, bodies in lists:
        for i in range(0, len(bodies), page):
            route = "/persons" if link == "national" else "/seed"
            status, answer = control(link, "POST", route, bodies[i : i + page])
            if status != 200:
                raise RuntimeError(f"{link} refused the seed: {answer}")
        seeded[link] = len(bodies)
    return seeded
