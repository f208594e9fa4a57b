"""Every logic rule (論理チェック, ``hub/domain/rules.py``, and the card rules of
``hub/domain/cards.py``) proven through the intake: a change or card event posted over
mutual TLS that the rule refuses answers 422 with the rule's code, and nothing is
written (no resident, identity record, message, request id, card event).  One hub for
the module; each case makes the residents (and the cards) it needs."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.harness import Env
from devtools.synthetic import OTHER_CITIES, Synth, individual_number
from hub.domain import cards, households, rules

TABLES = ("residents", "identity_records", "outbox", "request_ids", "card_events")
OTHER = "孫"  # a 続柄 the synthetic residents never start with: always a change


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, certs_dir: Path) -> Iterator[Env]:
    e = Env(tmp_path_factory.mktemp("rules"), certs_dir)
    e.start_mocks({})
    e.start_hub()
    yield e
    e.stop()


class Case:
    """A resident or two on the register, then the change a rule must refuse."""

    def __init__(self, env: Env, seed: int) -> None:
        self.env, self.synth, self.client = env, Synth(seed=seed), env.client()

    def post(self, change: dict[str, Any]) -> dict[str, Any]:
        status, body = self.client.post("/v1/changes", change)
        assert status == 201, body
        return change

    def arrive(self, numbered: bool = False) -> dict[str, Any]:
        """A Japanese resident moving in: with a 個人番号, or (``numbered`` false) none."""
        [a] = self.synth.japanese_arrivals(1, numbered=numbered)
        if not numbered:
            a["resident"].pop("individual_number", None)
        return self.post(a)

    def change(self, reason: str, arrival: dict[str, Any], **resident: Any) -> dict[str, Any]:
        person = next(p for p in self.synth.people if p.code == arrival["resident_code"])
        return self.synth.change(reason, person, **resident)


def _existing_move_in(c: Case) -> dict[str, Any]:
    a = c.arrive()
    again = copy.deepcopy(a)
    again["request_id"] += "-again"
    return again


def _birth_of_existing(c: Case) -> dict[str, Any]:
    a = c.arrive()
    birth = copy.deepcopy(a)
    birth.update(request_id=a["request_id"] + "-b", reason="birth",
                 event_date=a["resident"]["birth_date"])
    birth["resident"].pop("previous_address")
    return birth


def _card_event(c: Case, code: str, event: str) -> dict[str, Any]:
    return {"request_id": f"{c.synth._rid()}-card", "operator_id": "op1",
            "terminal_id": "t1", "resident_code": code, "event": event,
            "event_date": c.synth.today.isoformat()}


def _card(event: str, numbered: bool = False, then: str | None = None,
          before: tuple[str, ...] = ()) -> Callable[[Case], dict[str, Any]]:
    """A card ``event`` for a resident who arrived (``numbered`` or not), after their
    ``then`` change (a 転出: a removed record) and the card events ``before`` (each
    accepted), or for nobody on the register."""
    def make(c: Case) -> dict[str, Any]:
        if then == "nobody":
            return _card_event(c, _unknown(c)["resident_code"], event)
        a = c.arrive(numbered=numbered)
        for earlier in before:
            status, body = c.client.post("/v1/card-events",
                                         _card_event(c, a["resident_code"], earlier))
            assert status == 201, body
        if then is not None:
            c.post(c.change(then, a))
        return _card_event(c, a["resident_code"], event)
    return make


def _removed_then(c: Case) -> dict[str, Any]:
    a = c.arrive()
    c.post(c.change("move_out", a))
    return c.change("move_within", a, **c.synth.move_within_items())


def _moving(c: Case, **items: Any) -> dict[str, Any]:
    """A 転居 of a resident who arrived, its items overridden by ``items``."""
    return c.change("move_within", c.arrive(), **{**c.synth.move_within_items(), **items})


def _unknown(c: Case) -> dict[str, Any]:
    person = c.synth.new_person()
    c.synth.people.append(person)
    return c.synth._base("death", person)


def _other_city_address() -> dict[str, str]:
    code, text = OTHER_CITIES[1]
    return {"municipality_code": code, "text": text}


def _outside_city(c: Case) -> dict[str, Any]:
    [a] = c.synth.japanese_arrivals(1)
    a["resident"]["address"] = _other_city_address()
    return a


def _number_in_use(c: Case) -> dict[str, Any]:
    holder = c.arrive(numbered=True)
    [a] = c.synth.japanese_arrivals(1)
    a["resident"]["individual_number"] = holder["resident"]["individual_number"]
    return a


def _atena_in_use(c: Case) -> dict[str, Any]:
    holder = c.arrive()
    [a] = c.synth.japanese_arrivals(1)
    a["resident"]["atena_number"] = holder["resident"]["atena_number"]
    return a


def _another_number(c: Case) -> dict[str, Any]:
    a = c.arrive(numbered=True)
    return c.change("number_designation", a, individual_number=individual_number(c.synth.rng))


def _household(c: Case, *relationships: str) -> list[dict[str, Any]]:
    """A 世帯 arriving together: one member per 続柄 given, at one address."""
    arrivals = c.synth.household(*relationships)
    for a in arrivals:
        c.post(a)
    return arrivals


def _joining(c: Case, relationship: str, same_address: bool = True) -> dict[str, Any]:
    """A resident (living alone) joining another household as ``relationship``."""
    [head] = _household(c, "世帯主")
    [b] = c.synth.japanese_arrivals(1)
    if same_address:
        b["resident"]["address"] = head["resident"]["address"]
    c.post(b)
    return c.change("household_change", b, relationship=relationship,
                    household_number=head["resident"]["household_number"])


# rule -> how to make a change it refuses (after what it needs is on the register)
CASES: dict[str, Callable[[Case], dict[str, Any]]] = {
    "move_in_existing_resident": _existing_move_in,
    "birth_existing_resident": _birth_of_existing,
    "unknown_resident": _unknown,
    "change_to_removed_record": _removed_then,
    "move_within_changes_more_than_address": lambda c: _moving(c, relationship=OTHER),
    "move_within_leaves_city": lambda c: _moving(c, address=_other_city_address()),
    "address_outside_city": _outside_city,
    "name_change_changes_more_than_name": lambda c: c.change(
        "name_change", c.arrive(), name_kanji="沼津　一郎", name_kana="ヌマヅ　イチロウ",
        relationship=OTHER),
    "number_designation_changes_more_than_number": lambda c: c.change(
        "number_designation", c.arrive(), individual_number=individual_number(c.synth.rng),
        relationship=OTHER),
    "individual_number_already_designated": _another_number,
    "foreign_items_for_japanese_resident": lambda c: c.change(
        "correction", c.arrive(), foreign={"nationality": "ブラジル"}),
    "foreign_items_missing": lambda c: c.change(
        "correction", c.arrive(), resident_type="foreign"),
    "individual_number_in_use": _number_in_use,
    "atena_number_in_use": _atena_in_use,
    "correction_sets_individual_number": lambda c: c.change(
        "correction", c.arrive(), individual_number=individual_number(c.synth.rng)),
    "special_move_out_without_card": lambda c: c.change("move_out", c.arrive(numbered=True),
                                                        moving_out=_special_to_tokyo(c)),
    # 世帯 (hub/domain/households.py)
    "household_unchanged": lambda c: (lambda h: c.change(
        "household_change", h[1], relationship="子",
        household_number=h[1]["resident"]["household_number"]))(_household(c, "世帯主", "妻")),
    "household_head_leaves_members": lambda c: c.change(
        "household_change", _household(c, "世帯主", "妻")[0], relationship="世帯主",
        household_number="HNEW-LEAVES"),
    "household_without_head": lambda c: c.change(
        "household_change", _household(c, "世帯主")[0], relationship="子",
        household_number="HNEW-NOHEAD"),
    "household_head_exists": lambda c: _joining(c, "世帯主"),
    "household_at_another_address": lambda c: _joining(c, "子", same_address=False),
    "already_household_head": lambda c: c.change(
        "household_head_change", _household(c, "世帯主", "妻")[0]),
    "former_head_relationship_missing": lambda c: c.change(
        "household_head_change", _household(c, "世帯主", "妻")[1]),
    "no_former_head": lambda c: c.change(
        "household_head_change", _household(c, "子")[0], former_head_relationship="父"),
}
# Rules whose case needs another outside system than the prefecture: proven in the
# module named, which must hold the rule's code in a test.
ELSEWHERE = {"move_in_contradicts_certificate": "test_moves.py",
             "resident_code_in_use": "test_resident_codes.py"}


def _special_to_tokyo(c: Case) -> dict[str, Any]:
    code, text = OTHER_CITIES[0]
    return {"planned_date": c.synth.today.isoformat(), "municipality_code": code,
            "address": text, "special": True}
CARD_CASES: dict[str, Callable[[Case], dict[str, Any]]] = {
    "no_individual_number": _card("issue"),
    "unknown_resident": _card("issue", then="nobody"),
    "change_to_removed_record": _card("issue", numbered=True, then="move_out"),
    # The card's life (protocols.card.LIFE): each event out of order.
    "card_already_issued": _card("issue", numbered=True, before=("issue",)),
    "card_not_in_use": _card("suspend", numbered=True),
    "card_not_in_use (collect)": _card("collect", numbered=True,
                                       before=("issue", "suspend")),
    "card_not_suspended": _card("suspend_lift", numbered=True, before=("issue",)),
    "card_not_issued": _card("revoke", numbered=True),
    "card_not_issued (return)": _card("return", numbered=True,
                                      before=("issue", "revoke")),
}


def _counts(env: Env) -> dict[str, int]:
    return {t: env.read_store(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def _named(doc: str | None) -> set[str]:
    """The rule codes a module's docstring lists (``- ``code``  …`` lines)."""
    return {part.split("``")[0] for line in (doc or "").splitlines()
            if line.startswith("- ``") for part in line.split("- ``")[1:][0].split(", ``")}


