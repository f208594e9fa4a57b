"""A staff terminal for the browser tests: a headless Chromium behind the terminal's
own mutual-TLS client.

The browser talks plain HTTP to ``TerminalProxy`` on loopback (the same machine: the
terminal), which forwards each request to the hub over mutual TLS with the terminal's
client certificate (``operator``) — the hub sees exactly what it sees from a staff
terminal.  (Headless Chromium cannot be made to present a client certificate without
machine-wide browser policy; a terminal's TLS client in front of it is what such a
setup amounts to.)  Chromium counts ``http://localhost`` as a secure origin, so the
console's ``Secure`` cookie works as it does over HTTPS.
"""

from __future__ import annotations

import http.client
import shutil
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from hub.support.tls import blocking_client_context

_FORWARDED = ("content-type", "cookie", "content-length", "accept-language", "referer")
_RETURNED = ("content-type", "set-cookie", "location", "retry-after", "content-language")


class TerminalProxy:
    def __init__(self, hub_port: int, certs_dir: Path, party: str = "operator") -> None:
        context = blocking_client_context(certs_dir, party)

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPSConnection("127.0.0.1", hub_port, context=context,
                                                   timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() in _FORWARDED}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status)
                    for k, v in resp.getheaders():
                        if k.lower() in _RETURNED:
                            self.send_header(k, v)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_POST = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def browser(lang: str = "ja") -> Any:
    """A headless Debian Chromium under Selenium, with a fresh profile and no
    background traffic (this machine's network is closed), asking for pages in
    ``lang`` as a staff terminal's browser set up in Japanese does."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        raise RuntimeError("chromium and chromedriver are not installed: run "
                           "scripts/ensure-services")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="jukihub-chromium-")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--window-size=1280,900", f"--lang={lang}"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    b = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    b.implicitly_wait(0)
    return b
