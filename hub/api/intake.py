"""The intake API: the register system posts changes here over mutual TLS.

Request path (reactor thread): client certificate name → content type and size → JSON
→ the OpenAPI document (``hub/openapi.yaml``, via openapi-core) → format checks
(``hub.changes.parse_change``) → ``SubmitChanges`` told to the store writer.  The
writer's reply crosses back with ``reactor.callFromThread``; only then — after the
commit — is the answer written, and it too is validated against the document.

Errors carry a status, a code and a message naming the item, never a value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from twisted.internet import defer
from twisted.web import resource, server

from actors.messages import SubmitChanges
from hub import metrics
from hub.api.staff import StaffRoutes, match_route
from hub.config import Config, IntakeConfig
from hub.domain.changes import CardEventRequest, Change, parse_card_event, parse_change
from hub.domain.errors import FormatError, HubError, RequestError
from hub.domain.register import Outcome
from hub.tls import peer_common_name
from protocols.charconv import UnifiedCharset

log = logging.getLogger("jukihub.intake")

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")
# The document's server URL: openapi-core matches operations by it and the path; the
# listener's real address does not matter.
_SERVER_URL = "https://127.0.0.1:8443"


@dataclass
class _OARequest:
    """openapi-core's Request protocol, for a Twisted request."""

    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters


@dataclass
class _OAResponse:
    status_code: int
    data: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.headers = {"Content-Type": self.content_type}


def _schema_message(exc: Exception) -> tuple[str, str | None]:
    """Describe a schema failure by location and rule only (never the value)."""
    cause: Any = exc
    while cause is not None:
        errors = getattr(cause, "schema_errors", None)
        if errors:
            err = errors[0]
            where = "/".join(str(p) for p in err.absolute_path) or "body"
            item = next((str(p) for p in reversed(err.absolute_path) if isinstance(p, str)),
                        None)
            return f"{where} fails the schema rule '{err.validator}'", item
        cause = cause.__cause__ or cause.__context__
    return f"the request does not match the API ({type(exc).__name__})", None


