"""The one dispatch of the HTTP API: every route of ``hub.api.routes`` is served the same
way.

Every request in this order, and each step only once the one before it passed:
admission (``hub.api.admission``: the certificate, the route, the session of a staff
terminal and the right — a refusal is in the 操作ログ before it is answered, and the
caller learns nothing of what its parameters or body would have done), then the
query, the body's type and size (415, 413), and the rest in the *intake workers* (a
small thread pool), so the reactor only moves bytes: the JSON, the route's
``precheck``, the OpenAPI document's checks (400 ``schema_invalid``), the route's
``prepare`` (the domain's format checks), and at the end the answer's check against
the document and its encoding.  A staff member's session and right are decided by the
hub process (``Backend.authorize``: sessions live there), before the body is looked
at.  A body over ``max_body_bytes`` is never kept (``BoundedRequest``).  In between:

- a route with ``submit`` (the register's changes) hands its requests to the store
  writer from the worker, and the writer's reply comes back to a worker: reactor →
  worker → store writer → worker → reactor, nothing else on the way;
- any other route's ``handler`` runs on the hub's reactor thread with the checked
  ``Call`` and answers ``(status, body)`` or a Deferred of it, or raises ``HubError``.

Both go through a ``Backend``: ``LocalBackend`` in the hub process, ``RemoteBackend``
in an intake worker process (``hub.api.remote``), where this same dispatch runs.

A handler's bug answers 500 with no traceback.  Answers carry their length, a 503
carries ``Retry-After``, and every answer its correlation id (``X-Correlation-Id``: the
caller's, or a new one), which the request's messages carry on (see README, Metrics).
A change is refused with 503 before any work while the hub's gate is shut
(maintenance mode, backpressure: ``hub.api.operations``).  An error's ``code`` is a
stable identifier; its ``message`` is English, or Japanese for a caller whose
``Accept-Language`` asks for it (``hub.support.words``).

The same listener serves the API's document and reference page (``hub.api.docs``) and
the staff console (``hub.api.console``), mounted beside this resource by
``hub.api.site``; the console's pages call the API in-process through ``invoke``, which
runs this same dispatch without the HTTP.

In an intake worker *process* (``inline_below`` > 0) a request whose body is smaller
than ``inline_below`` bytes is checked on that process's reactor thread instead: the
process is already off the hub's reactor, and for a single change two thread hops cost
more than the checks (about 1.8 ms a request on two cores).  A large batch still goes
to the pool, so the process keeps reading other connections meanwhile.

Threads: the reactor thread owns the request (its transport, its Deferreds); workers
reach it only with ``reactor.callFromThread``, actors reach workers with the pool's
``callInThread``.  Inline requests need a backend that answers on the reactor thread
(``RemoteBackend``, whose answers arrive on the socketpair); the hub process's
``LocalBackend`` answers from the store writer's thread, so there ``inline_below`` is 0.
Reads of the store run in ``Reads``, a bounded pool of their own, so a slow read never
holds the reactor nor the intake workers.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.python.threadpool import ThreadPool
from twisted.web import http, resource, server

from hub.api.admission import Admitter, internal
from hub.api.backend import Backend
from hub.api.context import Answer, Call, Intake
from hub.api.openapi import Contract, ResponseMismatch, decode_json
from hub.api.routes import Route, match
from hub.domain.errors import HubError, RequestError, UnavailableError
from hub.domain.operations import CLOSED_CODES
from hub.support import words
from hub.support.i18n import Speaker, language
from hub.support.tls import peer_common_name

log = logging.getLogger("jukihub.intake")


class ApiResource(resource.Resource):
    """See the module docstring."""

    isLeaf = True

    def __init__(self, intake: Intake, backend: Backend, contract: Contract,
                 workers: ThreadPool, reactor: Any, inline_below: int = 0) -> None:
        super().__init__()
        self.intake, self.cfg, self.meters = intake, intake.config, intake.meters
        self.backend, self.contract, self.workers = backend, contract, workers
        self.reactor, self.inline_below = reactor, inline_below
        self.retry_after = str(intake.settings.operations.retry_after)
        self.admitter = Admitter(intake.settings.access, contract, backend, self.meters)
        self.log_requests = log.isEnabledFor(logging.INFO)

    def render(self, request: server.Request) -> bytes | int:
        started = time.perf_counter()
        method, path = request.method.decode("latin-1"), request.path.decode("latin-1")
        found = match(method, path)
        endpoint = found[0].name if found else "other"
        client = peer_common_name(request.transport) or ""
        cid = correlation_id(request)

        def refused(answer: Answer) -> None:
            self.write(request, endpoint, started, answer[0], _encode(answer[1]))

        def admitted(caller: Call) -> None:
            try:
                query = _query(request)
                body = self._body(request) if method == "POST" else None
            except HubError as err:
                refused((err.status, {"error": err.to_json()}))
                return
            reply = _Reply(self, request, route, endpoint, started,
                           inline=len(body or b"") < self.inline_below)
            reply.run(self._in_worker, reply, caller, body, path_params, query)

        try:
            route, path_params = self.admitter.caller_and_route(client, request, method,
                                                                found)
        except HubError as err:
            self.admitter.answer_refusal(err, refused)
            return server.NOT_DONE_YET
        self.admitter.authorized(client, request.getHeader("authorization"), route, cid,
                                 admitted, refused)
        return server.NOT_DONE_YET

    def invoke(self, client: str, token: str | None, method: str, path: str,
               query: dict[str, str], body: Any) -> defer.Deferred[Answer]:
        """An API call made in-process (the console's), through this same dispatch: the
        caller (``token``: a staff session's), the route, the right, the OpenAPI checks,
        the handler, the 操作ログ — only the HTTP is left out.  Fires on the reactor
        thread with the answer."""
        d: defer.Deferred[Answer] = defer.Deferred()
        started = time.perf_counter()
        found = match(method, path)
        try:
            if found is not None and found[0].method != method:
                found = None
            route, path_params = self.admitter.caller_and_route(client, None, method, found)
        except HubError as err:
            self.admitter.answer_refusal(err, d.callback)
            return d
        raw = json.dumps(body).encode() if body is not None else None

        def admitted(caller: Call) -> None:
            reply = _Capture(self, d, route, route.name, started)
            browser = dataclasses.replace(caller, register_codes=False)  # unified text
            reply.run(self._in_worker, reply, browser, raw, path_params, query)

        self.admitter.authorized(client, f"Bearer {token}" if token else None, route,
                                 uuid.uuid4().hex, admitted, d.callback)
        return d

    def _body(self, request: server.Request) -> bytes:
        ctype = (request.getHeader("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise RequestError("unsupported_media_type", "send application/json", status=415)
        content = request.content
        if getattr(request, "oversize", False) or (
                content is not None and content.seek(0, 2) > self.cfg.max_body_bytes):
            raise RequestError("body_too_large", f"at most {self.cfg.max_body_bytes} bytes",
                               status=413)
        if content is None:
            raise RequestError("invalid_json", "the request has no body")
        content.seek(0)
        return bytes(content.read())

    # ---- in the intake workers (or inline: see the module docstring) -------------------

    def _in_worker(self, reply: _Reply, caller: Call, raw: bytes | None,
                   path_params: dict[str, str], query: dict[str, str]) -> None:
        route = reply.route
        try:
            if route.submit is not None and (closed := self.intake.closed) is not None:
                raise UnavailableError(closed.code, closed.message)  # before any work
            call = self._check(route, caller, raw, path_params, query)
            if route.submit is None:
                self.backend.call(route, call, lambda answer: reply.run(
                    reply.finish_or_fail, answer))
                return
            requests, answer = route.submit(self.intake, call)
            if not requests:
                reply.finish(answer([]))
                return
            # To the store writer; its outcomes come back to a worker.
            self.meters.hop("checks", time.perf_counter() - reply.started)
            self.backend.submit(requests, lambda outcomes: reply.run(
                reply.finish_with, answer, outcomes))
        except HubError as err:
            reply.finish((err.status, {"error": err.to_json()}))
        except Exception as exc:  # a bug: 500, logged by type only
            reply.internal_error(type(exc).__name__)

    def _check(self, route: Route, caller: Call, raw: bytes | None,
               path_params: dict[str, str], query: dict[str, str]) -> Call:
        op = self.contract.operation(route.method, route.path)
        params = op.check_parameters(path_params, query)
        body = None
        if raw is not None:
            body = decode_json(raw)
            if route.precheck is not None:
                route.precheck(self.intake, body)
            try:
                op.check_body(body)
            except RequestError:
                if route.counts_changes:
                    self.meters.change_refused("schema")
                raise
        prepared = route.prepare(self.intake, body, params) if route.prepare else None
        return dataclasses.replace(caller, params=params, body=body, prepared=prepared)

    def encode(self, route: Route, status: int, body: dict[str, Any]) -> tuple[int, bytes]:
        """The answer checked against the document (unless switched off) and encoded."""
        if self.cfg.validate_responses:
            try:
                self.contract.operation(route.method, route.path).check_response(status, body)
            except ResponseMismatch as exc:
                log.error("response does not match the OpenAPI document", extra={
                    "event": "intake.response_invalid", "where": exc.where})
                return 500, _encode(internal())
        return status, _encode(body)

    # ---- on the reactor ------------------------------------------------------------------

    def write(self, request: server.Request, endpoint: str, started: float, status: int,
              data: bytes) -> None:
        seconds = time.perf_counter() - started
        self.meters.request(endpoint, status, seconds)
        if self.log_requests:
            log.info("answered", extra={
                "event": "intake.answered", "endpoint": endpoint, "status": status,
                "correlation_id": request.responseHeaders.getRawHeaders(
                    "x-correlation-id", [""])[0], "ms": round(seconds * 1000, 2)})
        if request._disconnected or request.finished:  # the client went away; a commit stands
            return
        request.setResponseCode(status)
        if status == 503:  # busy, store unavailable, maintenance, backpressure: come back
            request.setHeader("retry-after", self.retry_after)
        if status >= 400 and (lang := language(request.getHeader("accept-language"), None,
                                               "en")) != "en":
            data = _in_language(data, lang)
            request.setHeader("content-language", lang)
        request.setHeader("content-type", "application/json")
        request.setHeader("content-length", str(len(data)))
        request.write(data)
        request.finish()


class BoundedRequest(server.Request):
    """A request that keeps at most ``max_body`` bytes of its body, in memory: past
    that it is marked ``oversize`` and the rest is read and dropped, so no body costs
    more memory or disk than the limit, and the dispatch still answers in its order
    (certificate, session, right — only then 413)."""

    max_body = 8 << 20
    oversize = False
    content: Any  # (Twisted types it as None until the body begins)

    def gotLength(self, length: int | None) -> None:
        self.content = io.BytesIO()
        if length is not None and length > self.max_body:
            self.oversize = True

    def handleContentChunk(self, data: bytes) -> None:
        if self.oversize:
            return
        if self.content.tell() + len(data) > self.max_body:
            self.oversize = True
            self.content = io.BytesIO()  # what was kept goes too
            return
        self.content.write(data)


class _Channel(http.HTTPChannel):
    """HTTP/1.1 as Twisted speaks it, except that a request line or headers over its
    limits (16 KiB in all, 500 headers) are answered with a JSON error like every
    other refusal, not a bare status line."""

    def _respondToBadRequestAndDisconnect(self) -> None:
        body = _encode({"error": {"code": "request_too_large", "message": "the request "
                                  f"line and headers exceed {self.totalHeadersSize} bytes "
                                  f"or {self.maxHeaders} headers, or are malformed"}})
        transport: Any = self.transport
        transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json"
                             b"\r\nconnection: close\r\ncontent-length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)
        self.loseConnection()

    def lineLengthExceeded(self, line: bytes) -> None:
        self._respondToBadRequestAndDisconnect()


class Site(server.Site):
    """The intake's site: JSON only (no look for form submissions in every POST), a
    bug answers 500 and never a traceback, no access-log line per request —
    ``jukihub_intake_requests`` counts them, and formatting that line was a few per
    cent of a worker's time — and bodies bounded (``BoundedRequest``)."""

    displayTracebacks = False
    # HTTP/1.1 only (the generic factory's HTTP/2 is never negotiated here).
    protocol = _Channel  # type: ignore[assignment]  # a protocol factory all the same

    def __init__(self, root: resource.Resource, max_body: int) -> None:
        super().__init__(root, parsePOSTFormSubmission=False)
        bounded: Any = type("IntakeRequest", (BoundedRequest,), {"max_body": max_body})
        self.requestFactory = bounded

    def log(self, request: Any) -> None:
        pass


def _query(request: server.Request) -> dict[str, str]:
    """The query's parameters as text: each at most once, UTF-8 (400 otherwise)."""
    out: dict[str, str] = {}
    args: dict[bytes, list[bytes]] = request.args or {}
    for key, values in args.items():
        if len(values) != 1:
            raise RequestError("schema_invalid", "a query parameter is given more than once")
        try:
            out[key.decode("utf-8")] = values[0].decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError("invalid_query", "the query is not UTF-8") from None
    return out


class _Reply:
    """One request's way back: its answer, encoded in a worker, written on the reactor."""

    def __init__(self, resource_: ApiResource, request: server.Request, route: Route,
                 endpoint: str, started: float, inline: bool) -> None:
        self.resource, self.request, self.route = resource_, request, route
        self.endpoint, self.started, self.inline = endpoint, started, inline

    def run(self, work: Callable[..., None], *args: Any) -> None:
        """``work`` in an intake worker thread, or at once if this request is inline."""
        if self.inline:
            work(*args)
        else:
            self.resource.workers.callInThread(work, *args)

    def _write(self, status: int, data: bytes) -> None:
        if self.inline:  # on the reactor thread already
            self.resource.write(self.request, self.endpoint, self.started, status, data)
        else:
            self.resource.reactor.callFromThread(self.resource.write, self.request,
                                                 self.endpoint, self.started, status, data)

    def finish(self, answer: Answer) -> None:
        """In a worker: check and encode ``answer``, then write it on the reactor."""
        try:
            status, data = self.resource.encode(self.route, *answer)
        except Exception as exc:  # an answer that cannot be encoded is a bug
            self.internal_error(type(exc).__name__)
            return
        self._write(status, data)

    def finish_or_fail(self, answer: Answer | None) -> None:
        """In a worker: a handler's answer, or a 500 if it failed (logged where)."""
        if answer is None:
            self.internal_error(None)
        else:
            self.finish(answer)

    def finish_with(self, answer: Any, outcomes: list[Any] | None) -> None:
        """In a worker: the store writer's outcomes made into the answer, then written."""
        back = time.perf_counter()
        if outcomes is None:  # the hub could not be asked (an intake worker process)
            self.internal_error(None)
            return
        if outcomes and all(o.error is not None and o.error.code in CLOSED_CODES
                            for o in outcomes):  # the hub's gate shut meanwhile
            self.finish((503, {"error": outcomes[0].error.to_json()}))
            return
        try:
            result = answer(outcomes)
        except HubError as err:
            result = (err.status, {"error": err.to_json()})
        except Exception as exc:  # a bug: 500, logged by type only
            self.internal_error(type(exc).__name__)
            return
        self.finish(result)
        self.resource.meters.hop("answer", time.perf_counter() - back)

    def internal_error(self, error: str | None) -> None:
        """A bug: 500 without a traceback, logged by its type only (any thread)."""
        if error is not None:
            log.error("intake failure", extra={"event": "intake.error", "error": error})
        self._write(500, _encode(internal()))


_CORRELATION = re.compile(r"[A-Za-z0-9._:\-]{1,40}")


def correlation_id(request: server.Request) -> str:
    """The request's correlation id: the caller's ``X-Correlation-Id`` if it is a
    plain token (letters, digits, ``._:-``, at most 40), else a new one; sent back in
    the answer's header, and carried by every message the request causes."""
    given = request.getHeader("x-correlation-id")
    cid = given if given is not None and _CORRELATION.fullmatch(given) else uuid.uuid4().hex
    request.setHeader("x-correlation-id", cid)
    return cid


class _Capture(_Reply):
    """The way back of an in-process call (``ApiResource.invoke``): the answer, checked
    and encoded as any other, fires a Deferred on the reactor thread instead of being
    written."""

    def __init__(self, resource_: ApiResource, done: defer.Deferred[Answer], route: Route,
                 endpoint: str, started: float) -> None:
        self.resource, self.done, self.route = resource_, done, route
        self.endpoint, self.started, self.inline = endpoint, started, False

    def _write(self, status: int, data: bytes) -> None:
        self.resource.reactor.callFromThread(self._fire, status, data)

    def _fire(self, status: int, data: bytes) -> None:
        self.resource.meters.request(self.endpoint, status, time.perf_counter() - self.started)
        self.done.callback((status, json.loads(data)))


def _in_language(data: bytes, lang: str) -> bytes:
    """An error answer whose human message is in ``lang`` (a caller that asked for it
    by ``Accept-Language``): the name of its code, which stays as it is, as does the
    item it names.  A code no table names keeps the message it had."""
    body = json.loads(data)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        named = words.name(Speaker(lang), "code", error.get("code"))
        if named is not None:
            error["message"] = named
    return _encode(body)


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()
