"""A proxy in front of the private PostgreSQL server (``devtools.pgserver``) that can cut
one hub off from the database without killing anything: ``cut()`` makes every
connection through it a black hole — bytes either way are read and dropped, the
sockets stay open, nobody is told — as a network partition looks to both ends.
``mend()`` lets new connections through again (the cut ones stay dead).

It listens on TCP loopback (port 0, read back) and forwards to the server's Unix
socket: the hub connects over TCP, with its keepalives.  (A cut here is at the
application's level: the proxy's kernel still acknowledges what the hub sends, so the
hub's TCP timeouts do not fire as they would in a real partition — the hub's own
lease deadline is what stops its links.)  Threads: one accepting, two per connection
pumping; the test's thread calls ``cut``/``mend``/``close``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

from devtools.pgserver import PORT


class PgProxy:
    def __init__(self, server_socket_dir: Path) -> None:
        self.upstream = str(Path(server_socket_dir) / f".s.PGSQL.{PORT}")
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(64)
        self.flowing = threading.Event()
        self.flowing.set()
        self.cuts = 0  # bumped by each cut: a connection of an older era stays dead
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="pgproxy").start()

    def url(self, server_url: str) -> str:
        """``server_url`` (the private server's) through this proxy."""
        head, _, _query = server_url.partition("?")
        database = head.rsplit("/", 1)[1]
        return f"postgresql+psycopg://jukihub@127.0.0.1:{self.port}/{database}"

    def cut(self) -> None:
        """From now on, nothing passes: a partition (both ends keep their sockets)."""
        with self.lock:
            self.cuts += 1
            self.flowing.clear()

    def mend(self) -> None:
        """New connections pass again; those open at the cut stay cut."""
        self.flowing.set()

    def close(self) -> None:
        self.flowing.clear()
        with self.lock:
            socks, self.sockets = self.sockets, []
        for s in [self.listener, *socks]:
            with contextlib.suppress(OSError):
                s.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.flowing.is_set():
                with self.lock:
                    self.sockets.append(client)  # accepted and left hanging
                continue
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                server.connect(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:
                era = self.cuts
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b, era), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, era: int) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                if self.cuts == era:  # a real close passes on; after a cut, silence
                    with contextlib.suppress(OSError):
                        sink.shutdown(socket.SHUT_WR)
                return
            if self.cuts != era:
                continue  # cut: read and dropped
            try:
                sink.sendall(data)
            except OSError:
                return
