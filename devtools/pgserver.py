"""A private PostgreSQL server for the tests and the benchmark: Debian's own binaries,
a throwaway cluster in a temporary folder, reachable only through a unix socket there.

``PgServer.start()`` runs ``initdb`` and ``pg_ctl start -w`` (which returns once the
server accepts connections: no sleeping); ``database()`` creates a fresh database and
returns its SQLAlchemy URL; ``stop()`` shuts the server down and removes the folder.
Run as root, the server runs as the ``postgres`` user (PostgreSQL refuses root), which
Debian's package creates.  ``scripts/ensure-services`` installs the package.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

PORT = 5432  # only names the socket file; nothing listens on TCP


class PgServerError(RuntimeError):
    pass


def bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with ``initdb``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]), reverse=True)
    if not found:
        raise PgServerError("PostgreSQL's server binaries are not installed: run "
                            "scripts/ensure-services (Debian's postgresql package)")
    return Path(found[0]).parent


class PgServer:
    def __init__(self) -> None:
        self.bin = bindir()
        self.root = Path(tempfile.mkdtemp(prefix="jukihub-pg-"))
        self.data = self.root / "data"
        self.socket = self.root / "socket"
        self.as_owner: list[str] = []
        self.started = False

    def _run(self, *cmd: str) -> None:
        done = subprocess.run([*self.as_owner, *cmd], capture_output=True, text=True)
        if done.returncode != 0:
            raise PgServerError(f"{Path(cmd[0]).name} failed: {done.stderr.strip()[-500:]}")

    def start(self) -> PgServer:
        self.root.chmod(0o755)
        self.socket.mkdir()
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            self.as_owner = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.socket, "postgres")
            self.data.mkdir(mode=0o700)
            shutil.chown(self.data, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "jukihub",
                  "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                  str(self.data / "server.log"), "-o",
                  f"-k {self.socket} -p {PORT} -c listen_addresses=''", "start")
        self.started = True
        return self

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://jukihub@/{database}?host={self.socket}&port={PORT}"

    def database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(host=str(self.socket), port=PORT, user="jukihub",
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.started:
            subprocess.run([*self.as_owner, str(self.bin / "pg_ctl"), "-D", str(self.data),
                            "-m", "fast", "-w", "stop"], capture_output=True)
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)
