"""``jukihub users …`` and ``jukihub audit …``: staff accounts and the operation log,
for an administrator or an auditor on the hub's machine.

These commands open the store themselves (as ``jukihub migrate`` does).  The users
commands record what they do in the 操作ログ as the machine's user at its host; the
running hub sees a change at the account's next call (a disabled account's sessions
end then).  The audit commands only read: ``verify`` checks the hash chain against the
anchors outside the database, ``search`` filters entries, ``review`` prints the
periodic check per operator, as a table or CSV.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import getpass
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hub.commands.say import _, speaker, table, word
from hub.config import Config, load_config
from hub.domain.errors import HubError
from hub.support.i18n import N_

if TYPE_CHECKING:
    from hub.store import StaffAccount, Store

# The monthly review's columns as a supervisor reads them (``--csv`` keeps the codes).
REVIEW_COLUMNS = {
    "operator_id": N_("operator"), "calls": N_("calls"), "queries": N_("queries"),
    "numbers_shown": N_("individual numbers shown"), "outputs": N_("outputs"),
    "outside_hours": N_("outside working hours"), "refusals": N_("refusals"),
    "terminals": N_("terminals"),
}

# The store, the domain's staff and audit rules are imported where a command needs them:
# every ``jukihub`` command (a mock endpoint, the hub itself) builds this module's
# parsers, and SQLAlchemy and Alembic cost most of a second to import.

Command = Callable[[argparse.Namespace, Config], int]


def _store(cfg: Config) -> Store:
    from hub.store import Store
    from hub.store.engine import make_engine, migrate

    migrate(cfg.store_url)
    return Store(make_engine(cfg.store_url))


def _who() -> tuple[str, str]:
    """The administrator as the 操作ログ records them: the machine's user and host."""
    return f"os:{getpass.getuser()}"[:40], socket.gethostname()[:40]


def _record(store: Store, txn: str, action: str, user_id: str,
            write: Callable[[Any], bool]) -> bool:
    """``write(db)`` and its 操作ログ entry in one transaction; whether it found the account."""
    from hub.store import AuditEntry

    operator, terminal = _who()
    with store.transaction(txn) as db:
        found = write(db)
        store.audit.record(db, [AuditEntry(time.time(), operator, terminal, action, user_id,
                                           result="ok" if found else "unknown_user")])
    return found


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise HubError("password_mismatch", "the two passwords differ")
    return first


def _expiry(text: str | None) -> float | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise HubError("invalid_date", "--expires is a date, YYYY-MM-DD") from None
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time()).timestamp()


def add_account(store: Store, cfg: Config, user_id: str, password: str,
                roles: tuple[str, ...], expires_at: float | None = None) -> StaffAccount:
    """A new staff account, checked and recorded (with its 操作ログ entry)."""
    from hub.domain import staff

    account = staff.new_account(user_id, password, roles, expires_at, time.time(), cfg.access)
    if store.read(store.accounts.get, user_id) is not None:
        raise HubError("user_exists", f"{user_id} already has an account")

    def add(db: Any) -> bool:
        store.accounts.add(db, account)
        return True

    _record(store, "accounts.add", "account.add", user_id, add)
    return account


def users_add(args: argparse.Namespace, cfg: Config) -> int:
    roles = tuple(dict.fromkeys(args.role))
    add_account(_store(cfg), cfg, args.user_id, _password(args), roles, _expiry(args.expires))
    print(_("%(user)s: added, roles %(roles)s", user=args.user_id,
            roles=", ".join(word("role", r) for r in roles) or _("(none)")))
    return 0


def users_disable(args: argparse.Namespace, cfg: Config) -> int:
    store = _store(cfg)
    if not _record(store, "accounts.disable", "account.disable", args.user_id,
                   lambda db: store.accounts.update(db, args.user_id, state="disabled")):
        raise HubError("unknown_user", f"no account {args.user_id}")
    print(_("%(user)s: disabled (its sessions end at their next call)", user=args.user_id))
    return 0


def users_enable(args: argparse.Namespace, cfg: Config) -> int:
    store = _store(cfg)
    if not _record(store, "accounts.enable", "account.enable", args.user_id,
                   lambda db: store.accounts.update(db, args.user_id, state="active",
                                                    failed_logins=0, locked_until=None)):
        raise HubError("unknown_user", f"no account {args.user_id}")
    print(_("%(user)s: enabled", user=args.user_id))
    return 0


