"""Schemathesis, the real tool from its own virtualenv (``.venv-schemathesis``, as the
TLS scanner has its own), against the OpenAPI document the running hub serves: every
operation of the intake and the staff API, with data that fits the document and data
that does not, over mutual TLS — once as the register system (its certificate, no
session) and once as a supervisor at a staff terminal (a session).  Checks: no 5xx, every
status and body as the document says, and data the document forbids refused with a 4xx.

A bounded run in ``make test`` (``SCHEMATHESIS_EXAMPLES``, default 12 per operation and
mode); a long run with ``SCHEMATHESIS_EXAMPLES=500 pytest tests/integration/test_schemathesis.py``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.harness import ROOT, Env

ST = ROOT / ".venv-schemathesis" / "bin" / "st"
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,negative_data_rejection")
# Long-polls answer at once (a generated wait of 120 s per case would be the whole run),
# and the run keeps its own session (logging it out would leave the rest unauthorised).
SETTINGS = """
[parameters]
"query.wait" = 0
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, certs_dir: Path) -> Iterator[
        tuple[Env, Path]]:
    tmp = tmp_path_factory.mktemp("schemathesis")
    e = Env(tmp, certs_dir)
    try:
        e.start_mocks({"national": None, "card": None, "intermediate": None, "moj": None})
        e.start_hub()
        status, document = e.client().get("/openapi.yaml")  # the document served
        assert status == 200 and document.startswith("openapi:"), document[:200]
        path = tmp / "openapi.yaml"
        path.write_text(document, encoding="utf-8")
        (tmp / "schemathesis.toml").write_text(SETTINGS, encoding="utf-8")
        yield e, path
    finally:
        e.stop()


def run(e: Env, document: Path, party: str, *extra: str) -> subprocess.CompletedProcess[str]:
    certs = e.certs_dir
    env = {k: v for k, v in os.environ.items()
           if k not in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")}
    return subprocess.run(
        [str(ST), "--config-file", str(document.with_name("schemathesis.toml")), "run",
         str(document), "--url", f"https://127.0.0.1:{e.intake_port}",
         "--request-cert", str(certs / f"{party}.pem"),
         "--request-cert-key", str(certs / f"{party}.key"),
         "--tls-verify", str(certs / "ca.pem"), "--checks", CHECKS,
         "--max-examples", str(EXAMPLES), "--seed", "160", "--request-timeout", "30",
         "--exclude-operation-id", "logOut", "--workers", "1", *extra],
        cwd=document.parent, capture_output=True, text=True, timeout=1200, env=env)


def _verdict(done: subprocess.CompletedProcess[str]) -> Any:
    print(done.stdout[-6000:])
    assert done.returncode == 0, (done.stdout[-6000:], done.stderr[-3000:])


def test_the_register_system_meets_the_document(served: tuple[Env, Path]) -> None:
    e, document = served
    _verdict(run(e, document, "register"))


def test_a_supervisor_meets_the_document(served: tuple[Env, Path]) -> None:
    e, document = served
    staff = e.staff("st001", "supervisor")
    _verdict(run(e, document, "operator", "--header", f"Authorization: Bearer {staff.token}"))
