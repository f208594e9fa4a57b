"""Logic checks and writes of the register, on real stores made by Alembic: SQLite and
PostgreSQL (the ``store_url`` fixture runs each test on both)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from alembic import command
from alembic.util.exc import CommandError
from sqlalchemy import func, select

from devtools.synthetic import Synth
from hub.domain.changes import parse_change
from hub.domain.errors import FormatError
from hub.domain.register import Register
from hub.store import Store
from hub.store.engine import alembic_config, make_engine, migrate
from hub.store.tables import identity_records, outbox, request_ids, residents
from protocols.identity import decode_identity_update

TODAY = dt.date(2026, 11, 27)


@pytest.fixture
def writer(store_url: str) -> Any:
    migrate(store_url)
    engine = make_engine(store_url)
    yield Register(Store(engine), "222038", frozenset({"prefecture"}), lambda: 1e9)
    engine.dispose()


def counts(w: Register) -> tuple[int, ...]:
    with w.store.engine.connect() as c:
        return tuple(c.scalar(select(func.count()).select_from(t))
                     for t in (residents, identity_records, outbox, request_ids))


def apply(w: Register, obj: dict[str, Any]) -> Any:
    [outcome] = w.apply_batch([parse_change(obj, TODAY)])
    return outcome


def test_migration_matches_the_models(store_url: str) -> None:
    migrate(store_url)
    try:
        command.check(alembic_config(store_url))  # raises if the models drifted
    except CommandError as exc:  # pragma: no cover - the failure message is the point
        pytest.fail(str(exc))


def test_move_in_writes_resident_identity_outbox_and_request(writer: Register) -> None:
    synth = Synth(seed=1, today=TODAY)
    out = apply(writer, synth.arrival())
    assert out.error is None and out.response["update_seq"] == 1
    assert counts(writer) == (1, 1, 1, 1)
    [item] = out.outbox
    assert (item.link, item.seq, item.update_seq) == ("prefecture", 1, 1)
    msg = decode_identity_update(item.payload)  # what goes out validates against the XSD
    assert msg.previous_update_seq is None and msg.record.reason == "01"  # 転入


@pytest.mark.parametrize("rule", ["move_in_existing_resident", "move_within_changes_more_than_address",
                                  "unknown_resident", "change_to_removed_record"])
def test_logic_refusals_write_nothing(writer: Register, rule: str) -> None:
    synth = Synth(seed=2, today=TODAY)
    for change in synth.stream(40):
        assert apply(writer, change).error is None
    before = counts(writer)
    bad = dict(synth.invalid())[rule]
    out = apply(writer, bad)
    assert out.error is not None and out.error.code == rule
    assert counts(writer) == before


def test_birth_for_existing_code_and_outside_city(writer: Register) -> None:
    synth = Synth(seed=3, today=TODAY)
    first = synth.arrival()
    apply(writer, first)
    born = dict(first, request_id="R-birth", reason="birth")
    born["resident"] = {k: v for k, v in first["resident"].items() if k != "previous_address"}
    assert apply(writer, born).error.code == "birth_existing_resident"
    other = synth.arrival()
    other["resident"]["address"]["municipality_code"] = "131016"
    assert apply(writer, other).error.code == "address_outside_city"


def test_individual_number_in_use(writer: Register) -> None:
    synth = Synth(seed=4, today=TODAY)
    a, b = synth.arrival(), synth.arrival()
    b["resident"]["individual_number"] = a["resident"]["individual_number"]
    apply(writer, a)
    before = counts(writer)
    assert apply(writer, b).error.code == "individual_number_in_use"
    assert counts(writer) == before


def test_repeated_request_id_returns_first_answer(writer: Register) -> None:
    synth = Synth(seed=5, today=TODAY)
    change = synth.arrival()
    first = apply(writer, change)
    before = counts(writer)
    again = apply(writer, change)
    assert again.duplicate and again.response == first.response
    assert counts(writer) == before
    changed = dict(change, operator_id="someone-else")
    conflict = apply(writer, changed)
    assert conflict.error.code == "request_id_reused" and conflict.error.status == 409
    assert counts(writer) == before


def test_batch_sees_its_own_earlier_changes(writer: Register) -> None:
    synth = Synth(seed=6, today=TODAY)
    arrival = synth.arrival()
    person = synth.people[-1]
    move = synth.change("move_within", person)
    repeat = dict(arrival)
    outcomes = writer.apply_batch([parse_change(x, TODAY) for x in (arrival, move, repeat)])
    assert [o.error for o in outcomes] == [None, None, None]
    assert outcomes[2].duplicate and outcomes[2].response == outcomes[0].response
    upd = decode_identity_update(outcomes[1].outbox[0].payload)
    assert upd.previous_update_seq == 1 and upd.record.update_seq == 2
    assert counts(writer) == (1, 2, 2, 2)


def test_counters_survive_restart(writer: Register) -> None:
    synth = Synth(seed=7, today=TODAY)
    for change in synth.stream(10):
        apply(writer, change)
    again = Register(writer.store, "222038", frozenset({"prefecture"}), lambda: 1e9)
    out = apply(again, synth.arrival())
    assert out.response["update_seq"] == 11 and out.outbox[0].seq == 11


def test_removed_record_then_move_in_again(writer: Register) -> None:
    synth = Synth(seed=8, today=TODAY)
    arrival = synth.arrival()
    apply(writer, arrival)
    person = synth.people[-1]
    assert apply(writer, synth.change("move_out", person)).error is None
    back = dict(arrival, request_id="R-back")
    out = apply(writer, back)
    assert out.error is None  # 転入 of a person whose record was removed is a new arrival
    upd = decode_identity_update(out.outbox[0].payload)
    assert upd.record.record_status == "active" and upd.previous_update_seq == 2


def test_store_errors_never_quote_values(writer: Register, store_url: str) -> None:
    import logging

    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from hub.store.tables import audit_log
    from hub.support.logs import JsonFormatter

    name = "".join(["髙橋", "一郎"])  # not in the source line a traceback shows
    with pytest.raises(IntegrityError) as err, writer.store.engine.begin() as conn:
        conn.execute(insert(audit_log).values(at=1.0, operator_id=None, terminal_id=name,
                                              action="x"))
    if store_url.startswith("sqlite"):  # SQLAlchemy's own text: parameters hidden
        assert "髙橋一郎" not in str(err.value)
    else:  # PostgreSQL's own text quotes the failing row: it must never reach a log
        assert "髙橋一郎" in str(err.value)
    record = logging.LogRecord("jukihub.store", logging.ERROR, __file__, 1, "failed", None,
                               (err.type, err.value, err.tb))
    line = JsonFormatter().format(record)
    assert "髙橋一郎" not in line and '"exc_type": "IntegrityError"' in line


def test_identity_record_carries_seion_kana_and_gaiji_counts(writer: Register) -> None:
    synth = Synth(seed=9, today=TODAY)
    change = synth.arrival()
    change["resident"].update(name_kanji="髙橋　𠮷男", name_kana="タカハシ　ヨシオ")
    change["resident"]["address"]["text"] = "静岡県沼津市大手町１丁目１番﨑"
    out = apply(writer, change)
    rec = decode_identity_update(out.outbox[0].payload).record
    assert rec.name_seion_kana == "タカハシ　ヨシオ"
    assert (rec.name_gaiji_count, rec.address_gaiji_count, rec.gaiji_flag) == (2, 1, True)


def test_foreign_residents_get_a_ministry_notice(store_url: str) -> None:
    from protocols.moj import decode_notice

    url = store_url
    migrate(url)
    w = Register(Store(make_engine(url)), "222038", frozenset({"prefecture", "moj"}),
                       lambda: 1e9)
    synth = Synth(seed=12, today=TODAY)
    japanese, foreign = synth.arrival(), synth.arrival()
    japanese["resident"]["resident_type"] = "japanese"
    japanese["resident"].pop("foreign", None)
    foreign["resident"]["resident_type"] = "foreign"
    foreign["resident"]["foreign"] = {"nationality": "フィリピン", "article_30_45": "2"}
    assert [o.link for o in apply(w, japanese).outbox] == ["prefecture"]
    out = apply(w, foreign)
    assert [(o.link, o.seq) for o in out.outbox] == [("prefecture", 2), ("moj", 1)]
    notice = decode_notice(out.outbox[1].payload)
    assert (notice.nationality, notice.article_30_45, notice.previous_update_seq) == (
        "フィリピン", "2", None)
    wrong = synth.arrival()
    wrong["resident"]["resident_type"] = "japanese"
    wrong["resident"]["foreign"] = {"nationality": "フィリピン", "article_30_45": "2"}
    with pytest.raises(FormatError) as err:
        parse_change(wrong, TODAY)
    assert err.value.code == "unexpected_item"


def test_integrated_atena_is_assigned_with_the_first_individual_number(store_url: str) -> None:
    from mock_endpoints.population import individual_number
    from protocols.intermediate import CodeRequest, decode_copy_update, decode_to_intermediate

    url = store_url
    migrate(url)
    w = Register(Store(make_engine(url)), "222038", frozenset({"prefecture", "intermediate"}),
                       lambda: 1e9)
    synth = Synth(seed=13, today=TODAY)
    adult = synth.arrival()
    adult["resident"]["individual_number"] = individual_number(synth.rng)
    baby = synth.arrival(newborn=True)  # no 個人番号 yet
    out = apply(w, adult)
    # The 符号 request comes first, then the first copy.
    assert [o.link for o in out.outbox] == ["prefecture", "intermediate", "intermediate"]
    assert decode_to_intermediate(out.outbox[1].payload) == CodeRequest(
        "000000000000001", 1, "222038", adult["resident"]["individual_number"])
    first = decode_copy_update(out.outbox[2].payload)
    assert first.integrated_atena == "000000000000001" and first.previous_update_seq is None
    assert [o.link for o in apply(w, baby).outbox] == ["prefecture"]
    person = synth.people[-1]
    designation = synth.change("number_designation", person)  # the number arrives later
    out = apply(w, designation)
    assert isinstance(decode_to_intermediate(out.outbox[1].payload), CodeRequest)
    copy = decode_copy_update(out.outbox[2].payload)
    assert (copy.integrated_atena, copy.previous_update_seq) == ("000000000000002", None)
    again = synth.change("move_within", person)
    copy = decode_copy_update(apply(w, again).outbox[1].payload)
    assert (copy.integrated_atena, copy.previous_update_seq) == ("000000000000002", 3)


def test_two_hubs_writers_take_numbers_from_the_store_without_gaps_or_repeats(
        store_url: str) -> None:
    """Ten registers (ten hubs' store writers, each with its own engine) apply batches
    on one store at once, released together: the 更新順番号 and each link's sequence
    come out 1..n with none twice and none skipped, and of two new residents claiming
    one 個人番号 at the same moment exactly one is accepted."""
    import threading

    migrate(store_url)
    links = frozenset({"prefecture", "intermediate"})
    engines = [make_engine(store_url) for _ in range(10)]
    hubs = [Register(Store(e), "222038", links, lambda: 1e9) for e in engines]
    synth = Synth(seed=7, today=TODAY)
    batches = [[parse_change(synth.arrival(), TODAY) for _ in range(5)] for _ in range(8)]
    rival = [synth.arrival(), synth.arrival()]
    rival[1]["resident"]["individual_number"] = rival[0]["resident"]["individual_number"]
    start = threading.Barrier(len(batches) + 2)
    results: list[Any] = []

    def run(hub: Register, batch: list[Any]) -> None:
        start.wait()
        results.extend(hub.apply_batch(batch))

    threads = [threading.Thread(target=run, args=(hubs[i], b)) for i, b in enumerate(
        [*batches, [parse_change(rival[0], TODAY)], [parse_change(rival[1], TODAY)]])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        accepted = [o for o in results if o.error is None]
        refused = [o for o in results if o.error is not None]
        assert len(accepted) == 41 and [o.reason for o in refused] == [
            "individual_number_in_use"]
        seqs = sorted(o.response["update_seq"] for o in accepted)
        assert seqs == list(range(1, 42))
        with engines[0].connect() as c:
            for link in links:
                stored = [r[0] for r in c.exec_driver_sql(
                    f"SELECT seq FROM outbox WHERE link = '{link}' ORDER BY seq")]
                assert stored == list(range(1, len(stored) + 1)) and stored
                assert c.exec_driver_sql(f"SELECT next_seq FROM link_state WHERE link = "
                                         f"'{link}'").scalar() == len(stored) + 1
    finally:
        for e in engines:
            e.dispose()
