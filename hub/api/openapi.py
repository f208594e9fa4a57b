"""The OpenAPI document (``openapi.yaml``) as the API's contract, compiled once.

Every operation's request body, its parameters and each of its responses (by status)
are turned into Python functions by fastjsonschema — ``$ref``s resolved in place first,
each compiled on its first use — so checking a request costs a function call, not a
schema walk (the
tests check these verdicts against openapi-core's on the same document).  Query and
path parameters arrive as text and are converted to their schema's type first.

A refusal names the place and the rule, never the value: ``body/changes/3/reason fails
the schema rule 'enum'``.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastjsonschema
import yaml

from hub.config.access import RIGHTS
from hub.domain.errors import RequestError

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")
Validator = Callable[[Any], Any]


class ResponseMismatch(Exception):
    """An answer of ours does not match the document: a bug, logged by place and rule."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


@dataclass
class Operation:
    """One method of one path of the document, its checks compiled."""

    method: str
    path: str
    right: str = ""          # x-jukihub-right: the right a caller needs (hub.config.access)
    body: Validator | None = None
    body_required: bool = False
    # name -> (in: path | query, JSON type, compiled check of the converted value)
    parameters: dict[str, tuple[str, str, Validator]] = field(default_factory=dict)
    responses: dict[int, Validator] = field(default_factory=dict)

    def check_body(self, obj: Any) -> None:
        if self.body is None:
            return
        try:
            self.body(obj)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise RequestError("schema_invalid", *_describe(exc, "body")) from None

    def check_parameters(self, path: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
        """The parameters given, each converted to its type and checked; an unknown
        query parameter is refused."""
        unknown = next((k for k in query if self.parameters.get(k, ("",))[0] != "query"), None)
        if unknown is not None:
            raise RequestError("schema_invalid", "a query parameter is not one of this "
                               "operation's", None)
        out: dict[str, Any] = {}
        for name, text in (*path.items(), *query.items()):
            _, kind, check = self.parameters[name]
            try:
                value = _convert(kind, text)
                check(value)
            except (ValueError, fastjsonschema.JsonSchemaValueException):
                raise RequestError("schema_invalid", f"parameter {name} fails its schema",
                                   name) from None
            out[name] = value
        return out

    def check_response(self, status: int, obj: Any) -> None:
        check = self.responses.get(status)
        if check is None:
            raise ResponseMismatch(f"status {status} is not documented")
        try:
            check(obj)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise ResponseMismatch(_describe(exc, "response")[0]) from None


class Contract:
    """Every operation of the document, by (method, path template)."""

    def __init__(self, path: Path = OPENAPI_PATH) -> None:
        self.document = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.operations: dict[tuple[str, str], Operation] = {}
        for template, item in self.document["paths"].items():
            for method, spec in item.items():
                self.operations[(method.upper(), template)] = self._compile(
                    method.upper(), template, spec)

    def operation(self, method: str, template: str) -> Operation:
        return self.operations[(method, template)]

    def schema_check(self, name: str) -> Callable[[Any], tuple[tuple[str, ...], str] | None]:
        """The check of one of the document's schemas (``Change``) for a caller that is
        not a request (the initial load): the path and the rule of the first thing
        wrong with an object, or ``None``."""
        check = self._validator(self.document["components"]["schemas"][name])

        def failure(obj: Any) -> tuple[tuple[str, ...], str] | None:
            try:
                check(obj)
            except fastjsonschema.JsonSchemaValueException as exc:
                return _failure(exc)
            return None

        return failure

    def _compile(self, method: str, template: str, spec: dict[str, Any]) -> Operation:
        right = spec.get("x-jukihub-right")
        if right not in RIGHTS:
            raise ValueError(f"{method} {template}: x-jukihub-right {right!r} is not a right "
                             "of hub.config.access.RIGHTS")
        op = Operation(method, template, right)
        body = spec.get("requestBody")
        if body is not None:
            op.body = self._validator(body["content"]["application/json"]["schema"])
            op.body_required = bool(body.get("required"))
        for param in spec.get("parameters", []):
            schema = self._resolve(param["schema"])
            op.parameters[param["name"]] = (param["in"], schema.get("type", "string"),
                                            self._validator(schema))
        for status, response in spec.get("responses", {}).items():
            response = self._resolve(response)
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            op.responses[int(status)] = (self._validator(schema) if schema is not None
                                         else _anything)
        return op

    def _validator(self, schema: dict[str, Any]) -> Validator:
        return _Compiled(self._resolve(schema))

    def _resolve(self, node: Any) -> Any:
        """``node`` with every ``$ref`` into this document replaced by what it names."""
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/"):
                target: Any = self.document
                for part in ref[2:].split("/"):
                    target = target[part]
                return self._resolve(copy.deepcopy(target))
            return {k: self._resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self._resolve(v) for v in node]
        return node


class _Compiled:
    """A schema's validator, compiled by fastjsonschema the first time it is used: a
    process compiles only the operations it serves (a start compiles none; a first
    request of a kind pays ~30 ms once)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.check: Validator | None = None

    def __call__(self, obj: Any) -> Any:
        check = self.check
        if check is None:  # two threads may both compile it once: harmless
            check = self.check = fastjsonschema.compile(self.schema, use_default=False)
        return check(obj)


def _anything(_obj: Any) -> None:
    return None


_INTEGER = re.compile(r"-?[0-9]{1,20}")
_NUMBER = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?")


def _convert(kind: str, text: str) -> Any:
    """A parameter's text as its schema's type: plain ASCII digits only (no ``+``, no
    spaces, no other scripts' digits, no ``_``), numbers finite (no ``nan``, no
    ``inf``), at most 20 digits — the bounds are the schema's to check."""
    if kind == "integer":
        if not _INTEGER.fullmatch(text):
            raise ValueError("not an integer")
        return int(text)
    if kind == "number":
        if not _NUMBER.fullmatch(text) or not math.isfinite(value := float(text)):
            raise ValueError("not a finite number")
        return value
    if kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError(text)
        return text == "true"
    return text


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number out of range")
    return value


def decode_json(raw: bytes) -> Any:
    """A request body as strict JSON: UTF-8, no ``NaN``/``Infinity``, no number that
    overflows a float, nesting as deep as Python's parser allows (deeper is refused,
    not a crash).  ``RequestError`` ``invalid_json`` otherwise."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_constant, parse_float=_finite)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise RequestError("invalid_json", "the body is not JSON (UTF-8)") from None


def _failure(exc: fastjsonschema.JsonSchemaValueException) -> tuple[tuple[str, ...], str]:
    """The path of what failed (a missing item's own, for ``required``) and the rule."""
    path = tuple(str(p) for p in (exc.path or [])[1:])  # [0] is fastjsonschema's "data"
    if exc.rule == "required" and isinstance(exc.value, dict) and isinstance(exc.definition, dict):
        missing = [p for p in exc.definition.get("required", []) if p not in exc.value]
        if missing:
            return (*path, missing[0]), "required"
    return path, str(exc.rule)


def _describe(exc: fastjsonschema.JsonSchemaValueException, root: str) -> tuple[str, str | None]:
    """Where a check failed and by which rule; the item's name, never its value."""
    path, rule = _failure(exc)
    where = "/".join([root, *path])
    item = next((p for p in reversed(path) if not p.isdigit()), None)
    if rule == "required":
        return f"{where} is required", item
    return f"{where} fails the schema rule '{rule}'", item
