"""Fixtures of the integration tests: the hub and mocks as real processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devtools.harness import Env


@pytest.fixture
def hub_store(tmp_path: Path) -> str | None:
    """The hub's store URL for the integration tests (None: SQLite in the test folder);
    ``test_postgres.py`` overrides it."""
    return None


@pytest.fixture
def env_with(tmp_path: Path, certs_dir: Path, hub_store: str | None) -> Any:
    """Start the mock prefecture, the other mocks named (with ``extra`` overrides per
    mock), and the hub; stop them after."""
    started: list[Env] = []

    def start(*others: str, extra: dict[str, list[str]] | None = None,
              hub_extra: list[str] | None = None) -> Env:
        e = Env(tmp_path, certs_dir, store_url=hub_store)
        started.append(e)
        e.start_mocks({name: (extra or {}).get(name) for name in others})
        e.start_hub(hub_extra)
        return e

    yield start
    for e in started:
        e.stop()


@pytest.fixture
def env(env_with: Any) -> Env:
    """The hub and the mock prefecture only."""
    return env_with()
