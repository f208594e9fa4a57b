"""The one dispatch of the HTTP API: every route of ``hub.api.routes`` is served the same
way.

On the reactor thread: the route (404, 405), the client certificate's name against
the route's ``[intake]`` client list (403), the body's type and size (415, 413).  Then
in the *intake workers* (a small thread pool), so the reactor only moves bytes: the JSON,
the route's ``precheck``, the OpenAPI document's checks (400 ``schema_invalid``) and
the route's ``prepare`` (the domain's format checks).  The route's handler runs on the
reactor with the checked ``Call``; it answers ``(status, body)`` or a Deferred of it,
or raises ``HubError``.  The answer is checked against the document and encoded in the
workers too, then written with its length.  A handler's bug answers 500 with no
traceback.

Threads: handlers reach the store writer and the link actors with ``tell``; replies
come back through ``reactor.callFromThread`` (``Api.on_reactor``).  Reads of the store
run in ``Reads``, a bounded pool of their own, so a slow read never holds the reactor
nor the intake workers.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from twisted.internet import threads
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from twisted.web import resource, server

from hub import metrics
from hub.api.context import Answer, Api, Call
from hub.api.openapi import Contract, ResponseMismatch
from hub.api.routes import Route, match
from hub.domain.errors import HubError, RequestError
from hub.tls import peer_common_name

log = logging.getLogger("jukihub.intake")

class ApiResource(resource.Resource):
    """See the module docstring."""

    isLeaf = True

    def __init__(self, api: Api, contract: Contract, workers: ThreadPool) -> None:
        super().__init__()
        self.api, self.contract, self.workers = api, contract, workers

    def render(self, request: server.Request) -> bytes | int:
        started = time.perf_counter()
        method, path = request.method.decode("latin-1"), request.path.decode("latin-1")
        found = match(method, path)
        endpoint = found[0].name if found else "other"
        try:
            if found is None:
                raise HubError("not_found", "no such endpoint", status=404)
            route, path_params = found
            if route.method != method:
                request.setHeader("allow", route.method)
                raise HubError("method_not_allowed", f"use {route.method}", status=405)
            client = peer_common_name(request.transport)
            if client is None or client not in getattr(self.api.intake, route.clients):
                metrics.intake_client_refused.inc()
                raise HubError("client_not_allowed", "this client certificate may not use "
                               "this operation", status=403)
            body = self._body(request) if method == "POST" else None
        except HubError as err:
            self._write(request, endpoint, started, err.status, _encode({"error": err.to_json()}))
            return server.NOT_DONE_YET
        args: dict[bytes, list[bytes]] = request.args or {}
        query = {k.decode(): v[0].decode() for k, v in args.items()}
        d = threads.deferToThreadPool(self.api.reactor, self.workers, self._check, route,
                                      client, body, path_params, query)
        d.addCallback(lambda call: route.handler(self.api, call))
        d.addErrback(self._refusal)
        d.addCallback(lambda answer: threads.deferToThreadPool(
            self.api.reactor, self.workers, self._encode_answer, route, *answer))
        d.addCallbacks(lambda out: self._write(request, endpoint, started, *out),
                       lambda f: self._internal_error(f, request, endpoint, started))
        return server.NOT_DONE_YET

    def _body(self, request: server.Request) -> bytes:
        ctype = (request.getHeader("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise RequestError("unsupported_media_type", "send application/json", status=415)
        content = request.content
        if content is None:
            raise RequestError("invalid_json", "the request has no body")
        content.seek(0, 2)
        if content.tell() > self.api.intake.max_body_bytes:
            raise RequestError("body_too_large", f"at most {self.api.intake.max_body_bytes} "
                               "bytes", status=413)
        content.seek(0)
        return content.read()

    # ---- in the intake workers ---------------------------------------------------------

    def _check(self, route: Route, client: str, raw: bytes | None, path_params: dict[str, str],
               query: dict[str, str]) -> Call:
        op = self.contract.operation(route.method, route.path)
        params = op.check_parameters(path_params, query)
        body = None
        if raw is not None:
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise RequestError("invalid_json", "the body is not JSON (UTF-8)") from None
            if route.precheck is not None:
                route.precheck(self.api, body)
            try:
                op.check_body(body)
            except RequestError:
                if route.counts_changes:
                    metrics.changes_refused.labels("schema").inc()
                raise
        prepared = route.prepare(self.api, body, params) if route.prepare else None
        return Call(client, params, body, prepared)

    def _encode_answer(self, route: Route, status: int, body: dict[str, Any]) -> tuple[int, bytes]:
        if self.api.intake.validate_responses:
            try:
                self.contract.operation(route.method, route.path).check_response(status, body)
            except ResponseMismatch as exc:
                log.error("response does not match the OpenAPI document", extra={
                    "event": "intake.response_invalid", "where": exc.where})
                return 500, _encode(_internal())
        return status, _encode(body)

    # ---- back on the reactor -------------------------------------------------------------

    @staticmethod
    def _refusal(failure: Failure) -> Answer:
        """A ``HubError`` raised by a check or a handler, as its answer."""
        failure.trap(HubError)
        err: HubError = failure.value  # type: ignore[assignment]
        return err.status, {"error": err.to_json()}

    def _internal_error(self, failure: Failure, request: server.Request, endpoint: str,
                        started: float) -> None:
        log.error("intake failure", extra={"event": "intake.error",
                                           "error": failure.type.__name__ if failure.type
                                           else "unknown"})
        self._write(request, endpoint, started, 500, _encode(_internal()))

    @staticmethod
    def _write(request: server.Request, endpoint: str, started: float, status: int,
               data: bytes) -> None:
        metrics.intake_requests.labels(endpoint, str(status)).inc()
        metrics.intake_seconds.labels(endpoint).observe(time.perf_counter() - started)
        if request._disconnected or request.finished:  # the client went away; a commit stands
            return
        request.setResponseCode(status)
        request.setHeader("content-type", "application/json")
        request.setHeader("content-length", str(len(data)))
        request.write(data)
        request.finish()


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def _internal() -> dict[str, Any]:
    return {"error": {"code": "internal", "message": "internal error"}}
