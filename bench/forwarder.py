"""The baseline without a hub: an independent, naive per-change forwarder.

What a register system would do with no hub in between: for each change, commit it to
its own SQLite store, POST it over mutual TLS to the peer, and commit the peer's
answer — one change at a time.  The peer (``python -m bench.forwarder peer CERTS DB``)
commits every body it receives to its SQLite store before answering.  Both sides use
the standard library only (``sqlite3``, ``ssl``, ``http``) and the same durability as
the hub (WAL, ``synchronous=FULL``), so the figure is what the simplest design
reaches on this machine, measured in the same run as the hub.
"""

from __future__ import annotations

import http.client
import json
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

_SCHEMA = ("CREATE TABLE IF NOT EXISTS changes (id INTEGER PRIMARY KEY, body BLOB NOT NULL, "
           "answer BLOB)")


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(_SCHEMA)
    return db


def serve(certs: Path, db_path: Path) -> None:
    """The peer: HTTPS with a required client certificate; commits, then answers."""
    db = _open(db_path)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the forwarder's client expects

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: without this, Nagle's algorithm
            # and the client's delayed ACK cost 40 ms a request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            db.execute("BEGIN")
            row = db.execute("INSERT INTO changes (body) VALUES (?)", (body,)).lastrowid
            db.execute("COMMIT")
            answer = json.dumps({"id": row, "status": "applied"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(certs / "ca.pem"))
    ctx.load_cert_chain(str(certs / "prefecture.pem"), str(certs / "prefecture.key"))
    server = HTTPServer(("127.0.0.1", 0), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()


def forward(certs: Path, workdir: Path, changes: list[dict[str, Any]]) -> float:
    """Run the peer, forward ``changes`` one by one; changes per second."""
    peer = subprocess.Popen([sys.executable, "-m", "bench.forwarder", "peer", str(certs),
                             str(workdir / "forwarder-peer.db")], stdout=subprocess.PIPE)
    try:
        assert peer.stdout is not None
        port = json.loads(peer.stdout.readline())["port"]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_verify_locations(cafile=str(certs / "ca.pem"))
        ctx.load_cert_chain(str(certs / "hub.pem"), str(certs / "hub.key"))
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
        db = _open(workdir / "forwarder.db")
        bodies = [json.dumps(c, ensure_ascii=False).encode() for c in changes]
        started = time.perf_counter()
        for body in bodies:
            db.execute("BEGIN")
            row = db.execute("INSERT INTO changes (body) VALUES (?)", (body,)).lastrowid
            db.execute("COMMIT")
            conn.request("POST", "/changes", body=body,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            answer = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"the forwarder's peer answered {resp.status}")
            db.execute("BEGIN")
            db.execute("UPDATE changes SET answer = ? WHERE id = ?", (answer, row))
            db.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
        db.close()
        return len(bodies) / elapsed
    finally:
        peer.kill()
        peer.wait()


if __name__ == "__main__":
    if sys.argv[1] == "peer":
        serve(Path(sys.argv[2]), Path(sys.argv[3]))
