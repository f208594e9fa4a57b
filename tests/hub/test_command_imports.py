"""A ``jukihub`` command that does not touch the store — a mock endpoint, ``status``,
``deadletters`` — starts without importing the store's libraries: every test harness
spawns dozens of mocks, and staff wait on every command."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "alembic", "psycopg", "jinja2", "pykka")


def test_the_commands_and_the_mocks_import_no_store_nor_hub_insides() -> None:
    code = ("import sys, hub.commands.main, mock_endpoints.serve; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", f"imported at start: {out}"
