"""What the listener serves besides the JSON API shares: answers for a browser
(``send``: a length, a content security policy, no sniffing, no referrer, a cache
policy), and where the files are.  The API's documents are ``hub.api.docs``, the staff
console ``hub.api.console``; the site that mounts them beside the API is
``hub.api.site``."""

from __future__ import annotations

from pathlib import Path

from twisted.web import server

HERE = Path(__file__).parent
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'; "
        "form-action 'self'")


def send(request: server.Request, status: int, ctype: str, data: bytes,
         cache: bool = False) -> None:
    """Answer ``request`` (unless its client went away)."""
    if request._disconnected or request.finished:
        return
    request.setResponseCode(status)
    request.setHeader("content-type", ctype)
    request.setHeader("content-length", str(len(data)))
    request.setHeader("content-security-policy", _CSP)
    request.setHeader("x-content-type-options", "nosniff")
    request.setHeader("referrer-policy", "no-referrer")
    request.setHeader("cache-control", "max-age=3600" if cache else "no-store")
    request.write(data)
    request.finish()
