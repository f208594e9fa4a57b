"""The initial load (``hub.domain.initial_load``) on real stores (SQLite and PostgreSQL):
planted bad rows refused by line and rule while the rest load, an interrupted load
that goes on exactly where it stopped, files refused whole, the numbers the register
hands out afterwards, and the pool of processes giving the same result as one."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from devtools.register_file import HEADER, write_register
from hub.api.openapi import Contract
from hub.commands.load import pooled
from hub.domain.changes import parse_change
from hub.domain.initial_load import Loader, LoadError, Progress
from hub.domain.register import Register
from hub.store import Store
from hub.store.engine import make_engine, migrate
from protocols.intermediate import CodeRequest, CopyUpdate, decode_to_intermediate

TODAY = dt.date(2026, 12, 1)
CITY = "222038"
LINKS = frozenset({"prefecture", "intermediate"})
SCHEMA = Contract().schema_check("Change")


class Interrupted(Exception):
    pass


def loader(store: Store, **kw: Any) -> Loader:
    register = Register(store, CITY, LINKS, lambda: 1.8e9)
    return Loader(register, SCHEMA, None, TODAY, "initial-load", "t01", **kw)


@pytest.fixture
def store(store_url: str) -> Any:
    migrate(store_url)
    s = Store(make_engine(store_url))
    yield s
    s.dispose()


def rows(store: Store, sql: str) -> list[Any]:
    with store.reading() as db:
        return db.rows(sql)


def test_bad_rows_are_refused_by_line_and_rule_and_the_rest_load(store: Store,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    planted = write_register(path, 400, faults=10, today=TODAY)
    seen: list[Progress] = []
    summary = loader(store, batch_rows=64).load(path, seen.append)
    assert (summary.rows, summary.accepted, summary.refused) == (410, 400, 10)
    refused = store.read(store.loads.refusals, summary.load_id)
    assert [(r.line, r.code) for r in refused] == planted
    # Each names the column it is about (where one column is at fault), never a value.
    text = path.read_text(encoding="utf-8").splitlines()
    personal = [HEADER.index(c) for c in ("resident_code", "atena_number", "name_kanji",
                                          "name_kana", "birth_date", "address",
                                          "individual_number")]
    for r in refused:
        cells = text[r.line - 1].split(",")
        assert not [i for i in personal if i < len(cells) and cells[i]
                    and cells[i] in r.message], r
    assert {r.code: r.item for r in refused}["invalid_check_digit"] == "resident_code"
    assert {r.code: r.item for r in refused}["individual_number_in_use"] == "individual_number"
    # The residents and one identity record each, with the file's 更新順番号.
    assert rows(store, "SELECT count(*) FROM residents") == [(400,)]
    assert rows(store, "SELECT min(update_seq), max(update_seq), count(*) FROM "
                "identity_records") == [(1, 400, 400)]
    # Progress rose to the whole file; the 操作ログ has the start and the end.
    assert seen[-1].rows == 410 and [p.rows for p in seen] == sorted(p.rows for p in seen)
    assert rows(store, "SELECT action, result, count FROM audit_log ORDER BY id") == [
        ("register.load", "started", None), ("register.load", "finished", 400)]


def test_an_interrupted_load_goes_on_where_it_stopped(store_url: str, tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    planted = write_register(path, 300, faults=6, today=TODAY)
    migrate(store_url)
    store = Store(make_engine(store_url))

    def stop_at(n: int) -> None:
        if n == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        loader(store, batch_rows=40).load(path, after_batch=stop_at)
    assert rows(store, "SELECT count(*) FROM residents") == [(120 - _planted_in(planted, 120),)]
    summary = loader(store, batch_rows=40).load(path)
    assert summary.resumed_after > 0
    assert (summary.accepted, summary.refused) == (300, 6)
    assert [(r.line, r.code) for r in store.read(store.loads.refusals, summary.load_id)] == planted
    # Exactly what a load that never stopped stores.
    straight = Store(make_engine(f"sqlite:///{tmp_path / 'straight.db'}"))
    migrate(str(straight.engine.url))
    loader(straight, batch_rows=1000).load(path)
    what = ("SELECT resident_code, atena_number, individual_number, integrated_atena, "
            "name_kanji, address, last_update_seq, card_state FROM residents "
            "ORDER BY resident_code")
    assert rows(store, what) == rows(straight, what)
    again = loader(store).load(path)  # finished: nothing done
    assert again.already is not None and again.already.accepted == 300
    assert rows(store, "SELECT count(*) FROM residents") == [(300,)]
    store.dispose()
    straight.dispose()


def _planted_in(planted: list[tuple[int, str]], rows_read: int) -> int:
    """How many planted rows are among the first ``rows_read`` data rows."""
    return sum(1 for line, _ in planted if line <= rows_read + 1)


@pytest.mark.parametrize(("content", "code"), [
    (b"", "empty_file"),
    (b"resident_code,shoe_size\n", "unknown_column"),
    (b"resident_code,resident_code\n", "repeated_column"),
    (b"resident_code,atena_number\n", "missing_column"),
    (",".join(HEADER).encode() + b"\n" + b"x" * 100 + b"\xff\xfe\n", "not_utf8"),
    (",".join(HEADER).encode() + b'\n"unclosed' + b",a" * 30 + b'"x\n', "bad_csv"),
])
def test_a_file_that_is_not_a_register_file_is_refused_whole(store: Store, tmp_path: Path,
                                                             content: bytes, code: str) -> None:
    good = tmp_path / "good.csv"
    write_register(good, 5, today=TODAY)
    path = tmp_path / "bad.csv"
    # The bad part after good rows: nothing of the file is written all the same.
    lines = good.read_bytes().splitlines(keepends=True)
    path.write_bytes(content if code in ("empty_file", "unknown_column", "repeated_column",
                                         "missing_column")
                     else b"".join(lines) + content.split(b"\n", 1)[1])
    with pytest.raises(LoadError) as refused:
        loader(store).load(path)
    assert refused.value.code == code
    assert rows(store, "SELECT count(*) FROM residents") == [(0,)]
    assert rows(store, "SELECT count(*) FROM initial_loads") == [(0,)]


def test_the_register_numbers_on_after_the_load(store: Store, tmp_path: Path) -> None:
    """Its next 更新順番号 and 団体内統合宛名番号 follow the file's; a resident with a 個人番号
    but no 団体内統合宛名番号 gets one, and the intermediate server hears of it."""
    path = tmp_path / "register.csv"
    write_register(path, 200, integrated=0.5, today=TODAY, first_update_seq=5000)
    summary = loader(store).load(path)
    assert summary.accepted == 200
    assigned = rows(store, "SELECT resident_code, integrated_atena, last_update_seq FROM "
                    "residents WHERE integrated_atena IS NOT NULL ORDER BY integrated_atena")
    with path.open(encoding="utf-8") as f:
        in_file = {r["resident_code"] for r in csv.DictReader(f) if r["integrated_atena"]}
    given = {r[0]: r[1] for r in assigned if r[0] in in_file}
    hub_made = {r[0]: (r[1], r[2]) for r in assigned if r[0] not in in_file}
    assert len(given) == len(in_file) and hub_made
    sent = [decode_to_intermediate(bytes(r[0])) for r in rows(
        store, "SELECT payload FROM outbox WHERE link = 'intermediate' ORDER BY seq")]
    assert {(m.integrated_atena, m.update_seq) for m in sent if isinstance(m, CodeRequest)} \
        == set(hub_made.values())
    copies = [m for m in sent if isinstance(m, CopyUpdate)]
    assert len(copies) == len(hub_made) and all(c.previous_update_seq is None for c in copies)
    assert rows(store, "SELECT count(*) FROM outbox WHERE link <> 'intermediate'") == [(0,)]
    register = Register(store, CITY, LINKS, lambda: 1.8e9)
    with register.job_transaction():
        assert register.numbers.update_seq == 5200
        assert int(register.numbers.next_integrated_atena()) > max(int(r[1]) for r in assigned)
    # A change of a loaded resident chains on from the record the file gave.
    code = next(iter(given))
    [outcome] = register.apply_batch([parse_change({
        "request_id": "after-load-1", "operator_id": "op001", "terminal_id": "t01",
        "reason": "name_change", "event_date": "2026-11-30", "resident_code": code,
        "resident": {"name_kanji": "新しい　名前", "name_kana": "アタラシイ　ナマエ"}}, TODAY)])
    assert outcome.error is None and outcome.response is not None
    assert outcome.response["update_seq"] == 5200
    assert rows(store, "SELECT previous_update_seq FROM identity_records WHERE "
                "update_seq = 5200") == [(rows(store, "SELECT update_seq FROM identity_records "
                                               f"WHERE resident_code = '{code}' AND "
                                               "update_seq < 5200")[0][0],)]


def test_a_file_without_update_seq_is_numbered_in_order(store: Store, tmp_path: Path) -> None:
    full = tmp_path / "full.csv"
    write_register(full, 30, today=TODAY)
    lines = full.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "numberless.csv"
    path.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n",
                    encoding="utf-8")
    loader(store).load(path)
    assert rows(store, "SELECT update_seq FROM identity_records ORDER BY update_seq") == [
        (n,) for n in range(1, 31)]


def test_the_pool_of_processes_checks_as_this_process_does(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    planted = write_register(path, 500, faults=10, today=TODAY)
    results = []
    for name, how in (("here", None), ("pool", pooled(1, None))):
        url = f"sqlite:///{tmp_path / name}.db"
        migrate(url)
        s = Store(make_engine(url))
        summary = loader(s, batch_rows=50, parse_batches=how).load(path)
        results.append(([(r.line, r.code) for r in s.read(s.loads.refusals, summary.load_id)],
                        rows(s, "SELECT resident_code, integrated_atena, last_update_seq "
                             "FROM residents ORDER BY resident_code")))
        s.dispose()
    assert results[0] == results[1] and results[0][0] == planted


def test_a_header_in_japanese_names_the_same_columns(store: Store, tmp_path: Path) -> None:
    from hub.domain.initial_load import BY_NAME

    english = tmp_path / "register.csv"
    write_register(english, 20, today=TODAY)
    header, rest = english.read_text(encoding="utf-8").split("\n", 1)
    path = tmp_path / "住民.csv"
    labels = [BY_NAME[name].label for name in header.split(",")]
    assert "住民票コード" in labels and "最終更新順番号" in labels
    path.write_text(",".join(labels) + "\n" + rest, encoding="utf-8-sig")  # with a BOM
    summary = loader(store).load(path)
    assert (summary.accepted, summary.refused) == (20, 0)
