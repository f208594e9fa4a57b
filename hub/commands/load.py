"""``jukihub load FILE``: the initial load (初期移行) of a whole register into the store
of a stopped hub (``hub.domain.initial_load`` does the work; this is its command line).

It shows a progress bar on standard error (redrawn on a terminal, a line every tenth
otherwise), prints a summary, and writes the refused rows — line, rule, column, never a
value — to a CSV report.  Run it again with the same file after an interruption and it
goes on after the last batch committed; a finished file is not loaded twice.

Exit status: 0 every row loaded; 2 loaded, some rows refused (see the report); 1 not
loaded (the hub runs, the file is not a register file); 130 interrupted (run again).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import getpass
import multiprocessing
import os
import socket
import sys
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from hub.config import Config, load_config

if TYPE_CHECKING:
    from hub.domain.initial_load import Batch, ParseBatches, Parsed, Progress, RowParser
    from hub.store import Store

# A file this big or bigger has its rows' format checks done in a pool of processes.
POOL_FROM_ROWS = 20_000


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("load", help="the initial load: a register file (CSV) into the store "
                       "of a stopped hub, through the intake's checks; resumable")
    p.add_argument("file", nargs="?", type=Path, help="the register file (CSV, UTF-8)")
    p.add_argument("--layout", action="store_true", help="print the file's columns and exit")
    p.add_argument("--report", type=Path,
                   help="where to write the refused rows (default: FILE.refused.csv)")
    p.add_argument("--batch", type=int, default=2000, help="rows per transaction")
    p.add_argument("--operator", default="initial-load",
                   help="操作者ID recorded in each loaded identity record")
    p.add_argument("--terminal", default="initial-load",
                   help="操作端末ID recorded in each loaded identity record")
    p.add_argument("--force", action="store_true",
                   help="even if a hub beat into the store in the last 30 s")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--workers", type=int, help="processes for the rows' format checks "
                   "(default: one fewer than the cores; 0: none, all in this process)")
    p.set_defaults(func=lambda args: load_file(args, load_config(args.config, args.set or [])))
    return p


def print_layout(out: IO[str]) -> None:
    from hub.domain.initial_load import COLUMNS

    out.write("column,項目名,required,note\n")
    writer = csv.writer(out, lineterminator="\n")
    for c in COLUMNS:
        writer.writerow((c.name, c.label, "yes" if c.required else "", c.note))


def load_file(args: argparse.Namespace, cfg: Config) -> int:
    if args.layout:
        print_layout(sys.stdout)
        return 0
    if args.file is None:
        print("jukihub load: a FILE is needed (or --layout)", file=sys.stderr)
        return 1
    if not args.file.is_file():
        print(f"jukihub load: no such file: {args.file}", file=sys.stderr)
        return 1
    if not 1 <= args.batch <= 50_000:
        print("jukihub load: --batch is from 1 to 50,000 rows", file=sys.stderr)
        return 1
    from hub.api.openapi import Contract
    from hub.domain import backups
    from hub.domain.errors import FormatError
    from hub.domain.initial_load import Loader, LoadError
    from hub.domain.register import Register
    from hub.store import Store
    from hub.store.engine import make_engine, migrate
    from protocols.charconv import UnifiedCharset

    migrate(cfg.store_url)
    beat = backups.last_beat(cfg.store_url)
    if beat is not None and time.time() - beat < backups.HEARTBEAT_FRESH and not args.force:
        print("jukihub load: refused: a hub wrote to this store seconds ago: stop it first "
              "(the load is the store's only writer)", file=sys.stderr)
        return 1
    from hub.domain.checks import check_identifier

    for name, value in (("--operator", args.operator), ("--terminal", args.terminal)):
        try:
            check_identifier(value, name)
        except FormatError as err:
            print(f"jukihub load: {err.message}", file=sys.stderr)
            return 1
    store = Store(make_engine(cfg.store_url))
    enabled = frozenset(n for n, link in cfg.links.items() if link.enabled)
    register = Register(store, cfg.municipality_code, enabled, time.time)
    charset = UnifiedCharset.load(cfg.gaiji_table) if cfg.gaiji_table else None
    workers = args.workers if args.workers is not None else max(1, (os.cpu_count() or 1) - 1)
    big = args.file.stat().st_size >= POOL_FROM_ROWS * 200  # ~200 bytes a row
    loader = Loader(register, Contract().schema_check("Change"), charset, dt.date.today(),
                    args.operator, args.terminal, batch_rows=args.batch,
                    audit_as=(f"os:{getpass.getuser()}"[:40], socket.gethostname()[:40]),
                    parse_batches=pooled(workers, cfg.gaiji_table) if workers and big
                    else None)
    bar = _Bar(sys.stderr, quiet=args.quiet)
    try:
        summary = loader.load(args.file, bar.show)
    except LoadError as err:
        print(f"jukihub load: not loaded ({err.code}): {err.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        bar.end()
        print("jukihub load: 中断しました (interrupted): what was committed stays; run the "
              "same command again to go on", file=sys.stderr)
        return 130
    finally:
        bar.end()
    if summary.already is not None:
        a = summary.already
        print(f"{args.file.name}: 取込済み (already loaded) "
              f"{_when(a.finished_at)}: {a.accepted:,} 人受付, {a.refused:,} 行拒否; nothing done")
        return 0 if a.refused == 0 else 2
    report = args.report or args.file.with_name(args.file.name + ".refused.csv")
    written = _report(store, summary.load_id, report) if summary.refused else 0
    resumed = (f" (行 {summary.resumed_after:,} の後から再開 / resumed)"
               if summary.resumed_after else "")
    rate = summary.rows / summary.seconds if summary.seconds else 0.0
    print(f"{args.file.name}: 初期移行 完了 (loaded){resumed}: {summary.rows:,} 行, "
          f"受付 {summary.accepted:,} 人, 拒否 {summary.refused:,} 行, "
          f"{summary.seconds:.1f} 秒 ({rate:,.0f} 行/秒)")
    if written:
        print(f"拒否した行 (refused rows): {report} ({written:,} 行: 行番号, コード, 項目, 理由)")
    store.dispose()
    return 0 if summary.refused == 0 else 2


# ---- the format checks in a pool of processes -------------------------------------------

# Each worker process's own checks, made once by ``_start_worker``.
_worker_checks: tuple[Any, Any] | None = None


def _start_worker(gaiji_table: str | None) -> None:
    global _worker_checks
    from hub.api.openapi import Contract
    from protocols.charconv import UnifiedCharset

    charset = UnifiedCharset.load(Path(gaiji_table)) if gaiji_table else None
    _worker_checks = (Contract().schema_check("Change"), charset)


def _parse_in_worker(parser: RowParser, batch: Batch) -> Parsed:
    assert _worker_checks is not None
    return parser.parse(batch, *_worker_checks)


def pooled(workers: int, gaiji_table: Path | None) -> ParseBatches:
    """Batches checked by ``workers`` processes while this one writes: at most
    ``workers + 1`` batches ahead of the writer (memory stays a few batches), results in
    file order.  The processes start from a fresh interpreter (forkserver): they inherit
    no database connection."""

    def parse_batches(parser: RowParser, batches: Iterator[Batch]
                      ) -> Iterator[tuple[Batch, Parsed]]:
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                 initargs=(str(gaiji_table) if gaiji_table else None,)
                                 ) as pool:
            ahead: deque[tuple[Batch, Future[Parsed]]] = deque()
            for batch in batches:
                ahead.append((batch, pool.submit(_parse_in_worker, parser, batch)))
                if len(ahead) > workers:
                    done, future = ahead.popleft()
                    yield done, future.result()
            while ahead:
                done, future = ahead.popleft()
                yield done, future.result()

    return parse_batches


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "?"


def _report(store: Store, load_id: int, path: Path) -> int:
    """Every refused row of the load, from the store (a resumed load's earlier runs
    too), as CSV; how many."""
    n, after = 0, 0
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("line", "code", "item", "message"))
        while page := store.read(store.loads.refusals, load_id, after):
            writer.writerows((r.line, r.code, r.item or "", r.message) for r in page)
            n += len(page)
            after = page[-1].line
    return n


class _Bar:
    """The progress on standard error: a bar redrawn in place on a terminal; on a file or
    a pipe, one line per tenth of the file."""

    WIDTH = 30

    def __init__(self, out: IO[str], quiet: bool) -> None:
        self.out, self.quiet = out, quiet
        self.tty = out.isatty()
        self.shown_tenth = -1
        self.drawn = False

    def show(self, p: Progress) -> None:
        if self.quiet or p.total == 0:
            return
        share = min(1.0, p.rows / p.total)
        tenth = int(share * 10)
        if not self.tty and tenth == self.shown_tenth:
            return
        self.shown_tenth = tenth
        rate = p.rows / p.seconds if p.seconds > 0 else 0.0
        left = (p.total - p.rows) / rate if rate > 0 else 0.0
        filled = int(share * self.WIDTH)
        line = (f"読込 [{'#' * filled}{'.' * (self.WIDTH - filled)}] {share:4.0%} "
                f"{p.rows:,}/{p.total:,} 行  受付 {p.accepted:,}  拒否 {p.refused:,}  "
                f"{rate:,.0f} 行/秒  残り {left:,.0f} 秒")
        self.out.write(("\r" + line) if self.tty else (line + "\n"))
        self.out.flush()
        self.drawn = True

    def end(self) -> None:
        if self.drawn and self.tty:
            self.out.write("\n")
            self.out.flush()
        self.drawn = False
