"""The initial load (初期移行): a whole register from a CSV file into the store, through
the intake's own checks, in bounded memory, resumable after an interruption.

A city that starts with the hub already has its residents — on its register system and
in the outside systems' copies (the prefecture's, J-LIS's, the intermediate server's,
the ministry's).  ``jukihub load FILE`` brings them into the hub's store as they stand,
so that the first change of each afterwards follows on from the record the outside
systems hold: nothing is sent for a loaded resident, with one exception — a resident
with a 個人番号 but no 団体内統合宛名番号 in the file gets one from the hub, and the
intermediate server hears of it as the intake would tell it (the 符号 request and the
first 副本).

The file (``COLUMNS``, README "The initial load"): UTF-8 CSV with a header row naming
the columns (any order; the required ones present), one resident per row, an empty
cell for an item the resident does not have.  Each row is made into the change the
intake would receive for a new resident — a 転入 when it has a 転入前住所, an 出生
otherwise — and goes through the intake's checks: the OpenAPI document's schema (the
caller passes its compiled check), the format checks (``parse_change``, 外字 into
unified characters), the logic checks of a new resident (``rules.check_change``), and
the load's own: a 住民票コード, 宛名番号, 個人番号, 団体内統合宛名番号 or 更新順番号 that
someone on the register (or an earlier row) holds is refused.  A refused row is
recorded with its line, the rule and the column — never a value — and the rest go on.

Before anything is written the whole file is read once: its SHA-256 (which names the
load), that it is UTF-8 and CSV throughout, how many rows (for the progress).  A file
that fails here is refused whole (``LoadError``) and nothing is written.  Then the rows
go in batches, each batch one transaction with the load's progress (the last line) and
its refused rows; a load interrupted anywhere goes on after its last commit when run
again with the same file, and a finished one is not loaded twice.  Memory is one batch:
the checks against the register read only the batch's values from the store.

The load writes as the store's only writer: the hub must be stopped (the command
checks the store's heartbeat).  Each load is recorded in the 操作ログ.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from hub.domain import identity, rules
from hub.domain.changes import Change, Reason, parse_change
from hub.domain.errors import FormatError, HubError, LogicError
from hub.domain.register import Register
from hub.domain.resident import Card, Resident
from hub.domain.routing import route
from hub.store import AuditEntry, Conn, LoadRefusal, LoadState, RegisterWrites, Store
from protocols.card import STATES as CARD_STATES
from protocols.charconv import UnifiedCharset


class LoadError(HubError):
    """The file cannot be loaded at all (its layout, its encoding, its CSV): nothing
    was written."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str       # the header's name (the API's item name, flattened)
    label: str      # 項目名
    required: bool
    note: str = ""


