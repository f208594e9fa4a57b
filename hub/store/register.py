"""The register's tables: ``residents`` (住民基本台帳ファイル), ``identity_records``
(本人確認情報ファイル, one row per 更新順番号), ``request_ids`` (依頼管理番号 and their
first answers) and ``card_events``.

A batch of changes reads what it needs in a few queries up front (``requests``,
``residents``, ``holders``) and writes each table with one ``executemany`` at the end
(``write``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import Any

from hub.store.base import Db, Sql, chunks, named, to_date
from hub.store.dead_letters import Flag
from hub.store.tables import residents
from protocols.identity import FIELDS, IdentityRecord

RESIDENT_COLUMNS = tuple(c.name for c in residents.columns)
_RESIDENT_DATES = tuple(c.name for c in residents.columns
                        if c.type.python_type.__name__ == "date")
_RESIDENT_BOOLS = tuple(c.name for c in residents.columns if c.type.python_type is bool)
_IDENTITY_COLUMNS = (*(attr for attr, _ in FIELDS), "previous_update_seq")
_IDENTITY_VALUES = attrgetter(*(attr for attr, _ in FIELDS))
_RESIDENT_VALUES = itemgetter(*RESIDENT_COLUMNS)
_PROVISION_COLUMNS = ("request_number", "issuing_municipality_code", "atena_number", "scope",
                      "status", "persons", "requested_at", "answered_at", "outbox_seq")
_CARD_COLUMNS = ("id", "request_id", "resident_code", "event", "event_date", "operator_id",
                 "terminal_id", "created_at")
_CARD_VALUES = itemgetter(*_CARD_COLUMNS)
_REQUEST_COLUMNS = ("request_id", "fingerprint", "update_seq", "response", "created_at")


@dataclass
class RegisterWrites:
    """The register rows one batch writes (each list one ``executemany``)."""

    new_residents: list[dict[str, Any]] = field(default_factory=list)
    # (the row after the change, the 宛名番号 it was stored under)
    changed_residents: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    identities: list[tuple[IdentityRecord, int | None]] = field(default_factory=list)
    # (request id, fingerprint, 更新順番号 or None, first answer, when)
    requests: list[tuple[str, str, int | None, dict[str, Any], float]] = field(
        default_factory=list)
    card_events: list[dict[str, Any]] = field(default_factory=list)
    # 住民票コードの変更: (old code, 宛名番号, 更新順番号, 使用年月日)
    old_codes: list[tuple[str, str, int, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Opening:
    """What a writing transaction reads first (``RegisterStore.opening``)."""

    update_seq: int                # the highest 更新順番号 so far
    card: int                      # the highest card event number
    atena: int                     # the highest 団体内統合宛名番号
    next_seqs: dict[str, int]      # each link's next sequence
    flag: Flag | None              # the hub flag asked for (maintenance mode)


class RegisterStore:
    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self._insert_resident = sql.insert("residents", RESIDENT_COLUMNS)
        self._opening = sql.text(
            "SELECT (SELECT max(update_seq) FROM identity_records), (SELECT max(id) FROM "
            "card_events), (SELECT max(integrated_atena) FROM residents), l.link, "
            "l.next_seq, f.value, f.set_at, f.set_by FROM (SELECT 1 AS one) AS o "
            "LEFT JOIN link_state AS l ON 1 = 1 LEFT JOIN hub_flags AS f ON f.name = ?")
        self._update_resident = sql.update_rows("residents", RESIDENT_COLUMNS, ("atena_number",))
        self._insert_identity = sql.insert("identity_records", _IDENTITY_COLUMNS)
        self._provided = sql.text(
            "SELECT 1 FROM wide_area_provisions WHERE request_number = ?")
        self._insert_provision = sql.insert("wide_area_provisions", _PROVISION_COLUMNS)
        self._identity_by_seq = sql.text(
            f"SELECT {', '.join(a for a, _ in FIELDS)} FROM identity_records "
            "WHERE update_seq = ?")
        self._insert_request = sql.insert("request_ids", _REQUEST_COLUMNS)
        self._insert_card = sql.insert("card_events", _CARD_COLUMNS)
        self._select_residents = f"SELECT {', '.join(RESIDENT_COLUMNS)} FROM residents WHERE "
        self._by_atena = self._select_residents + sql.text("integrated_atena = ?")
        self._household = self._select_residents + sql.text(
            "household_number = ? AND removed = ? ORDER BY resident_code")
        self._insert_old_code = sql.insert("old_resident_codes", (
            "old_code", "atena_number", "update_seq", "changed_date"))
        # A resident by their 住民票コード, or by one they had before a 住民票コードの変更.
        self._code_or_old = sql.text(
            "(resident_code = ? OR atena_number IN (SELECT atena_number FROM "
            "old_resident_codes WHERE old_code = ?))")

    # ---- reads of a batch ------------------------------------------------------------

    @named("register.requests")
    def requests(self, db: Db, ids: Sequence[str]) -> dict[str, tuple[str, Any]]:
        """Request ids already answered: id -> (fingerprint, first answer)."""
        found: dict[str, tuple[str, Any]] = {}
        for part in chunks(ids):
            for rid, fingerprint, response in db.rows(
                    "SELECT request_id, fingerprint, response FROM request_ids WHERE "
                    f"request_id IN ({self.sql.marks(len(part))})", part):
                found[rid] = (fingerprint, json.loads(response))
        return found

    @named("register.residents")
    def residents(self, db: Db, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The residents with these 住民票コード: code -> row."""
        found: dict[str, dict[str, Any]] = {}
        for part in chunks(codes):
            for row in db.rows(self._select_residents
                               + f"resident_code IN ({self.sql.marks(len(part))})", part):
                resident = self.row(row)
                found[resident["resident_code"]] = resident
        return found

    @named("register.resident_by_any_code")
    def resident_by_any_code(self, db: Db, code: str) -> dict[str, Any] | None:
        """The resident whose 住民票コード is ``code``, or was before a change of it."""
        row = db.row(self._select_residents + self._code_or_old, (code, code))
        return self.row(row) if row is not None else None

    @named("register.identity_record")
    def identity_record(self, db: Db, update_seq: int) -> IdentityRecord | None:
        """The identity record of 更新順番号 ``update_seq`` as it was sent."""
        row = db.row(self._identity_by_seq, (update_seq,))
        if row is None:
            return None
        values = {}
        for (attr, _), value in zip(FIELDS, row, strict=True):
            kind = IdentityRecord.__annotations__[attr]
            if value is not None and "datetime" in kind:
                value = value if isinstance(value, dt.datetime) else (
                    dt.datetime.fromisoformat(str(value)))
            elif value is not None and "date" in kind:
                value = to_date(value)
            elif value is not None and "bool" in kind:
                value = bool(value)
            values[attr] = value
        return IdentityRecord(**values)

    @named("register.provided")
    def provided(self, db: Db, request_number: str) -> bool:
        """Whether a 広域交付 request of this 請求番号 was answered already."""
        return db.scalar(self._provided, (request_number,)) is not None

    @named("register.provision")
    def provision(self, db: Db, row: dict[str, Any]) -> None:
        db.insert(self._insert_provision, [tuple(row[c] for c in _PROVISION_COLUMNS)])

    @named("register.household")
    def household(self, db: Db, number: str) -> list[dict[str, Any]]:
        """The living members of the 世帯 ``number`` (whole rows)."""
        return [self.row(r) for r in db.rows(self._household, (number, False))]

    @named("register.resident_by_integrated_atena")
    def resident_by_integrated_atena(self, db: Db, atena: str) -> dict[str, Any] | None:
        row = db.row(self._by_atena, (atena,))
        return self.row(row) if row is not None else None

    @named("register.confirm_move_out")
    def confirm_move_out(self, db: Db, resident_code: str, day: Any) -> bool:
        """転出確定: the 転出 of ``resident_code`` confirmed on ``day`` — once: the update
        itself decides (its row count), never a state read before it."""
        db.run(self.sql.text("UPDATE residents SET moving_out_confirmed_date = ? WHERE "
                             "resident_code = ? AND moving_out_confirmed_date IS NULL"),
               (day, resident_code))
        return bool(db.cursor.rowcount)

    @named("register.holders")
    def holders(self, db: Db, item: str, values: Sequence[str]) -> dict[str, str]:
        """Who holds each value of a unique item (``individual_number``,
        ``atena_number``, ``integrated_atena``), or held it (``old_resident_code``, a
        住民票コード given up in a change of it): value -> 宛名番号."""
        table, column = {"individual_number": ("residents", "individual_number"),
                         "atena_number": ("residents", "atena_number"),
                         "integrated_atena": ("residents", "integrated_atena"),
                         "old_resident_code": ("old_resident_codes", "old_code")}[item]
        found: dict[str, str] = {}
        for part in chunks(values):
            for value, atena in db.rows(f"SELECT {column}, atena_number FROM {table} WHERE "
                                        f"{column} IN ({self.sql.marks(len(part))})", part):
                found[value] = atena
        return found

    @named("register.search")
    def search(self, db: Db, items: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        """Residents (living or removed) whose exact items match ``items`` — any of
        resident_code, individual_number, birth_date, sex — and whose address begins with
        ``items["address"]``; at most ``limit``, by 住民票コード.  Names are compared by the
        domain (kana by its 清音化かな)."""
        where, args = [], []
        if items.get("resident_code") is not None:  # its old codes too
            where.append(self._code_or_old)
            args += [items["resident_code"], items["resident_code"]]
        for item in ("individual_number", "birth_date", "sex"):
            if items.get(item) is not None:
                where.append(f"{item} = {self.sql.mark}")
                args.append(items[item])
        if items.get("address"):
            where.append(f"substr(address, 1, {self.sql.mark}) = {self.sql.mark}")
            args += [len(items["address"]), items["address"]]
        assert where, "a search has at least one exact item (the domain's rule)"
        sql = (self._select_residents + " AND ".join(where)
               + f" ORDER BY resident_code LIMIT {self.sql.mark}")
        return [self.row(r) for r in db.rows(sql, (*args, limit))]

    def row(self, row: Any) -> dict[str, Any]:
        """A residents row (every column, in order) as the domain reads it."""
        resident = dict(zip(RESIDENT_COLUMNS, row, strict=True))
        for name in _RESIDENT_DATES:
            resident[name] = to_date(resident[name])
        for name in _RESIDENT_BOOLS:  # SQLite answers 0 and 1
            resident[name] = bool(resident[name])
        return resident

    @named("register.opening")
    def opening(self, db: Db, flag: str) -> Opening:
        """What a writing transaction reads first, in one statement (one round trip on
        PostgreSQL): the highest 更新順番号, card event number and 団体内統合宛名番号 so
        far, each link's next sequence, and the hub flag ``flag`` (maintenance mode)."""
        rows = db.rows(self._opening, (flag,))
        update_seq, card, atena = rows[0][:3]
        value, set_at, set_by = rows[0][5:]
        return Opening(int(update_seq or 0), int(card or 0), int(atena or 0),
                       {link: int(n) for link, n in (r[3:5] for r in rows) if link is not None},
                       Flag(flag, value, float(set_at), set_by) if value is not None else None)

    @named("register.write")
    def write(self, db: Db, w: RegisterWrites) -> None:
        """Every register row of a batch, one ``executemany`` per table."""
        db.update(self._update_resident,
                  [(*_RESIDENT_VALUES(row), atena) for row, atena in w.changed_residents])
        db.insert(self._insert_resident, [_RESIDENT_VALUES(r) for r in w.new_residents])
        db.insert(self._insert_identity,
                [(*_IDENTITY_VALUES(rec), prev) for rec, prev in w.identities])
        db.insert(self._insert_request, [(rid, fp, seq, json.dumps(answer), at)
                                       for rid, fp, seq, answer, at in w.requests])
        db.insert(self._insert_card, [_CARD_VALUES(r) for r in w.card_events])
        db.insert(self._insert_old_code, w.old_codes)
