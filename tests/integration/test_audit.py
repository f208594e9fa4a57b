"""The operation log of a real hub: what staff and the register system did is on it,
anchored outside the database at stop, and ``jukihub audit verify`` finds a changed,
a deleted and a cut-off entry, naming the first bad one; search and review read it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
from zoneinfo import ZoneInfo

from devtools.harness import Env
from devtools.synthetic import Synth
from tests.integration.test_prefecture_path import post_all


def test_the_log_is_anchored_verified_searched_and_reviewed(env: Env) -> None:
    post_all(env.client(), list(Synth(seed=811).stream(5)))
    clerk = env.staff("op001", "window_clerk")
    assert clerk.get("/v1/inbox")[0] == 200
    assert clerk.post("/v1/consistency-checks", {})[0] == 403  # not a clerk's right
    assert env.hub is not None
    env.hub.stop()  # the hub anchors the log's head as it stops

    anchors = [json.loads(x) for x in (env.tmp / "audit-anchors.jsonl").read_text().splitlines()]
    db = sqlite3.connect(env.tmp / "jukihub.db")
    [(head,)] = db.execute("SELECT max(id) FROM audit_log").fetchall()
    assert anchors[-1]["id"] == head and len(anchors[-1]["hash"]) == 64

    ok = env.jukihub("audit", "verify")  # for an auditor: in Japanese
    assert ok.returncode == 0 and f"操作ログは完全です: {head} 件" in ok.stdout, (
        ok.stdout + ok.stderr)
    english = env.jukihub("--lang", "en", "audit", "verify")
    assert f"intact: {head} entries" in english.stdout

    found = env.jukihub("audit", "search", "--operator", "op001", "--csv")
    rows = list(csv.DictReader(io.StringIO(found.stdout)))
    assert [(r["function"], r["result"]) for r in rows] == [
        ("session.login", "ok"), ("inbox.list", "ok"), ("consistency.run", "not_permitted")]
    assert all(r["terminal"] == "operator.jukihub.test" for r in rows)
    changes = env.jukihub("audit", "search", "--function", "change.*", "--csv")
    assert len(list(csv.DictReader(io.StringIO(changes.stdout)))) == 5

    month = dt.datetime.now(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m")
    review = env.jukihub("audit", "review", "--month", month, "--csv")
    by_operator = {r["operator_id"]: r for r in csv.DictReader(io.StringIO(review.stdout))}
    assert (by_operator["op001"]["calls"], by_operator["op001"]["refusals"]) == ("3", "1")
    # For people: in Japanese (the supervisor's monthly reading), English on request.
    shown = env.jukihub("audit", "review", "--month", month)
    assert shown.stdout.startswith(f"操作ログの月次確認 {month}（Asia/Tokyo"), shown.stdout
    header, *lines = shown.stdout.splitlines()[1:]
    assert header.split() == ["操作者", "操作数", "照会", "個人番号の表示", "出力",
                              "勤務時間外", "拒否", "端末"], header
    op001 = next(line.split() for line in lines if line.startswith("op001"))
    assert op001[1:3] == ["3", "0"] and op001[6] == "1"  # calls, queries; refusals
    english = env.jukihub("--lang", "en", "audit", "review", "--month", month).stdout
    assert english.startswith(f"operation log review {month}") and "outside working hours" in english
    assert env.jukihub("audit", "review", "--month", "2026-13").returncode == 2

    def verify() -> str:
        run = env.jukihub("--lang", "en", "audit", "verify")
        assert run.returncode == 1, run.stdout
        return run.stdout

    # Changed: an entry's operator rewritten.
    [(operator,)] = db.execute("SELECT operator_id FROM audit_log WHERE id = 3").fetchall()
    db.execute("UPDATE audit_log SET operator_id = 'someone' WHERE id = 3")
    db.commit()
    assert "first bad entry 3:" in verify()
    db.execute("UPDATE audit_log SET operator_id = ? WHERE id = 3", (operator,))
    db.commit()
    assert env.jukihub("audit", "verify").returncode == 0  # as written again

    # Deleted: an entry in the middle gone.
    row = db.execute("SELECT * FROM audit_log WHERE id = 4").fetchone()
    db.execute("DELETE FROM audit_log WHERE id = 4")
    db.commit()
    assert "first bad entry 4: entry 4 is missing" in verify()
    japanese = env.jukihub("audit", "verify").stdout
    assert "操作ログは改ざんされています: 最初の不正な記録 4: 記録 4 がありません" in japanese
    db.execute(f"INSERT INTO audit_log VALUES ({', '.join('?' * len(row))})", row)
    db.commit()
    assert env.jukihub("audit", "verify").returncode == 0

    # Cut off: the newest entries gone — only the anchor outside the database shows it.
    db.execute("DELETE FROM audit_log WHERE id > ?", (head - 2,))
    db.commit()
    assert f"first bad entry {head - 1}: the log ends at entry {head - 2}" in verify()
    db.close()
