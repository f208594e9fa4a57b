"""``jukihub export``: a file of the register without the 個人番号, written only for
whoever asked for it, after a second supervisor's approval when it covers more than
the bulk threshold; each file on the record with its SHA-256."""

from __future__ import annotations

import csv
import hashlib
import io
import os
from typing import Any

from devtools.harness import STAFF_PASSWORD
from devtools.synthetic import Synth
from tests.integration.test_prefecture_path import post_all


def test_an_export_waits_for_approval_and_every_file_is_on_the_record(
        env_with: Any, tmp_path: Any) -> None:
    e = env_with(hub_extra=["controls.bulk_threshold=10"])
    synth = Synth(seed=862)
    people = [synth.arrival() for _ in range(12)]
    post_all(e.client(), people)
    e.add_staff("op301", "supervisor")
    e.staff_made.add("op301")
    second = e.staff("op302")

    def export(*args: str) -> Any:
        return e.jukihub("export", "--user", "op301", "--port", str(e.intake_port), *args,
                         env={"JUKIHUB_PASSWORD": STAFF_PASSWORD})

    asked = export("residents")
    assert asked.returncode == 3, asked.stdout + asked.stderr  # a bulk output: waits
    export_id = asked.stdout.split()[1].rstrip(":")
    approval = asked.stdout.split("approval ")[1].split()[0]
    out = tmp_path / "residents.csv"
    early = export("--id", export_id, "--out", str(out))
    assert early.returncode == 2 and "not_approved" in early.stderr and not out.exists()
    assert second.post(f"/v1/exports/{export_id}/file", {})[1]["error"]["code"] == (
        "not_the_requester")
    assert second.post(f"/v1/approvals/{approval}", {"decision": "approve"})[0] == 200

    written = export("--id", export_id, "--out", str(out))
    assert written.returncode == 0, written.stderr
    data = out.read_bytes()
    assert os.stat(out).st_mode & 0o077 == 0  # readable by its writer only
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert len(rows) == 12 and "individual_number" not in rows[0]
    assert {r["resident_code"] for r in rows} == {p["resident_code"] for p in people}
    assert not any(p["resident"].get("individual_number", "-") in data.decode()
                   for p in people)
    [medium] = [tuple(r) for r in e.read_store(
        "SELECT kind, subject, people, approval_id, operator_id, sha256 FROM media")]
    assert medium == ("export.residents", export_id, 12, approval, "op301",
                      hashlib.sha256(data).hexdigest())
    logged = [tuple(r) for r in e.read_store(
        "SELECT operator_id, action, request_id, count FROM audit_log WHERE action LIKE "
        "'export.%' ORDER BY id")]
    assert logged == [("op301", "export.request", export_id, 12),
                      ("op301", "export.written", export_id, 12)]
