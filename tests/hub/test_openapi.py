"""The compiled contract (fastjsonschema) gives the same verdicts as openapi-core, the
reference implementation, on the same document: valid requests and mutations of them,
parameters, and answers."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import random
from typing import Any

import pytest
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError

from devtools.synthetic import Synth
from hub.api.openapi import OPENAPI_PATH, Contract, ResponseMismatch
from hub.domain.errors import RequestError

REFERENCE = OpenAPI.from_file_path(str(OPENAPI_PATH))
CONTRACT = Contract()
SERVER = "https://127.0.0.1:8443"


@dataclasses.dataclass
class _Request:  # openapi-core's Request protocol
    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters


@dataclasses.dataclass
class _Response:
    status_code: int
    data: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = dataclasses.field(
        default_factory=lambda: {"Content-Type": "application/json"})


def reference_ok(path: str, template: str, method: str, body: Any,
                 path_params: dict[str, str] | None = None,
                 query: dict[str, str] | None = None) -> bool:
    raw = json.dumps(body).encode() if body is not None else None
    req = _Request(SERVER, path, method.lower(), raw, "application/json",
                   RequestParameters(path=path_params or {}, query=query or {}))
    try:
        REFERENCE.validate_request(req)
        return True
    except OpenAPIError:
        return False


def ours_ok(method: str, template: str, body: Any, path_params: dict[str, str] | None = None,
            query: dict[str, str] | None = None) -> bool:
    op = CONTRACT.operation(method, template)
    try:
        op.check_parameters(path_params or {}, query or {})
        if body is not None:
            op.check_body(body)
        return True
    except RequestError:
        return False


_VALUES = [None, True, 0, -1, 3.5, "", "x", "2026-13-45", "move_in", [], {}, ["a"], {"a": 1},
           "1" * 200]


def _mutants(obj: Any, rng: random.Random, n: int) -> list[Any]:
    """``n`` copies of ``obj``, each with one place changed: a key removed, a value
    replaced by one of another type or form, a key added."""
    out = []
    for _ in range(n):
        m = copy.deepcopy(obj)
        node, parents = m, []
        while isinstance(node, dict) and node and rng.random() < 0.6:
            key = rng.choice(sorted(node))
            if not isinstance(node[key], dict):
                break
            parents.append(node)
            node = node[key]
        if not isinstance(node, dict) or not node:
            out.append(m)
            continue
        action = rng.choice(["drop", "replace", "add"])
        key = rng.choice(sorted(node))
        if action == "drop":
            del node[key]
        elif action == "replace":
            node[key] = rng.choice(_VALUES)
        else:
            node[f"extra_{rng.randint(0, 9)}"] = rng.choice(_VALUES)
        out.append(m)
    return out


def test_changes_and_their_mutants_get_the_same_verdict() -> None:
    rng = random.Random(5)
    synth = Synth(seed=31, today=dt.date(2026, 11, 27))
    changes = list(synth.stream(60))
    samples = changes + [m for c in changes for m in _mutants(c, rng, 8)]
    verdicts = [ours_ok("POST", "/v1/changes", s) for s in samples]
    assert verdicts == [reference_ok("/v1/changes", "/v1/changes", "POST", s) for s in samples]
    assert any(verdicts) and not all(verdicts)  # both kinds were tried


def test_batches_card_events_and_staff_bodies_get_the_same_verdict() -> None:
    rng = random.Random(6)
    synth = Synth(seed=32, today=dt.date(2026, 11, 27))
    cases: list[tuple[str, Any]] = [
        ("/v1/changes/batch", {"changes": list(synth.stream(5))}),
        ("/v1/changes/batch", {"changes": []}),
        ("/v1/card-events", {"request_id": "C-1", "operator_id": "op", "terminal_id": "t",
                             "resident_code": "12345678903", "event": "issue",
                             "event_date": "2026-11-27"}),
        ("/v1/queries/identity", {"name_kana": "ヤマダ", "birth_date": "1990-01-01"}),
        ("/v1/send-destination-batches", {"residents": ["12345678903"]}),
        ("/v1/consistency-checks", {"links": ["prefecture"]}),
        ("/v1/sessions", {"user_id": "op001", "password": "a password"}),
    ]
    for path, body in cases:
        for sample in [body, *_mutants(body, rng, 10)]:
            assert ours_ok("POST", path, sample) == reference_ok(path, path, "POST", sample), (
                path, sample)


@pytest.mark.parametrize("query", [{}, {"limit": "10"}, {"limit": "0"}, {"limit": "x"},
                                   {"state": "new"}, {"state": "gone"}, {"after": "-1"},
                                   {"after": "5", "kind": "moj.residence_change"}])
def test_query_parameters_get_the_same_verdict(query: dict[str, str]) -> None:
    assert ours_ok("GET", "/v1/inbox", None, query=query) == reference_ok(
        "/v1/inbox", "/v1/inbox", "GET", None, query=query)


@pytest.mark.parametrize("item_id", ["1", "0", "x", "999999"])
def test_path_parameters_get_the_same_verdict(item_id: str) -> None:
    path = f"/v1/inbox/{item_id}"
    assert ours_ok("GET", "/v1/inbox/{item_id}", None, {"item_id": item_id}) == reference_ok(
        path, "/v1/inbox/{item_id}", "GET", None, {"item_id": item_id})


@pytest.mark.parametrize("status,body", [
    (201, {"request_id": "R1", "status": "accepted", "update_seq": 3, "links": ["moj"]}),
    (201, {"request_id": "R1", "status": "accepted", "update_seq": 0, "links": []}),
    (201, {"request_id": "R1", "status": "accepted", "links": []}),
    (400, {"error": {"code": "invalid_kana", "message": "m", "item": "name_kana"}}),
    (400, {"error": {"code": "invalid_kana"}}),
    (418, {"error": {"code": "x", "message": "m"}}),
])
def test_answers_get_the_same_verdict(status: int, body: dict[str, Any]) -> None:
    req = _Request(SERVER, "/v1/changes", "post", b"{}", "application/json",
                   RequestParameters())
    try:
        REFERENCE.validate_response(req, _Response(status, json.dumps(body).encode()))
        reference = True
    except OpenAPIError:
        reference = False
    try:
        CONTRACT.operation("POST", "/v1/changes").check_response(status, body)
        ours = True
    except ResponseMismatch:
        ours = False
    assert ours == reference


def test_a_refusal_names_the_place_and_rule_never_the_value() -> None:
    secret = "山田　太郎の住所"
    bad = {"request_id": "R1", "operator_id": "op", "terminal_id": "t", "reason": secret,
           "event_date": "2026-11-27", "resident_code": "12345678903"}
    with pytest.raises(RequestError) as err:
        CONTRACT.operation("POST", "/v1/changes").check_body(bad)
    assert (err.value.code, err.value.item) == ("schema_invalid", "reason")
    assert err.value.message == "body/reason fails the schema rule 'enum'"
    del bad["resident_code"]
    with pytest.raises(RequestError) as err:
        CONTRACT.operation("POST", "/v1/changes").check_body(bad)
    assert err.value.item == "resident_code" and secret not in err.value.message


# ---- every input bounded, every status documented ---------------------------------------

STORE_INTEGER_MAX = 2**31 - 1  # the store's INTEGER (PostgreSQL's int4)


def _unbounded(schema: dict[str, Any], where: str) -> list[str]:
    """Places in a request schema an input is not bounded: a string without maxLength (or
    an enum), a number without both limits (integers within the store's INTEGER), an
    array without maxItems, an object that takes any key."""
    kind, out = schema.get("type"), []
    if "enum" in schema:
        return []
    if kind == "string" and "maxLength" not in schema:
        out.append(f"{where}: a string without maxLength")
    elif kind in ("integer", "number"):
        if "minimum" not in schema or "maximum" not in schema:
            out.append(f"{where}: a {kind} without minimum and maximum")
        elif kind == "integer" and schema["maximum"] > STORE_INTEGER_MAX:
            out.append(f"{where}: an integer the store cannot hold")
    elif kind == "array":
        if "maxItems" not in schema:
            out.append(f"{where}: an array without maxItems")
        out += _unbounded(schema.get("items", {}), f"{where}[]")
    elif kind == "object":
        if schema.get("additionalProperties", True) is not False:
            out.append(f"{where}: an object that takes any key")
        for key, sub in schema.get("properties", {}).items():
            out += _unbounded(sub, f"{where}.{key}")
    elif kind is None:
        out.append(f"{where}: no type")
    return out


def test_every_input_of_every_operation_is_bounded() -> None:
    problems = []
    for (method, template), _op in CONTRACT.operations.items():
        spec = CONTRACT.document["paths"][template][method.lower()]
        for param in spec.get("parameters", []):
            problems += _unbounded(CONTRACT._resolve(param["schema"]),
                                   f"{method} {template} {param['name']}")
        if (body := spec.get("requestBody")) is not None:
            problems += _unbounded(CONTRACT._resolve(
                body["content"]["application/json"]["schema"]), f"{method} {template} body")
    assert problems == []


def test_every_status_the_dispatch_can_answer_is_documented() -> None:
    """Whatever the handler: a refused certificate or right (403), a staff terminal
    without a session (401, where terminals may call), a bad query or body (400), a
    body of the wrong type or size (415, 413), the store or the hub too busy (503), a
    fault of the hub (500)."""
    from hub.api.routes import ROUTES

    missing = []
    for route in ROUTES:
        spec = CONTRACT.document["paths"][route.path][route.method.lower()]
        want = {"400", "403", "500", "503"} | ({"401"} if route.submit is None else set())
        if "requestBody" in spec:
            want |= {"413", "415"}
        missing += [f"{route.method} {route.path} {s}" for s in sorted(want - set(spec["responses"]))]
    assert missing == []


@pytest.mark.parametrize("text", ["1_0", " 1", "1 ", "+1", "\u0661", "0x10", "1.0", "",
                                  "9" * 21, "１"])
def test_integer_parameters_are_plain_ascii_digits(text: str) -> None:
    op = CONTRACT.operation("GET", "/v1/inbox")
    with pytest.raises(RequestError) as err:
        op.check_parameters({}, {"after": text})
    assert err.value.code == "schema_invalid" and err.value.item == "after"


@pytest.mark.parametrize(("text", "ok"), [
    ("2147483647", True), ("2147483648", False), ("9223372036854775808", False),
    ("18446744073709551616", False), ("0", True), ("-1", False)])
def test_integer_parameters_stop_at_what_the_store_holds(text: str, ok: bool) -> None:
    assert ours_ok("GET", "/v1/inbox", None, query={"after": text}) is ok
    assert ours_ok("POST", "/v1/inbox/{item_id}/ack", {}, path_params={"item_id": text}
                   ) is (ok and text != "0")


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "1e400"])
def test_number_parameters_are_finite(text: str) -> None:
    """A ``wait`` of ``nan`` once passed every bound (``nan < 0`` and ``nan > 120`` are
    both false) and held a request open for ever."""
    op = CONTRACT.operation("GET", "/v1/consistency-checks/{check_id}")
    with pytest.raises(RequestError):
        op.check_parameters({"check_id": "C0000000001"}, {"wait": text})


@pytest.mark.parametrize("raw", [b'{"on": NaN}', b'{"on": Infinity}', b'{"on": -Infinity}',
                                 b'{"on": 1e999}', b"[" * 100_000 + b"]" * 100_000,
                                 '{"on": true}'.encode("utf-16"), b"\xff\xfe", b""])
def test_bodies_are_strict_json(raw: bytes) -> None:
    from hub.api.openapi import decode_json

    with pytest.raises(RequestError) as err:
        decode_json(raw)
    assert err.value.code == "invalid_json"


def test_a_literal_path_is_never_a_templates_value_and_405_names_every_method() -> None:
    """Found by schemathesis: ``GET /v1/residents/search`` was taken for the resident
    ``search`` (and answered as such), and a 405 on ``/v1/manual-answers/{id}`` named
    one of its two methods."""
    from hub.api.routes import ROUTES, match, methods_of

    found = match("GET", "/v1/residents/search")
    assert found is not None and (found[0].method, found[0].path) == (
        "POST", "/v1/residents/search")  # a 405, not a read of a resident
    found = match("GET", "/v1/residents/12345678901")
    assert found is not None and found[1] == {"resident_code": "12345678901"}
    assert methods_of("/v1/manual-answers/{item_id}") == ["POST", "GET"]
    assert methods_of("/v1/sessions/current") == ["GET", "DELETE"]
    for route in ROUTES:  # every route is found by its own path and method
        concrete = route.path.replace("{", "").replace("}", "")
        hit = match(route.method, concrete)
        assert hit is not None and hit[0] is route, route.path
