"""A small blocking HTTPS client with a client certificate: the CLI's (``jukihub
consistency run``), and the dev tools' (demo, tests, benchmark) for the intake API and
``/metrics``.  Its TLS context comes from ``hub.support.tls``, like every other.
"""

from __future__ import annotations

import http.client
import json
import ssl
from pathlib import Path
from typing import Any

from hub.support.tls import blocking_client_context


class HttpsClient:
    """One keep-alive connection; reconnects when the server closed it."""

    def __init__(self, host: str, port: int, certs_dir: Path, party: str,
                 timeout: float = 60.0, context: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.context = context or blocking_client_context(certs_dir, party)
        self.conn: http.client.HTTPSConnection | None = None
        self.token: str | None = None  # a staff session's, after ``log_in``
        self.last_headers: dict[str, str] = {}  # the last answer's headers (lower case)

    def request(self, method: str, path: str, body: Any = None,
                raw: bytes | None = None, content_type: str = "application/json",
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (
            json.dumps(body, ensure_ascii=False).encode() if body is not None else None)
        headers = {**({"Content-Type": content_type} if data is not None else {}),
                   **(headers or {})}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        while True:
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.host, self.port,
                                                        timeout=self.timeout,
                                                        context=self.context)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                break
            except OSError:
                # A kept-alive connection the server has since closed: one fresh try.
                # (Safe for the intake: a repeated request id gets its first answer.)
                self.close()
                if not reused:
                    raise
        self.last_headers = {k.lower(): v for k, v in resp.getheaders()}
        ctype = resp.getheader("content-type", "")
        return resp.status, (json.loads(payload) if "json" in ctype else payload.decode())

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        return self.request("POST", path, body)

    def get(self, path: str) -> tuple[int, Any]:
        return self.request("GET", path)

    def delete(self, path: str) -> tuple[int, Any]:
        return self.request("DELETE", path)

    def log_in(self, user_id: str, password: str) -> tuple[int, Any]:
        """Open a staff session (from a terminal certificate); later calls carry it."""
        status, body = self.post("/v1/sessions", {"user_id": user_id, "password": password})
        if status == 201:
            self.token = body["token"]
        return status, body

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