def users_passwd(args: argparse.Namespace, cfg: Config) -> int:
    from hub.domain import staff

    password = _password(args)
    staff.check_new_password(password, args.user_id, cfg.access)
    encoded, now = staff.hash_password(password), time.time()
    store = _store(cfg)
    if not _record(store, "accounts.passwd", "account.passwd", args.user_id,
                   lambda db: store.accounts.update(db, args.user_id, password_hash=encoded,
                                                    password_changed_at=now, failed_logins=0,
                                                    locked_until=None)):
        raise HubError("unknown_user", f"no account {args.user_id}")
    print(_("%(user)s: password changed", user=args.user_id))
    return 0


def users_list(_args: argparse.Namespace, cfg: Config) -> int:
    store = _store(cfg)
    now, when = time.time(), speaker().when
    table((_("user"), _("state"), _("roles"), _("expires"), _("last login"), _("locked")),
          [(a.user_id, word("account_state", a.state),
            ", ".join(word("role", r) for r in a.roles), when(a.expires_at),
            when(a.last_login_at),
            _("yes") if a.locked_until and a.locked_until > now else "")
           for a in store.read(store.accounts.list)])
    return 0


def users_review(args: argparse.Namespace, cfg: Config) -> int:
    """Exit 1 when anything needs a decision (so a scheduled run can alert)."""
    from hub.domain import staff

    store = _store(cfg)
    accounts: list[StaffAccount] = store.read(store.accounts.list)
    findings = staff.review(accounts, time.time(), args.unused_days)
    print(_("account review: %(accounts)s accounts, %(findings)s findings (unused for "
            "%(days)s days or more counts as unused)", accounts=len(accounts),
            findings=len(findings), days=args.unused_days))
    table((_("user"), _("finding")), [(f.user_id, word("finding", f.finding))
                                      for f in findings])
    return 1 if findings else 0


# ---- the operation log -----------------------------------------------------------------


def audit_verify(_args: argparse.Namespace, cfg: Config) -> int:
    """Exit 0 when the log is intact, 1 naming the first bad entry."""
    from hub.domain import audit
    from hub.store import anchors

    store = _store(cfg)
    try:
        found = anchors.read(cfg.audit.anchor_file)
    except ValueError as exc:
        raise HubError("bad_anchor_file", str(exc)) from None
    with store.reading() as db:
        verdict = audit.verify(store.audit.walk(db), found)
    if verdict.intact:
        print(_("operation log intact: %(entries)s entries, head %(head)s %(hash)s…, "
                "%(anchors)s anchors matched (%(file)s)", entries=verdict.entries,
                head=verdict.head_id, hash=verdict.head_hash[:16], anchors=verdict.anchors,
                file=cfg.audit.anchor_file))
        return 0
    assert verdict.reason is not None
    print(_("operation log NOT intact: first bad entry %(entry)s: %(problem)s",
            entry=verdict.first_bad, problem=_(verdict.reason, **dict(verdict.values))))
    return 1


def _time(text: str | None, zone: ZoneInfo) -> float | None:
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise HubError("invalid_time", f"{text!r} is not an ISO date or time") from None
    return (when if when.tzinfo else when.replace(tzinfo=zone)).timestamp()


def audit_search(args: argparse.Namespace, cfg: Config) -> int:
    zone = ZoneInfo(cfg.audit.timezone)
    store = _store(cfg)
    found = store.read(store.audit.search, args.operator, args.function, args.target,
                       _time(args.since, zone), _time(args.until, zone), args.limit)
    rows = [(e.id, dt.datetime.fromtimestamp(e.entry.at, zone).isoformat(timespec="seconds"),
             e.entry.operator_id, e.entry.terminal_id, e.entry.action, e.entry.request_id or "",
             "yes" if e.entry.number_shown else "", e.entry.result,
             "" if e.entry.count is None else e.entry.count) for e in found]
    _table(("id", "at", "operator", "terminal", "function", "target", "number_shown",
            "result", "count"), rows, args.csv)
    return 0


def audit_review(args: argparse.Namespace, cfg: Config) -> int:
    from hub.domain import audit

    a = cfg.audit
    hours = audit.WorkingHours.parse(a.working_hours, a.working_days, a.timezone)
    try:
        since, until = audit.month_bounds(args.month, hours.zone)
    except ValueError:
        raise HubError("invalid_month", "--month is YYYY-MM") from None
    store = _store(cfg)
    rows = audit.review(store.read(store.audit.between, since, until), hours)
    if args.csv:  # for scripts: the columns' codes, as they are
        _table(audit.OperatorReview.COLUMNS, [r.row() for r in rows], True)
        return 0
    print(_("operation log review %(month)s (%(zone)s; working hours %(hours)s %(days)s): "
            "%(count)s operators", month=args.month, zone=a.timezone, hours=a.working_hours,
            days=a.working_days, count=len(rows)))
    table(tuple(_(REVIEW_COLUMNS.get(c, c)) for c in audit.OperatorReview.COLUMNS),
          [r.row() for r in rows])
    return 0