def test_every_rule_has_a_case() -> None:
    """A new rule without a case here fails: the rules named in the docstrings of
    rules.py, households.py and cards.py."""
    changes = _named(rules.__doc__) | _named(households.__doc__)
    card_events = _named(cards.__doc__)
    assert changes - set(CASES) - set(ELSEWHERE) == set()
    for rule, module in ELSEWHERE.items():
        assert f'"{rule}"' in (Path(__file__).parent / module).read_text(), (rule, module)
    assert card_events - {k.split(" ")[0] for k in CARD_CASES} == set()


@pytest.mark.parametrize("rule", sorted(CASES))
def test_a_change_the_rule_refuses_answers_its_code_and_writes_nothing(hub: Env,
                                                                      rule: str) -> None:
    case = Case(hub, seed=1600 + sorted(CASES).index(rule))
    change = CASES[rule](case)
    before = _counts(hub)
    status, body = case.client.post("/v1/changes", change)
    assert (status, body.get("error", {}).get("code")) == (422, rule), body
    assert _counts(hub) == before


@pytest.mark.parametrize("rule", sorted(CARD_CASES))
def test_a_card_event_the_rule_refuses_answers_its_code_and_writes_nothing(
        hub: Env, rule: str) -> None:
    case = Case(hub, seed=1700 + sorted(CARD_CASES).index(rule))
    event = CARD_CASES[rule](case)
    before = _counts(hub)
    status, body = case.client.post("/v1/card-events", event)
    assert (status, body.get("error", {}).get("code")) == (422, rule.split(" ")[0]), body
    assert _counts(hub) == before


def test_the_cards_state_is_on_the_record_and_in_the_search(hub: Env) -> None:
    c = Case(hub, seed=1800)
    a = c.arrive(numbered=True)
    code = a["resident_code"]
    for event in ("issue", "suspend"):
        assert c.client.post("/v1/card-events", _card_event(c, code, event))[0] == 201
    clerk = hub.staff("clerk-cards", "window_clerk")
    status, record = clerk.get(f"/v1/residents/{code}")
    assert status == 200 and record["card_state"] == "suspended", record
    assert record["card_state_date"] == c.synth.today.isoformat()
    status, found = clerk.post("/v1/residents/search", {"resident_code": code})
    assert status == 200 and [m["card_state"] for m in found["matches"]] == ["suspended"]
    assert c.client.post("/v1/card-events", _card_event(c, code, "suspend_lift"))[0] == 201
    assert clerk.get(f"/v1/residents/{code}")[1]["card_state"] == "issued"
