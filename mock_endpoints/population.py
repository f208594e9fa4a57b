"""Synthetic people: names with kana from Faker's ja_JP locale, valid 住民票コード and
個人番号.  The national mock fills its register of the rest of the country with them
(``seed_others``); the dev tools' synthetic changes are built on the same ``Person``.
Nothing here is a real person.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from faker import Faker

from protocols.codes import individual_number_check_digit, resident_code_check_digit

# Municipalities other than the city, with an address in each (市町村コード, 住所).
OTHER_CITIES = [("131016", "東京都千代田区千代田１番"), ("221309", "静岡県浜松市中区元城町１０３番地"),
                ("222054", "静岡県三島市北田町４番４７号"), ("011002", "北海道札幌市中央区北一条西２丁目")]


def resident_code(rng: random.Random) -> str:
    body = "".join(str(rng.randint(0, 9)) for _ in range(10))
    return body + resident_code_check_digit(body)


def individual_number(rng: random.Random) -> str:
    body = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(10))
    return body + individual_number_check_digit(body)


@dataclass
class Person:
    code: str
    atena: str
    household: str
    name_kanji: str
    name_kana: str
    birth: dt.date
    sex: str
    number: str | None
    removed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def new_person(rng: random.Random, fake: Faker, today: dt.date, newborn: bool = False) -> Person:
    """A person with a name (kanji and kana), a birth date, codes; no 個人番号 if newborn."""
    sex = rng.choice("12")
    last = fake.last_name_pair()
    first = fake.first_name_male_pair() if sex == "1" else fake.first_name_female_pair()
    age_days = rng.randint(0, 20) if newborn else rng.randint(365, 90 * 365)
    return Person(code=resident_code(rng), atena=f"A{rng.getrandbits(48):012x}",
                  household=f"H{rng.randint(1, 99999999):08d}",
                  name_kanji=f"{last[0]}　{first[0]}", name_kana=f"{last[1]}　{first[1]}",
                  birth=today - dt.timedelta(days=age_days), sex=sex,
                  number=None if newborn else individual_number(rng))


def people_of_other_cities(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` people of the other cities, as the national mock's register holds them."""
    rng = random.Random(seed)
    fake = Faker("ja_JP")
    fake.seed_instance(seed)
    today = dt.date.today()
    rows = []
    for _ in range(n):
        p = new_person(rng, fake, today)
        code, text = rng.choice(OTHER_CITIES)
        rows.append({"resident_code": p.code, "individual_number": p.number,
                     "municipality_code": code, "name_kanji": p.name_kanji,
                     "name_kana": p.name_kana, "birth_date": p.birth.isoformat(),
                     "sex": p.sex, "address": f"{text}{rng.randint(1, 30)}番地",
                     "record_status": "active", "update_seq": None, "held_for": code})
    return rows
