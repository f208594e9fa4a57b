"""Certificates: a revoked one is refused on every listener (the intake, /metrics, a
mock's) and every link, from the next handshake, without a restart; days left are a
metric."""

from __future__ import annotations

import shutil
import ssl
from pathlib import Path

import pytest

from devtools.harness import Env
from hub.support.client import HttpsClient


def test_a_revoked_certificate_is_refused_everywhere(tmp_path: Path, certs_dir: Path) -> None:
    own = tmp_path / "certs"  # this test revokes: its own copy of the session's
    shutil.copytree(certs_dir, own)
    (tmp_path / "run").mkdir()
    e = Env(tmp_path / "run", own)
    try:
        e.start_mock()
        e.start_other_mock("moj")
        e.start_hub()
        assert e.hub is not None
        for link in ("prefecture", "moj"):
            e.hub.wait_event(lambda ev, n=link: ev.get("event") == "link.ready"
                             and ev.get("link") == n)
        assert e.client().get("/healthz")[0] == 200
        m = e.metrics()
        assert 800 < m['jukihub_certificate_expiry_seconds{party="intake"}'] / 86400 < 826
        assert 6 < m['jukihub_certificate_expiry_seconds{party="crl:ca.crl"}'] / 86400 <= 7

        # A client of the intake listener, and of the metrics listener.
        for party in ("register", "monitor"):
            assert e.jukihub("certs", "revoke", party).returncode == 0
        with pytest.raises((ssl.SSLError, ConnectionError)):
            e.client().get("/healthz")
        with pytest.raises((ssl.SSLError, ConnectionError)):
            HttpsClient("127.0.0.1", e.metrics_port, own, "monitor").get("/metrics")
        e.hub.wait_event(lambda ev: ev.get("event") == "tls.revoked"
                         and ev.get("peer") == "register.jukihub.test")
        assert e.client("operator").get("/healthz")[0] == 401  # others still connect

        # A link's peer (the hub is the client), and a mock's listener (the hub's own
        # certificate refused by the ministry's side).
        mark = e.hub.mark()
        assert e.jukihub("certs", "revoke", "prefecture").returncode == 0
        e.control("POST", "/drop")
        e.hub.wait_event(lambda ev: ev.get("event") == "tls.revoked"
                         and ev.get("peer") == "prefecture.jukihub.test", after=mark)
        e.hub.wait_event(lambda ev: ev.get("event") == "link.connect_failed"
                         and ev.get("link") == "prefecture", after=mark)
        mark = e.hub.mark()
        assert e.jukihub("certs", "revoke", "hub").returncode == 0
        e.other_control("moj", "POST", "/drop")
        e.hub.wait_event(lambda ev: ev.get("event") == "link.connect_failed"
                         and ev.get("link") == "moj", after=mark)
        e.others["moj"][0].wait_event(lambda ev: ev.get("event") == "tls.revoked"
                                      and ev.get("peer") == "hub.jukihub.test")
    finally:
        e.stop()
