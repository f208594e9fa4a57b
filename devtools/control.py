"""The mock endpoints' control API, from a test, the demo or the bench: plain HTTP on
loopback, JSON in and out."""

from __future__ import annotations

import http.client
import json
from typing import Any

from devtools.leaks import WATCH


def control(host: str, port: int, method: str, path: str, body: Any = None,
            timeout: float = 60.0) -> tuple[int, Any]:
    """Call a mock endpoint's loopback control API; (status, decoded JSON).  What is
    pushed through it is noted as personal data the hub must never write out."""
    WATCH.note_sent(body)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data,
                     headers={"Content-Type": "application/json"} if data else {})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()
