"""The mock endpoints' loopback HTTP control API (JSON), for test harnesses and people:
state, what was applied and refused, long-polls, faults, pushes.  See README, "Mock
endpoints"."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from twisted.web import resource, server

from mock_endpoints.base import MockEndpoint


def request_body(request: server.Request, empty: bytes = b"{}") -> bytes:
    """A control request's body (``empty`` when there is none)."""
    content = request.content
    return (content.read() if content is not None else b"") or empty


class ControlAPI(resource.Resource):
    """Loopback HTTP control API (JSON).  See README, "Mock endpoints"."""

    isLeaf = True

    def __init__(self, endpoint: MockEndpoint) -> None:
        super().__init__()
        self.ep = endpoint

    def render(self, request: server.Request) -> bytes | int:
        path = request.path.decode()
        method = request.method.decode()
        raw_args: dict[bytes, list[bytes]] = request.args or {}
        args = {k.decode(): v[0].decode() for k, v in raw_args.items()}
        try:
            if method == "GET" and path == "/state":
                return self._json(request, self._state())
            if method == "GET" and path == "/applied":
                after, limit = int(args.get("after", 0)), int(args.get("limit", 1000))
                rows = self.ep.db.execute(
                    "SELECT seq, resident_code, update_seq, withdrawn, applied_at FROM "
                    "applied_log WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)).fetchall()
                return self._json(request, [
                    {"seq": r[0], "resident_code": r[1], "update_seq": r[2],
                     "withdrawn": bool(r[3]), "applied_at": r[4]} for r in rows])
            if method == "GET" and path == "/refusals":
                rows = self.ep.db.execute(
                    "SELECT seq, permanent, code FROM refusals ORDER BY id").fetchall()
                return self._json(request, [{"seq": r[0], "permanent": bool(r[1]),
                                             "code": r[2]} for r in rows])
            if method == "GET" and path == "/senders":  # connections that sent data
                return self._json(request, [
                    {"connection": n, "first": v[0], "last": v[1], "frames": int(v[2])}
                    for n, v in sorted(self.ep.senders.items())])
            if method == "GET" and path == "/wait":
                return self._wait(request, args)
            if method == "POST" and path in ("/faults", "/push", "/seed", "/drop"):
                return self._json(request, self._post(path, request))
            if method == "DELETE" and path == "/faults":
                self._set_faults({"stall": False})
                self.ep.faults.clear()
                return self._json(request, {"faults": {}})
            if method == "GET" and path == "/pushes":
                return self._json(request, self.ep.pushes.listed())
            extra = self.ep.control(method, path, args, request)
            if extra is not None:
                return self._json(request, extra)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            request.setResponseCode(400)
            return self._json(request, {"error": str(exc)})
        request.setResponseCode(404)
        return self._json(request, {"error": "no such control"})

    def _post(self, path: str, request: server.Request) -> Any:
        """The controls that change something: faults, a push, a seed, a drop."""
        if path == "/faults":
            self._set_faults(json.loads(request_body(request)))
            return {"faults": self.ep.faults}
        if path == "/push":
            spec = json.loads(request_body(request))
            return {"seq": self.ep.push(self.ep.build_push(spec))}
        if path == "/seed":
            docs = json.loads(request_body(request, b"[]"))
            if not isinstance(docs, list) or not all(isinstance(d, str) for d in docs):
                raise ValueError("POST /seed takes a JSON list of documents (base64)")
            return {"seeded": self.ep.seed([base64.b64decode(d, validate=True)
                                            for d in docs])}
        self.ep.drop_connections()
        return {"dropped": True}

    def _set_faults(self, spec: dict[str, Any]) -> None:
        if "refuse" in spec:
            r = spec["refuse"]
            if r.get("kind") not in ("temporary", "permanent"):
                raise ValueError("refuse.kind is temporary or permanent")
            self.ep.faults["refuse"] = {"kind": r["kind"], "count": int(r.get("count", 1)),
                                        "code": str(r.get("code", "injected"))}
        if "mute_queries" in spec:  # leave queries unanswered (the hub's timeout)
            self.ep.faults["mute_queries"] = bool(spec["mute_queries"])
        if "hold_numbers" in spec:  # national: generate numbers, notify none
            self.ep.faults["hold_numbers"] = bool(spec["hold_numbers"])
        if "drop_after" in spec:
            self.ep.faults["drop_after"] = int(spec["drop_after"])
        if "cut_mid_frame" in spec:  # at the next read: half of it, then the connection goes
            self.ep.faults["cut_mid_frame"] = bool(spec["cut_mid_frame"])
        if "stall" in spec:
            stall = bool(spec["stall"])
            self.ep.faults["stall"] = stall
            for p in self.ep.connections:
                (p.tr.pauseProducing if stall else p.tr.resumeProducing)()
            if not stall:
                self.ep.faults.pop("stall", None)

    def _state(self) -> dict[str, Any]:
        return {"link": self.ep.link, "applied_seq": self.ep.applied,
                "refusals": self.ep.counter("refusals"),
                "connections": len(self.ep.connections),
                "handshakes_refused": self.ep.handshakes_refused,
                "queries_answered": self.ep.queries_answered,
                "faults": self.ep.faults, **self.ep.describe()}

    def _wait(self, request: server.Request, args: dict[str, str]) -> int:
        timeout = float(args.pop("timeout", "30"))
        (name, target), = args.items()
        d = self.ep.wait_for(name, int(target))

        def expire() -> None:
            if not d.called:
                d.errback(TimeoutError())

        timer: Any = self.ep.clock.callLater(timeout, expire)

        def done(_: Any) -> None:
            if timer.active():
                timer.cancel()
            request.write(json.dumps(self._state()).encode())
            request.finish()

        def timed_out(f: Any) -> None:
            request.setResponseCode(504)
            request.write(json.dumps({"error": "timeout", **self._state()}).encode())
            request.finish()

        request.setHeader("content-type", "application/json")
        d.addCallbacks(done, timed_out)
        return server.NOT_DONE_YET

    @staticmethod
    def _json(request: server.Request, obj: Any) -> bytes:
        request.setHeader("content-type", "application/json")
        return json.dumps(obj, ensure_ascii=False, default=str).encode()