class IntakeAPI(StaffRoutes, resource.Resource):
    """``/v1/changes``, ``/v1/changes/batch``, ``/v1/card-events``, ``/healthz``, and the
    staff operations of ``hub.staff``."""

    isLeaf = True

    def __init__(self, cfg: IntakeConfig, writer: Any, reactor: Any,
                 charset: UnifiedCharset | None = None, today: Any = dt.date.today,
                 store: Any = None, links: dict[str, Any] | None = None,
                 settings: Config | None = None) -> None:
        super().__init__()
        self.settings = settings  # the whole configuration, for the staff operations
        self.store = store
        self.links = links or {}
        self.cfg = cfg
        self.charset = charset
        self.writer = writer
        self.reactor = reactor
        self.today = today
        self.openapi = OpenAPI.from_file_path(str(OPENAPI_PATH))

    # ---- dispatch --------------------------------------------------------------------

    def render(self, request: server.Request) -> bytes | int:
        started = time.perf_counter()
        path = request.path.decode("latin-1")
        endpoint = {"/v1/changes": "change", "/v1/changes/batch": "batch",
                    "/v1/card-events": "card", "/healthz": "health"}.get(path, "other")
        if endpoint == "other" and (found := match_route(request.method.decode(), path)):
            return self.staff(request, found[0], found[1], path, started)
        try:
            self._check_client(request)
            if endpoint == "health" and request.method == b"GET":
                return self._answer(request, endpoint, started, 200, {"status": "ok"})
            if endpoint not in ("change", "batch", "card"):
                raise _NotFound()
            if request.method != b"POST":
                raise _MethodNotAllowed()
            body, obj = self._read_body(request)
            if endpoint == "batch" and isinstance(obj, dict) and isinstance(
                    obj.get("changes"), list) and len(obj["changes"]) > self.cfg.max_batch:
                # Before the schema check, which costs time in proportion to the batch.
                raise RequestError("batch_too_large", f"at most {self.cfg.max_batch} changes",
                                   status=413)
            oa_request = self._validate_request(request, path, body)
        except _NotFound:
            return self._answer(request, endpoint, started, 404, _err("not_found",
                                "no such endpoint"))
        except _MethodNotAllowed:
            request.setHeader("allow", "POST")
            return self._answer(request, endpoint, started, 405, _err("method_not_allowed",
                                "use POST"))
        except HubError as err:
            return self._answer(request, endpoint, started, err.status, {"error": err.to_json()})
        items = obj["changes"] if endpoint == "batch" else [obj]
        today = self.today()
        parsed: list[Change | CardEventRequest | FormatError] = []
        for item in items:
            try:
                parsed.append(parse_card_event(item, today) if endpoint == "card"
                              else parse_change(item, today, self.charset))
            except FormatError as err:
                metrics.changes_refused.labels(f"{err.code}:{err.item}").inc()
                parsed.append(err)
        changes = [p for p in parsed if not isinstance(p, FormatError)]
        d: defer.Deferred[list[Outcome]] = defer.Deferred()
        if changes:
            reactor = self.reactor
            # Crossing to the store writer's thread is a tell; its reply crosses back
            # to the reactor thread with callFromThread.
            self.writer.tell(SubmitChanges(
                changes, reply=lambda outcomes: reactor.callFromThread(d.callback, outcomes)))
        else:
            d.callback([])
        request_ids = [str(item.get("request_id", "")) for item in items]
        d.addCallback(self._respond, request, endpoint, started, parsed, request_ids,
                      oa_request)
        d.addErrback(self._internal_error, request, endpoint, started)
        return server.NOT_DONE_YET

    def _oa_request(self, path: str, method: str, body: bytes | None,
                    parameters: RequestParameters) -> _OARequest:
        return _OARequest(_SERVER_URL, path, method, body, "application/json", parameters)

    def _validate(self, oa: _OARequest) -> None:
        try:
            self.openapi.validate_request(oa)
        except OpenAPIError as exc:
            message, item = _schema_message(exc)
            raise RequestError("schema_invalid", message, item) from None

    # ---- steps -----------------------------------------------------------------------

    def _check_client(self, request: server.Request) -> None:
        name = peer_common_name(request.transport)
        if name not in self.cfg.allowed_clients:
            metrics.intake_client_refused.inc()
            raise HubError("client_not_allowed", "this client certificate may not post changes",
                           status=403)

    def _read_body(self, request: server.Request) -> tuple[bytes, Any]:
        ctype = (request.getHeader("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise RequestError("unsupported_media_type", "send application/json", status=415)
        content = request.content
        if content is None:
            raise RequestError("invalid_json", "the request has no body")
        content.seek(0, 2)
        size = content.tell()
        if size > self.cfg.max_body_bytes:
            raise RequestError("body_too_large", f"at most {self.cfg.max_body_bytes} bytes",
                               status=413)
        content.seek(0)
        body = content.read()
        try:
            return body, json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise RequestError("invalid_json", "the body is not JSON (UTF-8)") from None

    def _validate_request(self, request: server.Request, path: str, body: bytes) -> _OARequest:
        oa = self._oa_request(path, "post", body, RequestParameters())
        try:
            self._validate(oa)
        except RequestError:
            metrics.changes_refused.labels("schema").inc()
            raise
        return oa

    def _respond(self, outcomes: list[Outcome], request: server.Request, endpoint: str,
                 started: float, parsed: list[Change | CardEventRequest | FormatError],
                 request_ids: list[str], oa_request: Any) -> None:
        it = iter(outcomes)
        results: list[tuple[int, dict[str, Any]]] = []
        for p in parsed:
            if isinstance(p, FormatError):
                results.append((p.status, {"request_id": "", "error": p.to_json()}))
                continue
            o = next(it)
            if o.error is not None:
                results.append((o.error.status, {"request_id": o.request_id,
                                                 "error": o.error.to_json()}))
            else:
                assert o.response is not None
                results.append((201, o.response))
        if endpoint in ("change", "card"):
            status, body = results[0]
            if "error" in body:
                body = {"error": body["error"]}
            self._finish(request, endpoint, started, status, body, oa_request)
            return
        out = []
        for (_status, body), rid in zip(results, request_ids, strict=True):
            if "error" in body:
                out.append({"request_id": rid, "status": "refused", "error": body["error"]})
            else:
                out.append(body)
        self._finish(request, endpoint, started, 200, {"results": out}, oa_request)

    def _finish(self, request: server.Request, endpoint: str, started: float, status: int,
                body: dict[str, Any], oa_request: Any) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        if self.cfg.validate_responses:
            try:
                self.openapi.validate_response(oa_request, _OAResponse(status, data))
            except OpenAPIError as exc:
                # A bug of ours, logged by location and rule (jsonschema's own message
                # would quote the value).
                log.error("response does not match the OpenAPI document", extra={
                    "event": "intake.response_invalid", "where": _schema_message(exc)[0]})
                status, data = 500, json.dumps(_err("internal", "internal error")).encode()
        if request._disconnected:  # the client went away; the commit stands
            return
        self._write(request, endpoint, started, status, data)
        request.finish()

    def _internal_error(self, failure: Any, request: server.Request, endpoint: str,
                        started: float) -> None:
        log.error("intake failure", extra={"event": "intake.error",
                                           "error": failure.type.__name__})
        if not request._disconnected:
            self._write(request, endpoint, started, 500,
                        json.dumps(_err("internal", "internal error")).encode())
            request.finish()

    @staticmethod
    def _answer(request: server.Request, endpoint: str, started: float, status: int,
                body: dict[str, Any]) -> bytes:
        """A synchronous answer (returned from ``render``, which writes it)."""
        request.setResponseCode(status)
        request.setHeader("content-type", "application/json")
        metrics.intake_requests.labels(endpoint, str(status)).inc()
        metrics.intake_seconds.labels(endpoint).observe(time.perf_counter() - started)
        return json.dumps(body, ensure_ascii=False).encode()

    def _write(self, request: server.Request, endpoint: str, started: float, status: int,
               data: bytes) -> None:
        """An asynchronous answer, after the store writer's reply."""
        self._answer(request, endpoint, started, status, {})
        if not request.finished and not request._disconnected:
            request.write(data)


class _NotFound(Exception):
    pass


class _MethodNotAllowed(Exception):
    pass


def _err(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