def _table(columns: tuple[str, ...], rows: list[tuple[Any, ...]], as_csv: bool) -> None:
    """Rows as CSV for a script, else as the commands' table (``hub.commands.say``)."""
    if not as_csv:
        table(columns, rows)
        return
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)


def add_parsers(sub: Any) -> list[argparse.ArgumentParser]:
    """The ``users`` and ``audit`` commands on ``sub``; returns the parsers that take
    --config."""
    users = sub.add_parser("users", help="staff accounts (one per person)")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    parsers = []

    def command(name: str, func: Command, help_: str, user: bool = True,
                password: bool = False) -> argparse.ArgumentParser:
        p = users_sub.add_parser(name, help=help_)
        if user:
            p.add_argument("user_id")
        if password:
            p.add_argument("--password-stdin", action="store_true",
                           help="read the password from standard input (one line)")
        p.set_defaults(func=lambda args: func(args, _config_of(args)))
        parsers.append(p)
        return p

    add = command("add", users_add, "add a staff account", password=True)
    add.add_argument("--role", action="append", default=[], help="a staff role (repeatable)")
    add.add_argument("--expires", help="last day the account may be used (YYYY-MM-DD)")
    command("disable", users_disable, "disable an account (a former employee can do nothing)")
    command("enable", users_enable, "enable an account again, unlocking it")
    command("passwd", users_passwd, "set a new password (unlocks the account)", password=True)
    command("list", users_list, "every account, its state, roles, expiry, last login",
            user=False)
    review = command("review", users_review, "the periodic account review: accounts never "
                     "used, unused for N days, without a role, expired", user=False)
    review.add_argument("--unused-days", type=int, default=90)

    log_ = sub.add_parser("audit", help="the operation log (操作ログ)")
    log_sub = log_.add_subparsers(dest="audit_command", required=True)

    def audit_command(name: str, func: Command, help_: str) -> argparse.ArgumentParser:
        p = log_sub.add_parser(name, help=help_)
        p.set_defaults(func=lambda args: func(args, _config_of(args)))
        parsers.append(p)
        return p

    audit_command("verify", audit_verify, "check the hash chain and the anchors; exit 1 "
                  "naming the first changed, deleted, inserted or cut-off entry")
    search = audit_command("search", audit_search, "entries by operator, function, target "
                           "and time")
    search.add_argument("--operator")
    search.add_argument("--function", help="e.g. query.four_items, or query.* for a prefix")
    search.add_argument("--target", help="the key of what was acted on")
    search.add_argument("--since", help="ISO date or time (local: [audit] timezone)")
    search.add_argument("--until", help="ISO date or time, exclusive")
    search.add_argument("--limit", type=int, default=1000)
    search.add_argument("--csv", action="store_true", help="CSV on standard output")
    month = audit_command("review", audit_review, "the periodic check per operator: "
                          "queries, 個人番号 shown, outputs, calls outside working hours, "
                          "refusals")
    month.add_argument("--month", required=True, help="YYYY-MM")
    month.add_argument("--csv", action="store_true", help="CSV on standard output")

    bk = sub.add_parser("backup", help="an online, checked copy of the store now "
                        "(the hub may run); kept in [backup] folder")
    bk.add_argument("--folder", help="where to put it (default: [backup] folder)")
    bk.set_defaults(func=lambda args: backup_now(args, _config_of(args)))
    parsers.append(bk)
    rs = sub.add_parser("restore", help="bring a checked copy back as the store of a "
                        "stopped hub")
    rs.add_argument("copy", help="a jukihub-*.db or jukihub-*.pgdump file")
    rs.add_argument("--force", action="store_true",
                    help="even if a hub beat into the store in the last 30 s")
    rs.set_defaults(func=lambda args: restore_copy(args, _config_of(args)))
    parsers.append(rs)
    links = sub.add_parser("links", help="a link's numbers, for an administrator (the hub "
                           "stopped)")
    links_sub = links.add_subparsers(dest="links_command", required=True)
    ra = links_sub.add_parser("realign", help="after a restore behind the peer: number on "
                              "after what the peer applied (jukihub_link_peer_applied)")
    ra.add_argument("link")
    ra.add_argument("--peer-applied", type=int, required=True,
                    help="the highest sequence the peer applied (its hello; the metric)")
    ra.add_argument("--force", action="store_true",
                    help="even if a hub beat into the store in the last 30 s")
    ra.set_defaults(func=lambda args: realign_link(args, _config_of(args)))
    parsers.append(ra)
    return parsers