# The layout of a register file, in the order ``jukihub load --layout`` prints it.
COLUMNS: tuple[Column, ...] = (
    Column("resident_code", "住民票コード", True, "11 digits with its check digit"),
    Column("atena_number", "宛名番号", True, "1–40 letters, digits or . _ -"),
    Column("household_number", "世帯番号", True),
    Column("relationship", "続柄", True, "to the 世帯主 (世帯主 for the head)"),
    Column("name_kanji", "氏名", True, "50 characters"),
    Column("name_kana", "ふりがな", True, "full-width katakana"),
    Column("birth_date", "生年月日", True, "YYYY-MM-DD (as are all dates)"),
    Column("sex", "性別", True, "1 男, 2 女"),
    Column("resident_type", "住民区分", True, "japanese or foreign"),
    Column("municipality_code", "市町村コード", True, "the city's own"),
    Column("address", "住所", True, "150 characters"),
    Column("aza_code", "大字・字コード", False),
    Column("postal_code", "郵便番号", False, "7 digits"),
    Column("became_resident_date", "住民となった年月日", True),
    Column("address_set_date", "住所を定めた年月日", True),
    Column("previous_municipality_code", "転入前市町村コード", False,
           "empty for an arrival from abroad"),
    Column("previous_address", "転入前住所", False),
    Column("individual_number", "個人番号", False, "12 digits"),
    Column("integrated_atena", "団体内統合宛名番号", False,
           "15 digits; with a 個人番号 only; empty: the hub assigns one and tells the "
           "intermediate server"),
    Column("card_state", "個人番号カード状態", False,
           "none, issued, suspended, revoked, collected, returned (default none)"),
    Column("card_state_date", "個人番号カード状態年月日", False),
    Column("old_surname_kanji", "旧氏漢字", False),
    Column("old_surname_kana", "旧氏ふりがな", False),
    Column("old_surname_gaiji_change_seq", "旧氏外字変更連番", False),
    Column("romaji_name", "ローマ字氏名", False),
    Column("romaji_old_surname", "ローマ字旧氏", False),
    Column("nationality", "国籍・地域", False, "foreign residents"),
    Column("article_30_45", "法30条45規定区分", False, "1–4"),
    Column("residence_status", "在留資格", False),
    Column("residence_period_end", "在留期間の満了の日", False),
    Column("residence_card_number", "在留カード等の番号", False),
    Column("common_name", "通称", False),
    Column("update_prohibited", "更新禁止", False, "0 or 1"),
    Column("prospective", "予定者", False, "0 or 1"),
    Column("exclusive", "排他", False, "0 or 1"),
    Column("reason", "最終異動事由", False,
           "the hub's name of the resident's last change; default move_in with a "
           "転入前住所, birth otherwise"),
    Column("event_date", "最終異動年月日", False, "default 住所を定めた年月日"),
    Column("notified_date", "最終届出年月日", False),
    Column("update_seq", "最終更新順番号", False,
           "from the CS's 本人確認情報: the outside systems chain the next change to it; "
           "give it for every row or none (empty: the hub numbers the rows in order)"),
)
# A header may name each column by its name or by its 項目名 (a file exported with
# Japanese headings loads as it is).
BY_NAME = {c.name: c for c in COLUMNS} | {c.label: c for c in COLUMNS}
REQUIRED = tuple(c.name for c in COLUMNS if c.required)
# The reasons a loaded resident's last change may be: any but a 消除 (the load takes
# the register's residents, not its 除票).
LAST_REASONS = frozenset(r.value for r in Reason) - {Reason.MOVE_OUT, Reason.DEATH}
_FLAGS = ("update_prohibited", "prospective", "exclusive")
_PLAIN = ("atena_number", "individual_number", "household_number", "name_kanji",
          "name_kana", "birth_date", "sex", "relationship", "romaji_name",
          "romaji_old_surname", "resident_type", "became_resident_date", "address_set_date")
_FOREIGN = ("nationality", "article_30_45", "residence_status", "residence_period_end",
            "residence_card_number", "common_name")
# Where the schema names an item inside a nested object: the column it came from.
_NESTED = {("address", "text"): "address", ("previous_address", "text"): "previous_address",
           ("previous_address", "municipality_code"): "previous_municipality_code",
           ("old_surname", "kanji"): "old_surname_kanji",
           ("old_surname", "kana"): "old_surname_kana",
           ("old_surname", "gaiji_change_seq"): "old_surname_gaiji_change_seq"}
MAX_INT = 2_147_483_647

# The schema check of a change object (the OpenAPI document's ``Change``): the path and
# the rule of the first thing wrong with it, or ``None``.
SchemaCheck = Callable[[dict[str, Any]], tuple[tuple[str, ...], str] | None]


