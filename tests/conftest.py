from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from certs.devca import init_certs
from devtools.pgserver import PgServer
from hub.config import load_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def certs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dev certificates for every party in config.toml, made once per test session."""
    d = tmp_path_factory.mktemp("certs")
    init_certs(d, load_config(ROOT / "config.toml").parties)
    return d


@pytest.fixture(scope="session")
def rogue_certs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Certificates with the same names from another CA."""
    d = tmp_path_factory.mktemp("rogue")
    init_certs(d, load_config(ROOT / "config.toml").parties)
    return d


@pytest.fixture(scope="session")
def pg_server() -> Any:
    """A private PostgreSQL server (Debian's binaries, a unix socket in a temp folder)
    for the whole test session."""
    server = PgServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each kind the hub supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return str(request.getfixturevalue("pg_server").database())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The leak scan runs last, so it searches what the whole session wrote."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/integration/test_leaks.py"))