# ---- backup and restore ---------------------------------------------------------------------


def backup_now(args: argparse.Namespace, cfg: Config) -> int:
    """Take a checked copy now, and record it in the 操作ログ; exit 1 if it failed."""
    from pathlib import Path

    from hub.domain import backups
    from hub.store import AuditEntry
    from hub.store.backup import BackupError

    assert cfg.backup is not None
    folder = Path(args.folder) if args.folder else cfg.backup.folder
    operator, terminal = _who()
    store = _store(cfg)
    try:
        taken = backups.take(cfg.store_url, folder, cfg.backup.keep, cfg.audit.anchor_file,
                             time.time())
    except BackupError as err:
        with store.transaction("admin") as db:
            store.audit.record(db, [AuditEntry(time.time(), operator, terminal,
                                               "backup.made", result="backup_failed")])
        print(f"backup failed: {err}", file=sys.stderr)
        return 1
    c = taken.copy
    with store.transaction("admin") as db:
        store.audit.record(db, [AuditEntry(time.time(), operator, terminal, "backup.made",
                                           c.path.name, count=c.counts["residents"])])
    print(f"backup {c.path} ({c.size:,} bytes): "
          + ", ".join(f"{t} {n:,}" for t, n in c.counts.items())
          + f"; operation log intact ({c.audit_entries:,} entries)"
          + (f"; {len(taken.pruned)} older cop{'y' if len(taken.pruned) == 1 else 'ies'} "
             "deleted" if taken.pruned else ""))
    return 0


def realign_link(args: argparse.Namespace, cfg: Config) -> int:
    """Number a link on after its peer (see ``hub.domain.backups.realign``)."""
    from hub.domain import backups
    from hub.domain.register import Register
    from hub.store.backup import BackupError

    store = _store(cfg)
    beat = backups.last_beat(cfg.store_url)
    if beat is not None and time.time() - beat < backups.HEARTBEAT_FRESH and not args.force:
        print("realign refused: a hub wrote to this store seconds ago: stop it first",
              file=sys.stderr)
        return 1
    enabled = frozenset(n for n, link in cfg.links.items() if link.enabled)
    register = Register(store, cfg.municipality_code, enabled, time.time)
    operator, terminal = _who()
    try:
        done = backups.realign(register, args.link, args.peer_applied, operator, terminal,
                               time.time())
    except BackupError as err:
        print(f"realign refused: {err}", file=sys.stderr)
        return 1
    print(f"{args.link}: numbered on after the peer's {args.peer_applied}; "
          f"{done['resent']} message(s) numbered since the restore sent again; start the "
          "hub, then run a consistency check and mend its differences")
    return 0


def restore_copy(args: argparse.Namespace, cfg: Config) -> int:
    """Check a copy and put it in place of the store (the hub stopped); exit 1 if not."""
    from pathlib import Path

    from hub.domain import backups
    from hub.store import AuditEntry
    from hub.store.backup import BackupError

    copy = Path(args.copy)
    if not copy.is_file():
        print(f"no such copy: {copy}", file=sys.stderr)
        return 1
    try:
        c = backups.bring_back(copy, cfg.store_url, cfg.audit.anchor_file, time.time(),
                               force=args.force)
    except BackupError as err:
        print(f"restore refused: {err}", file=sys.stderr)
        return 1
    operator, terminal = _who()
    store = _store(cfg)  # migrates a copy of an older schema forward
    backups.mark_restored(store, copy.name, operator, time.time())
    with store.transaction("admin") as db:
        store.audit.record(db, [AuditEntry(time.time(), operator, terminal,
                                           "backup.restored", copy.name,
                                           count=c.counts["residents"])])
    print(f"restored {copy.name}: " + ", ".join(f"{t} {n:,}" for t, n in c.counts.items())
          + ".  Start the hub: each link whose peer applied more than the copy knows stops "
          "(peer_ahead) until a consistency check and its corrections bring both sides "
          "in line (README, Backup and restore).")
    return 0


def _config_of(args: argparse.Namespace) -> Config:
    return load_config(args.config, args.set or [])
