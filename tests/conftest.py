from __future__ import annotations

from pathlib import Path

import pytest

from certs.devca import init_certs
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
