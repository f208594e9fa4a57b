from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from certs.devca import init_certs
from devtools.leaks import WATCH
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


@pytest.fixture(scope="session", autouse=True)
def nothing_personal_written() -> Any:
    """At the end of each test process (each pytest-xdist worker has its own hubs and
    its own ``WATCH``): nothing personal any test gave a hub is in what the hubs wrote
    (``tests/integration/test_leaks.py`` says what is searched).  A hit fails the run
    as an error at this fixture's teardown, naming the value's kind and where."""
    yield
    hits = WATCH.hits()
    assert not hits, f"{len(hits)} personal values written; the first in: {hits[0][1]}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The leak scan runs last, so it searches what the whole session wrote (of its
    process: with several workers, ``nothing_personal_written`` checks each one's)."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/integration/test_leaks.py"))
