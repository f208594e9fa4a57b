"""Admission, in the order every request meets it: the certificate (an account's, or 403
``client_not_allowed``), the route (404, 405), then — for a staff terminal — the session
(401 ``login_required``) and the right (403 ``not_permitted``).  A refusal is in the
操作ログ before it is answered (``Refusal`` carries its entry), and the caller learns
nothing of what its parameters or body would have done: nothing of them is looked at
until ``then`` has the caller.  A staff member's session and right are decided by the
hub process (``Backend.authorize``: sessions live in the store); a system account's by
its role, here.

Used by the dispatch (``hub.api.server``) for HTTP requests and for the console's
in-process calls alike.  Threads: the reactor thread of the process that serves the
intake.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.web import server

from hub.api.backend import Backend
from hub.api.context import Answer, Call, IntakeMeters
from hub.api.openapi import Contract
from hub.api.routes import Route, methods_of
from hub.api.sessions import refusal_entry
from hub.config.access import SESSION_LOGIN, AccessConfig, Admission, Principal
from hub.domain.errors import HubError
from hub.store import AuditEntry


class Refusal(HubError):
    """A call refused for who makes it, with its 操作ログ entry."""

    def __init__(self, code: str, message: str, status: int, entry: AuditEntry) -> None:
        super().__init__(code, message, status=status)
        self.entry = entry


def internal() -> dict[str, object]:
    """The body of a 500: nothing of what failed."""
    return {"error": {"code": "internal", "message": "internal error"}}


class Admitter:
    """See the module docstring."""

    def __init__(self, access: AccessConfig, contract: Contract, backend: Backend,
                 meters: IntakeMeters) -> None:
        self.access, self.contract, self.backend, self.meters = (access, contract, backend,
                                                                   meters)

    def caller_and_route(self, client: str, request: server.Request | None, method: str,
                         found: tuple[Route, dict[str, str]] | None,
                         ) -> tuple[Route, dict[str, str]]:
        """The certificate first (anyone without an account is refused, whatever they
        ask for), then the route."""
        if self.access.admission(client) is Admission.UNKNOWN:
            right = (self.contract.operation(found[0].method, found[0].path).right
                     if found is not None else "-")
            raise self._refuse(client, right, "client_not_allowed", "this client "
                               "certificate may not use this operation", 403)
        return _route(request, method, found)

    def authorized(self, client: str, authorization: str | None, route: Route, cid: str,
                    then: Callable[[Call], None], refused: Callable[[Answer], None]) -> None:
        """Session and right, before anything of the request is looked at: ``then``
        gets the caller (its principal set, unless it is logging in), or ``refused``
        the refusal once it is in the 操作ログ.  Both on the reactor thread."""
        right = self.contract.operation(route.method, route.path).right
        try:
            principal, token = self._admit(authorization, route, client, right)
        except HubError as err:
            self.answer_refusal(err, refused)
            return
        caller = Call(client, {}, None, None, right, token, principal, cid)
        if principal is not None or token is None:  # a system account, or a login
            then(caller)
            return

        def decided(result: Call | Answer | None) -> None:
            if isinstance(result, Call):
                then(result)
            else:  # a refusal (on the record), the store too busy to ask, or a bug
                refused(result if result is not None else (500, internal()))

        self.backend.authorize(caller, decided)

    def answer_refusal(self, err: HubError, refused: Callable[[Answer], None]) -> None:
        answer: Answer = (err.status, {"error": err.to_json()})
        if isinstance(err, Refusal):  # answered once it is on the record
            self.backend.record(err.entry, lambda failed: refused(
                answer if failed is None else (failed.status, {"error": failed.to_json()})))
        else:
            refused(answer)

    def _admit(self, authorization: str | None, route: Route, client: str,
               right: str) -> tuple[Principal | None, str | None]:
        """Who calls, as far as the certificate tells: a system account is decided here
        by its role; a staff terminal's call goes on with its session token, which the
        hub process checks (``Backend.authorize``); anyone else is refused."""
        access = self.access
        kind = access.admission(client)
        if kind is Admission.SYSTEM:
            principal = access.system(client)
            if principal.may(right):
                return principal, None
            raise self._refuse(client, right, "not_permitted", f"this system account's role "
                               f"does not include the right {right}", 403)
        if kind is Admission.TERMINAL and route.submit is None:
            scheme, _, token = (authorization or "").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return None, token.strip()
            if right == SESSION_LOGIN:
                return None, None
            raise self._refuse(client, right, "login_required", "log in first: POST "
                               "/v1/sessions, then send Authorization: Bearer <token>", 401)
        raise self._refuse(client, right, "client_not_allowed", "this client certificate "
                           "may not use this operation", 403)

    def _refuse(self, client: str, right: str, code: str, message: str,
                status: int) -> Refusal:
        """A refusal by certificate: counted, logged, and for the 操作ログ."""
        self.meters.client_refused()
        return Refusal(code, message, status, refusal_entry(client, right, code))


def _route(request: server.Request | None, method: str,
           found: tuple[Route, dict[str, str]] | None) -> tuple[Route, dict[str, str]]:
    if found is None:
        raise HubError("not_found", "no such endpoint", status=404)
    if found[0].method != method:
        allowed = ", ".join(methods_of(found[0].path))
        if request is not None:
            request.setHeader("allow", allowed)
        raise HubError("method_not_allowed", f"use {allowed}", status=405)
    return found
