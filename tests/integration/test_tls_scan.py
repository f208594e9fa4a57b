"""A real TLS scanner (sslyze, in its own virtualenv ``.venv-scan`` that ``make test``
sets up) against every listener of the hub (the intake, /metrics) and of the five mock
endpoints: only TLS 1.2 and 1.3, only forward-secret AEAD suites on 1.2, and a client
certificate required everywhere."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from devtools.harness import ROOT, Env

SCANNER = ROOT / ".venv-scan" / "bin" / "python"
OLD = ("ssl_2_0_cipher_suites", "ssl_3_0_cipher_suites", "tls_1_0_cipher_suites",
       "tls_1_1_cipher_suites")


def test_every_listener_offers_only_strong_tls_and_requires_a_client_certificate(
        env_with: Any, tmp_path: Path) -> None:
    assert SCANNER.exists(), "the scanner's virtualenv is missing: run `make test`"
    e: Env = env_with("national", "card", "intermediate", "moj")
    targets = {"intake": e.intake_port, "metrics": e.metrics_port,
               "prefecture": e.mock_port, **{n: e.others[n][1] for n in e.others}}
    out = tmp_path / "scan.json"
    scan = subprocess.run(
        # No client certificate: the scanner is the stranger a listener must turn away;
        # it still sees every protocol and suite the listener would negotiate.
        [str(SCANNER), "-m", "sslyze", "--json_out", str(out), "--quiet",
         "--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3",
         "--mozilla_config", "disable",
         *(f"127.0.0.1:{port}" for port in targets.values())],
        capture_output=True, text=True, timeout=300)
    assert scan.returncode == 0, scan.stdout[-2000:] + scan.stderr[-2000:]
    results = json.loads(out.read_text())["server_scan_results"]
    by_port = {r["server_location"]["port"]: r for r in results}
    problems = []
    for name, port in targets.items():
        r = by_port[port]
        if r["scan_status"] != "COMPLETED":
            problems.append((name, "not scanned", r.get("connectivity_error_trace")))
            continue
        auth = r["connectivity_result"]["client_auth_requirement"]
        if auth != "REQUIRED":
            problems.append((name, "client certificate", auth))
        cmds = r["scan_result"]
        for old in OLD:
            accepted = cmds[old]["result"]["accepted_cipher_suites"]
            if accepted:
                problems.append((name, old, [c["cipher_suite"]["name"] for c in accepted]))
        tls12 = [c["cipher_suite"]["name"]
                 for c in cmds["tls_1_2_cipher_suites"]["result"]["accepted_cipher_suites"]]
        weak = [c for c in tls12 if "ECDHE" not in c or not ("GCM" in c or "CHACHA20" in c)]
        if weak or not tls12:
            problems.append((name, "TLS 1.2 suites", weak or "none"))
        if not cmds["tls_1_3_cipher_suites"]["result"]["accepted_cipher_suites"]:
            problems.append((name, "TLS 1.3", "not offered"))
    assert problems == [], "\n".join(map(str, problems))
    assert len(targets) == 7