@dataclass(frozen=True, slots=True)
class Row:
    """One row that passed the format checks."""

    line: int
    change: Change               # the new resident's change, its reason the one recorded
    update_seq: int | None       # given in the file
    integrated_atena: str | None  # given in the file
    card: Card

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its values (see ``Change.__reduce__``): rows come back from the
        pool of processes that checks them."""
        return Row, (self.line, self.change, self.update_seq, self.integrated_atena,
                     self.card)


@dataclass(frozen=True, slots=True)
class Progress:
    rows: int          # rows read so far (this run and before it)
    total: int         # rows in the file
    accepted: int
    refused: int
    seconds: float     # this run's


@dataclass(frozen=True, slots=True)
class Summary:
    load_id: int
    file_name: str
    rows: int
    accepted: int
    refused: int
    seconds: float
    resumed_after: int = 0        # the line a resumed load went on after
    already: LoadState | None = None  # the file was loaded before: nothing done


# ---- one row --------------------------------------------------------------------------


def _refused(line: int, err: HubError) -> LoadRefusal:
    return LoadRefusal(line, err.code, err.item, err.message)


def _int(value: str, name: str) -> int:
    if not (value.isascii() and value.isdigit() and len(value) <= 10
            and 1 <= int(value) <= MAX_INT):
        raise FormatError("invalid_number", f"{name} must be a whole number from 1 to "
                          f"{MAX_INT}", name)
    return int(value)


def _flag(value: str, name: str) -> bool:
    if value not in ("0", "1"):
        raise FormatError("invalid_flag", f"{name} must be 0 or 1", name)
    return value == "1"


def change_object(v: dict[str, str], line: int, load_tag: str, operator_id: str,
                  terminal_id: str) -> tuple[dict[str, Any], str]:
    """The change the intake would receive for this row's resident (``v``: its non-empty
    cells; its schema and format checks still to come), and the reason to record (the
    row's last change)."""
    resident = _resident_items(v)
    moved_in = "previous_address" in resident
    check_reason = "move_in" if moved_in else "birth"
    reason = v.get("reason", check_reason)
    if reason not in LAST_REASONS:
        raise FormatError("invalid_reason", "reason must be the hub's name of a change "
                          "that leaves the resident on the register", "reason")
    obj: dict[str, Any] = {
        "request_id": f"{load_tag}-{line}", "operator_id": operator_id,
        "terminal_id": terminal_id, "reason": check_reason,
        "event_date": v.get("event_date", v.get("address_set_date", "")),
        "resident_code": v.get("resident_code", ""), "resident": resident}
    if "notified_date" in v:
        obj["notified_date"] = v["notified_date"]
    return obj, reason


def _resident_items(v: dict[str, str]) -> dict[str, Any]:
    """The row's cells (the empty ones left out) as the API's resident items."""
    resident: dict[str, Any] = {k: v[k] for k in _PLAIN if k in v}
    resident["address"] = {"municipality_code": v.get("municipality_code", ""),
                           "text": v.get("address", "")}
    for part in ("aza_code", "postal_code"):
        if part in v:
            resident["address"][part] = v[part]
    if "previous_address" in v or "previous_municipality_code" in v:
        if "previous_address" not in v:
            raise FormatError("missing_item", "previous_municipality_code needs "
                              "previous_address", "previous_address")
        resident["previous_address"] = {"text": v["previous_address"]}
        if "previous_municipality_code" in v:
            resident["previous_address"]["municipality_code"] = v["previous_municipality_code"]
    if any(k in v for k in ("old_surname_kanji", "old_surname_kana",
                            "old_surname_gaiji_change_seq")):
        old: dict[str, Any] = {"kanji": v.get("old_surname_kanji", ""),
                               "kana": v.get("old_surname_kana", "")}
        if "old_surname_gaiji_change_seq" in v:
            seq = v["old_surname_gaiji_change_seq"]
            old["gaiji_change_seq"] = 0 if seq == "0" else _int(
                seq, "old_surname_gaiji_change_seq")
        resident["old_surname"] = old
    if foreign := {k: v[k] for k in _FOREIGN if k in v}:
        resident["foreign"] = foreign
    for name in _FLAGS:
        if name in v:
            resident[name] = _flag(v[name], name)
    return resident


def _schema_item(path: tuple[str, ...]) -> str | None:
    """The column a schema refusal's path names."""
    names = [p for p in path if not p.isdigit()]
    if names[:1] == ["resident"]:
        names = names[1:]
    if len(names) >= 2 and (names[0], names[1]) in _NESTED:
        return _NESTED[(names[0], names[1])]
    return names[-1] if names else None


def parse_row(cells: dict[str, str], line: int, today: dt.date, schema: SchemaCheck,
              charset: UnifiedCharset | None, load_tag: str, operator_id: str,
              terminal_id: str) -> Row:
    """A row as a new resident's change after the intake's schema and format checks, or
    ``FormatError`` naming the column and the rule."""
    v = {k: x for k, x in cells.items() if x != ""}
    obj, reason = change_object(v, line, load_tag, operator_id, terminal_id)
    wrong = schema(obj)
    if wrong is not None:
        path, rule = wrong
        item = _schema_item(path)
        raise FormatError("schema_invalid", f"{item or 'the row'} fails the schema rule "
                          f"'{rule}'", item)
    change = parse_change(obj, today, charset)
    update_seq = _int(v["update_seq"], "update_seq") if "update_seq" in v else None
    integrated = v.get("integrated_atena")
    if integrated is not None:
        if not (integrated.isascii() and integrated.isdigit() and len(integrated) == 15):
            raise FormatError("invalid_digits", "integrated_atena must be 15 digits",
                              "integrated_atena")
        if "individual_number" not in v:
            raise FormatError("missing_item", "a 団体内統合宛名番号 comes with a 個人番号",
                              "individual_number")
    card_state = v.get("card_state", "none")
    if card_state not in CARD_STATES:
        raise FormatError("invalid_card_state", "card_state must be one of "
                          + ", ".join(CARD_STATES), "card_state")
    if card_state != "none" and "individual_number" not in v:
        raise FormatError("missing_item", "a 個人番号カード comes with a 個人番号",
                          "individual_number")
    since = v.get("card_state_date")
    card = Card(card_state, _date(since, "card_state_date", today) if since else None)
    if reason != change.reason:
        change = dataclasses.replace(change, reason=Reason(reason))
    return Row(line, change, update_seq, integrated, card)


def _date(value: str, name: str, today: dt.date) -> dt.date:
    try:
        day = dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise FormatError("invalid_date", f"{name} must be a calendar date YYYY-MM-DD", name)
    if day > today:
        raise FormatError("date_in_future", f"{name} is after today", name)
    return day


# ---- the file -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scanned:
    digest: str
    rows: int
    header: tuple[str, ...]
    last_line: int  # the file's last line (a row may span lines)


def scan(path: Path) -> Scanned:
    """Read the whole file once: its SHA-256, that it is UTF-8 CSV with a usable header,
    and its rows; ``LoadError`` (nothing written) if not."""
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        hashing = _Hashing(raw, digest)
        text = io.TextIOWrapper(io.BufferedReader(hashing), encoding="utf-8-sig",
                                newline="")
        try:
            reader = csv.reader(text, strict=True)
            header = _header(next(reader, None))
            rows = sum(1 for _ in reader)
            last_line = reader.line_num
        except UnicodeDecodeError:
            raise LoadError("not_utf8", f"the file is not UTF-8 (near byte "
                            f"{hashing.consumed:,})") from None
        except csv.Error as err:
            raise LoadError("bad_csv", f"line {reader.line_num}: not CSV "
                            f"({_csv_reason(err)})") from None
    return Scanned(digest.hexdigest(), rows, header, last_line)


def _csv_reason(err: csv.Error) -> str:
    """csv's message without the text it quotes (it never quotes values, but be sure)."""
    message = str(err)
    return message.split(":")[0][:80] if message else "malformed"


class _Hashing(io.RawIOBase):
    """A binary file read through a hash, counting the bytes read."""

    def __init__(self, raw: IO[bytes], digest: Any) -> None:
        self.raw, self.digest, self.consumed = raw, digest, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        self.digest.update(data)
        self.consumed += len(data)
        buffer[: len(data)] = data
        return len(data)


def _header(first: list[str] | None) -> tuple[str, ...]:
    if first is None:
        raise LoadError("empty_file", "the file has no header row")
    given = tuple(name.strip() for name in first)
    unknown = [n for n in given if n not in BY_NAME]
    if unknown:
        raise LoadError("unknown_column", f"column {unknown[0][:40]!r} is not one of the "
                        "layout's (jukihub load --layout)", unknown[0][:40])
    names = tuple(BY_NAME[n].name for n in given)
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise LoadError("repeated_column", f"column {twice} appears twice", twice)
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        raise LoadError("missing_column", f"the file has no {missing[0]} column", missing[0])
    return names


def rows_of(path: Path, header: tuple[str, ...], after_line: int
            ) -> Iterator[tuple[int, int, dict[str, str] | None]]:
    """(first line, last line, cells) of each row after ``after_line``; ``None`` cells
    for a row with the wrong number of fields."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, strict=True)
        next(reader)
        last = reader.line_num
        for fields in reader:
            first, last = last + 1, reader.line_num
            if last <= after_line:
                continue
            yield first, last, (dict(zip(header, fields, strict=True))
                                if len(fields) == len(header) else None)


# ---- the load -------------------------------------------------------------------------


Batch = list[tuple[int, int, dict[str, str] | None]]  # (first line, last line, cells)
Parsed = list[Row | LoadRefusal]


@dataclass(frozen=True, slots=True)
class RowParser:
    """The format checks of a load's rows (``parse_row``), picklable but for its two
    checks, so a pool of processes can run them (``Loader(parse_batches=…)``)."""

    today: dt.date
    operator_id: str
    terminal_id: str
    tag: str  # request ids of the load: L<the file's digest>-<line>

    def parse(self, batch: Batch, schema: SchemaCheck,
              charset: UnifiedCharset | None) -> Parsed:
        out: Parsed = []
        for first, _last, cells in batch:
            if cells is None:
                out.append(LoadRefusal(first, "wrong_field_count", None,
                                       "the row has not as many fields as the header"))
                continue
            try:
                out.append(parse_row(cells, first, self.today, schema, charset, self.tag,
                                     self.operator_id, self.terminal_id))
            except FormatError as err:
                out.append(_refused(first, err))
        return out


# How a load's batches get their format checks: in this process, or (a caller's choice)
# in a pool of processes while this one writes — batch and result in file order.
ParseBatches = Callable[[RowParser, Iterator[Batch]], Iterator[tuple[Batch, Parsed]]]


class Loader:
    """Loads one file into the store through ``register`` (whose numbers it takes and
    whose transactions it writes in: the hub is stopped, so this is the only writer)."""

    def __init__(self, register: Register, schema: SchemaCheck,
                 charset: UnifiedCharset | None, today: dt.date, operator_id: str,
                 terminal_id: str, batch_rows: int = 2000,
                 wall_clock: Callable[[], float] = time.time,
                 audit_as: tuple[str, str] | None = None,
                 parse_batches: ParseBatches | None = None) -> None:
        self.register = register
        self.store = register.store
        self.schema = schema
        self.charset = charset
        self.today = today
        self.operator_id = operator_id
        self.terminal_id = terminal_id
        self.batch_rows = batch_rows
        self.wall_clock = wall_clock
        # Who the 操作ログ names (the administrator who ran the load; default the ids
        # the identity records carry).
        self.audit_as = audit_as or (operator_id, terminal_id)
        self.parse_batches = parse_batches or self._here

    def _here(self, parser: RowParser, batches: Iterator[Batch]
              ) -> Iterator[tuple[Batch, Parsed]]:
        for batch in batches:
            yield batch, parser.parse(batch, self.schema, self.charset)

    def load(self, path: Path, progress: Callable[[Progress], None] = lambda p: None,
             after_batch: Callable[[int], None] = lambda n: None) -> Summary:
        """Load ``path`` (or go on with an interrupted load of it); ``after_batch`` is
        called with each batch's number after its commit."""
        started = time.perf_counter()
        scanned = scan(path)
        with self.store.reading() as db:
            state = self.store.loads.find(db, scanned.digest)
        if state is not None and state.finished_at is not None:
            return Summary(state.load_id, state.file_name, scanned.rows, state.accepted,
                           state.refused, 0.0, already=state)
        if state is None:
            with self.store.transaction("load") as db:
                state = self.store.loads.start(db, scanned.digest, path.name,
                                               self.operator_id, self.wall_clock())
                self.store.audit.record(db, [AuditEntry(
                    self.wall_clock(), *self.audit_as, "register.load",
                    path.name[:40], result="started")])
        parser = RowParser(self.today, self.operator_id, self.terminal_id,
                           f"L{scanned.digest[:16]}")
        accepted, refused = state.accepted, state.refused
        done = accepted + refused
        batches = self._batches(rows_of(path, scanned.header, state.line))
        number = 0
        for batch, parsed in self.parse_batches(parser, batches):
            final = batch[-1][1] >= scanned.last_line if batch else True
            took, refusals = self._batch(state, batch, parsed, final, (accepted, refused))
            accepted, refused, done = accepted + took, refused + len(refusals), done + len(batch)
            number += 1
            if number % 10 == 0:
                self.store.checkpoint()  # the hub's timer does this when it runs
            after_batch(number)
            progress(Progress(done, scanned.rows, accepted, refused,
                              time.perf_counter() - started))
        return Summary(state.load_id, path.name, scanned.rows, accepted, refused,
                       time.perf_counter() - started, state.line)

    def _batches(self, rows: Iterator[tuple[int, int, dict[str, str] | None]]
                 ) -> Iterator[Batch]:
        """The rows in batches (one empty batch for a file with none left, so a load
        always ends with the commit that marks it finished)."""
        batch: Batch = []
        any_batch = False
        for entry in rows:
            batch.append(entry)
            if len(batch) >= self.batch_rows:
                yield batch
                batch, any_batch = [], True
        if batch or not any_batch:
            yield batch

    def _batch(self, state: LoadState, batch: Batch, parsed: Parsed, final: bool,
               before: tuple[int, int]) -> tuple[int, list[LoadRefusal]]:
        """One transaction: the batch's rows checked, written, and the load's progress."""
        refusals = [p for p in parsed if isinstance(p, LoadRefusal)]
        rows = [p for p in parsed if isinstance(p, Row)]
        register, now = self.register, self.wall_clock()
        with register.job_transaction() as db:
            checked = _Checked(self.store, db, rows)
            writes = RegisterWrites()
            outbox: list[tuple[object, ...]] = []
            for row in rows:
                try:
                    checked.check(row, register.municipality_code)
                except (FormatError, LogicError) as err:
                    refusals.append(_refused(row.line, err))
                    continue
                self._write(row, checked, writes, outbox, now)
            self.store.register.write(db, writes)
            self.store.outbox.append(db, outbox)
            last_line = batch[-1][1] if batch else state.line
            accepted = len(writes.new_residents)
            refusals.sort(key=lambda r: r.line)
            self.store.loads.progress(db, state.load_id, last_line, before[0] + accepted,
                                      before[1] + len(refusals), refusals,
                                      finished_at=now if final else None)
            if final:
                self.store.audit.record(db, [AuditEntry(
                    now, *self.audit_as, "register.load",
                    state.file_name[:40], count=before[0] + accepted, result="finished")])
        return accepted, refusals

    def _write(self, row: Row, checked: _Checked, writes: RegisterWrites,
               outbox: list[tuple[object, ...]], now: float) -> None:
        """An accepted row's resident and identity record; the numbers the register hands
        out move past any the file gave, and those it hands out here are taken for the
        rest of the batch's checks."""
        register = self.register
        numbers = register.numbers
        change = row.change
        if row.update_seq is not None:
            update_seq = row.update_seq
            numbers.update_seq = max(numbers.update_seq, update_seq + 1)
        else:
            update_seq = numbers.next_update_seq()
            checked.update_seqs.add(update_seq)
        integrated = row.integrated_atena
        if integrated is not None:
            numbers.integrated_atena = max(numbers.integrated_atena, int(integrated) + 1)
        elif change.items.get("individual_number") is not None:
            integrated = numbers.next_integrated_atena()  # as identity.resident_after does
        # The new resident as ``identity.resident_after`` makes one, in one construction
        # (a resident has some fifty fields: copying it is most of a row's cost).
        state = Resident(**change.items, resident_code=change.resident_code,
                         last_update_seq=update_seq, integrated_atena=integrated,
                         card=row.card)
        if state.integrated_atena is not None:
            checked.integrated.add(state.integrated_atena)
        record = identity.identity_record(change, state, update_seq, now)
        writes.new_residents.append(state.as_row())
        writes.identities.append((record, None))
        if row.integrated_atena is None and state.integrated_atena is not None:
            # A 団体内統合宛名番号 the hub just assigned: news to the intermediate server,
            # told as the intake tells it (the 符号 request and the first 副本).
            links = register.enabled_links & {"intermediate"}
            for msg in route(change.reason.value, record, None, state, None, links):
                register.enqueue(outbox, msg.link, msg.kind, msg.payload,
                                 state.resident_code, update_seq, now, "initial-load")


# A logic rule's refusal as the load words it (the intake's speaks of the 転入 or 出生
# the row was checked as), with the column it is about.
_RULE_WORDS = {
    "address_outside_city": ("municipality_code", "the address must be in this city"),
    "individual_number_in_use": ("individual_number",
                                 "the 個人番号 is another resident's (on the register or an "
                                 "earlier row)"),
    "atena_number_in_use": ("atena_number", "the 宛名番号 is another resident's (on the "
                            "register or an earlier row)"),
}


class _Checked:
    """The register's side of a batch's checks: who holds each unique value now (read
    for this batch's values only), and this batch's own rows as they are accepted."""

    def __init__(self, store: Store, db: Conn, rows: list[Row]) -> None:
        reg = store.register
        codes = [r.change.resident_code for r in rows]
        self.on_register = set(reg.residents(db, codes)) | set(
            reg.holders(db, "old_resident_code", codes))
        self.holders: dict[tuple[str, Any], str] = {}
        for item in ("individual_number", "atena_number"):
            values = list({v for r in rows if (v := r.change.items.get(item)) is not None})
            for value, atena in reg.holders(db, item, values).items():
                self.holders[(item, value)] = atena
        self.update_seqs = store.loads.used_update_seqs(
            db, [r.update_seq for r in rows if r.update_seq is not None])
        self.integrated = set(reg.holders(
            db, "integrated_atena",
            [r.integrated_atena for r in rows if r.integrated_atena is not None]))

    def check(self, row: Row, municipality_code: str) -> None:
        change = row.change
        if change.resident_code in self.on_register:
            raise LogicError("resident_on_register", "the 住民票コード is on the register "
                             "already (or was given up before)", "resident_code")
        if row.update_seq is not None and row.update_seq in self.update_seqs:
            raise LogicError("update_seq_in_use", "the 更新順番号 is another record's",
                             "update_seq")
        if row.integrated_atena is not None and row.integrated_atena in self.integrated:
            raise LogicError("integrated_atena_in_use", "the 団体内統合宛名番号 is another "
                             "resident's", "integrated_atena")
        # The logic checks of a new resident (as the 転入 or 出生 it is checked as).
        as_new = Reason.MOVE_IN if "previous_address" in change.items else Reason.BIRTH
        try:
            rules.check_change(change if change.reason is as_new else dataclasses.replace(
                change, reason=as_new), None, self.holders, municipality_code)
        except LogicError as err:
            item, message = _RULE_WORDS.get(err.code, (err.item, err.message))
            raise LogicError(err.code, message, item or err.item) from None
        self.on_register.add(change.resident_code)
        for item in ("individual_number", "atena_number"):
            if (value := change.items.get(item)) is not None:
                self.holders[(item, value)] = change.items["atena_number"]
        if row.update_seq is not None:
            self.update_seqs.add(row.update_seq)

