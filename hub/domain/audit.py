"""The operation log (操作ログ) as an auditor uses it: checking that nobody changed it,
and the periodic review the assessment promises (「操作ログを取得し、定期的に点検する」
「業務上必要のない検索又は抽出が行われていないことを確認する」).

``verify`` walks the hash chain (``hub.store.audit``) and compares it with the anchors
kept outside the database: a changed, deleted, inserted or reordered entry breaks the
chain at that entry; a chain rewritten from some entry on, hashes and all, no longer
matches an anchor taken after it; entries cut off the end leave an anchor pointing past
the last entry.  It names the first bad entry.

``review`` counts, per operator and for a period, what the check looks at: queries,
個人番号 shown, outputs, calls outside working hours, refusals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from hub.store import AuditEntry, LoggedEntry
from hub.store.anchors import Anchor
from hub.store.audit import GENESIS, chain_hash
from hub.support.i18n import N_


@dataclass(frozen=True, slots=True)
class Verdict:
    entries: int
    head_id: int
    head_hash: str
    anchors: int                 # anchors compared
    first_bad: int | None = None  # the first entry that is not as written
    # What is wrong, as a catalog message (``hub.support.i18n``) and its values: the
    # auditor reads it in their language; ``problem`` is it in English.
    reason: str | None = None
    values: tuple[tuple[str, object], ...] = ()

    @property
    def intact(self) -> bool:
        return self.first_bad is None

    @property
    def problem(self) -> str | None:
        return self.reason % dict(self.values) if self.reason is not None else None


def verify(entries: Iterable[LoggedEntry], anchors: list[Anchor]) -> Verdict:
    """Walk every entry in id order against the chain and the anchors."""
    by_id = {a.id: a for a in anchors}
    expected, previous, count = 1, GENESIS, 0
    for logged in entries:
        if logged.id != expected:
            return Verdict(count, expected - 1, previous, 0, expected,
                           N_("entry %(entry)s is missing (the next one is %(next)s)"),
                           (("entry", expected), ("next", logged.id)))
        computed = chain_hash(previous, logged.id, logged.entry)
        if logged.hash != computed:
            return Verdict(count, expected - 1, previous, 0, logged.id,
                           N_("entry %(entry)s is not as it was written (its chain hash "
                              "does not follow from it and the entry before)"),
                           (("entry", logged.id),))
        anchor = by_id.get(logged.id)
        if anchor is not None and anchor.hash != computed:
            return Verdict(count, expected - 1, previous, 0, anchor.id,
                           N_("the log up to entry %(entry)s differs from the anchor of "
                              "%(when)s: rewritten at or before it"),
                           (("entry", logged.id), ("when", _when(anchor.at))))
        previous, count, expected = computed, count + 1, expected + 1
    beyond = [a for a in anchors if a.id > count]
    if beyond:
        a = min(beyond, key=lambda x: x.id)
        return Verdict(count, count, previous, len(anchors) - len(beyond), count + 1,
                       N_("the log ends at entry %(entry)s, but the anchor of %(when)s "
                          "names entry %(named)s: entries were cut off the end"),
                       (("entry", count), ("when", _when(a.at)), ("named", a.id)))
    return Verdict(count, count, previous, len(anchors))


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


# ---- the periodic review -------------------------------------------------------------------

_QUERIES = ("query.resident_code", "query.individual_number", "query.four_items")
_OUTPUTS = ("send_batch.start", "export.", "feed.")


@dataclass
class OperatorReview:
    operator_id: str
    calls: int = 0
    queries: int = 0
    numbers_shown: int = 0
    outputs: int = 0
    outside_hours: int = 0
    refusals: int = 0
    terminals: set[str] = field(default_factory=set)

    COLUMNS = ("operator_id", "calls", "queries", "numbers_shown", "outputs", "outside_hours",
               "refusals", "terminals")

    def row(self) -> tuple[object, ...]:
        return (self.operator_id, self.calls, self.queries, self.numbers_shown, self.outputs,
                self.outside_hours, self.refusals, " ".join(sorted(self.terminals)))


@dataclass(frozen=True, slots=True)
class WorkingHours:
    start: dt.time
    end: dt.time
    days: frozenset[int]  # 0 = Monday
    zone: ZoneInfo

    @classmethod
    def parse(cls, hours: str, days: str, zone: str) -> WorkingHours:
        """``"08:30-17:15"``, ``"mon-fri"`` (or ``"mon,tue,…"``), ``"Asia/Tokyo"``."""
        names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        start, _, end = hours.partition("-")
        if "-" in days:
            first, _, last = days.partition("-")
            chosen = frozenset(range(names.index(first), names.index(last) + 1))
        else:
            chosen = frozenset(names.index(d.strip()) for d in days.split(","))
        return cls(dt.time.fromisoformat(start), dt.time.fromisoformat(end), chosen,
                   ZoneInfo(zone))

    def within(self, at: float) -> bool:
        local = dt.datetime.fromtimestamp(at, self.zone)
        return local.weekday() in self.days and self.start <= local.time() < self.end


def month_bounds(month: str, zone: ZoneInfo) -> tuple[float, float]:
    """``"2026-11"`` as [start, end) epoch seconds in ``zone``."""
    first = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=zone)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    return first.timestamp(), nxt.timestamp()


def review(entries: Iterable[AuditEntry], hours: WorkingHours) -> list[OperatorReview]:
    """Per operator, what the periodic check looks at (system accounts included)."""
    out: dict[str, OperatorReview] = {}
    for e in entries:
        r = out.get(e.operator_id)
        if r is None:
            r = out[e.operator_id] = OperatorReview(e.operator_id)
        r.calls += 1
        r.terminals.add(e.terminal_id)
        r.outside_hours += not hours.within(e.at)
        if e.result != "ok":
            r.refusals += 1
            continue
        r.queries += e.action in _QUERIES
        r.numbers_shown += bool(e.number_shown)
        r.outputs += e.action.startswith(_OUTPUTS)
    return sorted(out.values(), key=lambda r: r.operator_id)
