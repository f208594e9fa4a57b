"""Synthetic but realistic residents and changes, for the demo, the tests and the bench.

Names with kana from Faker's ja_JP locale, addresses in Numazu (沼津市, 222038), valid
住民票コード and 個人番号 check digits.  Nothing here is a real person.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

from faker import Faker

from mock_endpoints.population import (
    OTHER_CITIES,
    Person,
    individual_number,
    new_person,
    resident_code,
)
from protocols.codes import municipality_code_check_digit

NUMAZU = "222038"
NUMAZU_TOWNS = [  # (町名, 郵便番号)
    ("大手町", "4100801"), ("御幸町", "4100056"), ("高島町", "4100055"), ("米山町", "4100046"),
    ("千本港町", "4100845"), ("我入道", "4100821"), ("岡宮", "4100011"), ("大岡", "4100022"),
    ("門池", "4100014"), ("西間門", "4100042"), ("原", "4100312"), ("今沢", "4100302"),
    ("香貫", "4100822"), ("下香貫", "4100822"), ("東椎路", "4100306"), ("江浦", "4100222"),
    ("戸田", "4103402"), ("本字千本", "4100848"),
]
RELATIONSHIPS = ["世帯主", "妻", "夫", "子", "父", "母"]
FOREIGN = [("ベトナム", "技能実習"), ("フィリピン", "永住者"), ("ブラジル", "定住者"),
           ("中国", "技術・人文知識・国際業務"), ("ネパール", "留学")]

assert municipality_code_check_digit(NUMAZU[:5]) == NUMAZU[5]
__all__ = ["NUMAZU", "OTHER_CITIES", "Person", "Synth", "individual_number", "resident_code"]


class Synth:
    """Makes changes for a growing population of synthetic residents."""

    def __init__(self, seed: int = 222038, today: dt.date | None = None) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker("ja_JP")
        self.fake.seed_instance(seed)
        self.today = today or dt.date.today()
        self.people: list[Person] = []
        self.serial = 0
        self.taken: set[str] = set()  # codes, numbers and 宛名番号 given out: never twice
        # 住民票コード -> a domestic arrival at the city they left, as J-LIS holds them
        self.former: dict[str, dict[str, Any]] = {}

    def _rid(self) -> str:
        self.serial += 1
        return f"R{self.rng.getrandbits(32):08x}-{self.serial:06d}"

    def _address(self) -> dict[str, Any]:
        town, postal = self.rng.choice(NUMAZU_TOWNS)
        block = f"{self.rng.randint(1, 9)}丁目{self.rng.randint(1, 30)}番{self.rng.randint(1, 20)}号"
        return {"municipality_code": NUMAZU, "postal_code": postal,
                "aza_code": f"{self.rng.randint(1, 999):03d}{self.rng.randint(0, 9999):04d}",
                "text": f"静岡県沼津市{town}{block}"}

    def _base(self, reason: str, person: Person) -> dict[str, Any]:
        return {"request_id": self._rid(), "operator_id": f"op{self.rng.randint(1, 20):03d}",
                "terminal_id": f"t{self.rng.randint(1, 8):02d}", "reason": reason,
                "event_date": (self.today - dt.timedelta(days=self.rng.randint(0, 5))).isoformat(),
                "notified_date": self.today.isoformat(), "resident_code": person.code}

    def new_person(self, newborn: bool = False) -> Person:
        """A new person whose 住民票コード, 宛名番号 and 個人番号 no one else of this
        generator has (random draws collide: among 100,000 people, 11-digit codes do
        about every other run)."""
        self.serial += 1
        while True:
            p = new_person(self.rng, self.fake, self.today, newborn)
            ids = {p.code, p.atena, *([p.number] if p.number else [])}
            if not ids & self.taken:
                self.taken |= ids
                return p

    def new_number(self) -> str:
        """A 個人番号 not given out before by this generator."""
        while (number := individual_number(self.rng)) in self.taken:
            pass
        self.taken.add(number)
        return number

    def arrival(self, newborn: bool = False) -> dict[str, Any]:
        """A 転入 (or 出生) of a new person."""
        p = self.new_person(newborn)
        change = self._base("birth" if newborn else "move_in", p)
        if newborn:
            change["event_date"] = p.birth.isoformat()
        resident: dict[str, Any] = {
            "atena_number": p.atena, "household_number": p.household,
            "name_kanji": p.name_kanji, "name_kana": p.name_kana,
            "birth_date": p.birth.isoformat(), "sex": p.sex,
            "relationship": "子" if newborn else self.rng.choice(RELATIONSHIPS),
            "resident_type": "foreign" if self.rng.random() < 0.03 else "japanese",
            "address": self._address(),
            # The register's own dates: the day of the 転入 (or birth), as it records them.
            "became_resident_date": change["event_date"],
            "address_set_date": change["event_date"]}
        if not newborn and self.rng.random() < 0.05:  # a 旧氏 on the 住民票
            last = self.fake.last_name_pair()
            resident["old_surname"] = {"kanji": last[0], "kana": last[1],
                                       "gaiji_change_seq": 0}
        if p.number:
            resident["individual_number"] = p.number
        if resident["resident_type"] == "foreign":
            country, status = self.rng.choice(FOREIGN)
            resident["foreign"] = {
                "nationality": country, "article_30_45": "1", "residence_status": status,
                "residence_period_end": (self.today + dt.timedelta(days=365 * 3)).isoformat(),
                "residence_card_number": "".join(self.rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
                                                 for _ in range(2))
                + f"{self.rng.randint(0, 99999999):08d}"
                + "".join(self.rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))}
        if not newborn and "foreign" in resident and self.rng.random() < 0.5:
            # from abroad: the 転入前住所 is the country, with no 市町村コード
            resident["previous_address"] = {"text": resident["foreign"]["nationality"]}
        elif not newborn:
            code, text = self.rng.choice(OTHER_CITIES)
            resident["previous_address"] = {"municipality_code": code, "text": text}
            self._left(p, code)
        change["resident"] = resident
        self.people.append(p)
        return change

    def japanese_arrivals(self, n: int, numbered: bool = False) -> list[dict[str, Any]]:
        """``n`` arrivals of Japanese residents; ``numbered``: each given a 個人番号
        (drawn after all of them, in order)."""
        arrivals = [self.arrival() for _ in range(n)]
        for a, person in zip(arrivals, self.people[-n:], strict=True):
            if numbered:
                person.number = self.new_number()
                a["resident"]["individual_number"] = person.number
            a["resident"]["resident_type"] = "japanese"
            a["resident"].pop("foreign", None)
            if "municipality_code" not in a["resident"]["previous_address"]:
                code, text = self.rng.choice(OTHER_CITIES)  # from a city in Japan
                a["resident"]["previous_address"] = {"municipality_code": code, "text": text}
            self._left(person, a["resident"]["previous_address"]["municipality_code"])
        return arrivals

    def household(self, *relationships: str, numbered: bool = False
                  ) -> list[dict[str, Any]]:
        """Japanese arrivals of one 世帯 at one address, one per 続柄 given (the first
        arrival's 世帯番号 and address for all)."""
        arrivals = self.japanese_arrivals(len(relationships), numbered=numbered)
        first = arrivals[0]["resident"]
        for a, relationship in zip(arrivals, relationships, strict=True):
            a["resident"].update(household_number=first["household_number"],
                                 address=first["address"], relationship=relationship)
        return arrivals

    def former_records(self) -> list[dict[str, Any]]:
        """Where each domestic arrival came from, as J-LIS holds them (its register of
        the country: ``POST /persons`` of the national mock), so a 転入 finds the former
        city's 転出証明書情報: the person at their former city, with their 個人番号, as
        they were when they arrived."""
        return list(self.former.values())

    def _left(self, p: Person, city: str) -> None:
        town = next(text for c, text in OTHER_CITIES if c == city)
        self.former[p.code] = {
            "resident_code": p.code, "individual_number": p.number, "municipality_code": city,
            "name_kanji": p.name_kanji, "name_kana": p.name_kana,
            "birth_date": p.birth.isoformat(), "sex": p.sex, "address": town,
            "record_status": "active", "update_seq": None, "held_for": city}

    def _living(self, lag: int = 0) -> Person | None:
        """One of the last 500 people still here, not among the ``lag`` newest."""
        recent = self.people[-500 - lag:len(self.people) - lag]
        alive = [p for p in recent if not p.removed]
        return self.rng.choice(alive) if alive else None

    def follow_up(self, lag: int = 0) -> dict[str, Any]:
        """A change for an existing resident: 転居, 氏名変更, 職権修正, 転出 or 死亡 — of
        one not among the ``lag`` newest people."""
        p = self._living(lag)
        if p is None:
            return self.arrival()
        kind = self.rng.choices(["move_within", "name_change", "correction", "move_out",
                                 "death"], [50, 15, 15, 15, 5])[0]
        return self.change(kind, p)

    def change(self, kind: str, p: Person, **resident: Any) -> dict[str, Any]:
        """A valid change of ``kind`` for ``p`` with the items the kind needs, or with
        ``resident`` as its items when given."""
        change = self._base(kind, p)
        if kind == "move_within":
            change["resident"] = self.move_within_items()
        elif kind == "name_change":
            last = self.fake.last_name_pair()
            given_kanji, given_kana = p.name_kanji.split("　")[1], p.name_kana.split("　")[1]
            p.name_kanji, p.name_kana = f"{last[0]}　{given_kanji}", f"{last[1]}　{given_kana}"
            change["resident"] = {"name_kanji": p.name_kanji, "name_kana": p.name_kana}
        elif kind == "correction":
            change["resident"] = {"relationship": self.rng.choice(RELATIONSHIPS)}
        elif kind == "move_out":
            change["resident"] = self.moving_out_items(change["event_date"])
        elif kind == "number_designation":
            change["resident"] = {"individual_number": self.new_number()}
        if resident:
            change["resident"] = resident
        if kind in ("move_out", "death"):
            p.removed = True
        return change

    def move_within_items(self) -> dict[str, Any]:
        """A 転居's items: the new address and the day it was set."""
        return {"address": self._address(),
                "address_set_date": (self.today - dt.timedelta(days=self.rng.randint(0, 5))
                                     ).isoformat()}

    def moving_out_items(self, planned: str) -> dict[str, Any]:
        """A 転出's items: where to (another city) and when."""
        code, text = self.rng.choice(OTHER_CITIES)
        return {"moving_out": {"planned_date": planned, "municipality_code": code,
                               "address": f"{text}{self.rng.randint(1, 30)}番地"}}

    def stream(self, n: int, arrivals: float = 0.5, lag: int = 0,
               ) -> Iterator[dict[str, Any]]:
        """``n`` valid changes: arrivals and births, then changes to the people made —
        with ``lag``, never to one of the ``lag`` newest (for a load that sends changes
        at their schedule, whether the arrival before them was answered or not)."""
        for _ in range(n):
            if len(self.people) <= lag or self.rng.random() < arrivals:
                yield self.arrival(newborn=self.rng.random() < 0.1)
            else:
                yield self.follow_up(lag)

    def invalid(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Changes the hub must refuse, each with the code it should refuse them by."""
        p = self._living() or self.new_person()
        bad = self._base("move_out", p)
        bad["resident_code"] = p.code[:10] + str((int(p.code[10]) + 1) % 10)
        yield "invalid_check_digit", bad
        again = self._base("move_in", p)
        again["resident"] = {"atena_number": p.atena, "household_number": p.household,
                             "name_kanji": p.name_kanji, "name_kana": p.name_kana,
                             "birth_date": p.birth.isoformat(), "sex": p.sex,
                             "relationship": "世帯主", "resident_type": "japanese",
                             "address": self._address(),
                             "became_resident_date": again["event_date"],
                             "address_set_date": again["event_date"],
                             # from abroad: refused by its rule, with no 転出証明書情報
                             "previous_address": {"text": "アメリカ合衆国"}}
        yield "move_in_existing_resident", again
        move = self._base("move_within", p)
        move["resident"] = {**self.move_within_items(), "name_kanji": "別人　太郎"}
        yield "move_within_changes_more_than_address", move
        kana = self._base("name_change", p)
        kana["resident"] = {"name_kanji": "山田　花子", "name_kana": "やまだ　はなこ"}
        yield "invalid_kana", kana
        unknown = self._base("death", self.new_person())
        yield "unknown_resident", unknown
        removed = next((x for x in self.people if x.removed), None)
        if removed is not None:
            late = self.change("move_within", removed)
            yield "change_to_removed_record", late
