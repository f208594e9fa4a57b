"""``jukihub``: run the hub, migrate its store, make dev certificates, run a mock
endpoint, run a consistency check, keep staff accounts, watch and mend a running hub
(status, dead letters, maintenance mode).  (The demo is a dev tool: ``jukihub-dev demo``.)"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from pathlib import Path
from typing import Any

from hub.commands import admin, load, operate, say
from hub.commands.operate import staff_client
from hub.commands.say import _, table, word
from hub.config import Config, ConfigError, load_config
from hub.domain.errors import HubError
from hub.support.i18n import LANGUAGES
from hub.support.logs import emit, setup_logging

DEFAULT_CONFIG = "config.toml"


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config, args.set or [])


def cmd_certs_init(args: argparse.Namespace) -> int:
    from certs.devca import init_certs

    cfg = _config(args)
    made = init_certs(cfg.certs_dir, cfg.parties, force=args.force)
    print(f"certificates in {cfg.certs_dir}: made {', '.join(made) if made else 'nothing (all present)'}")
    return 0


def cmd_certs_revoke(args: argparse.Namespace) -> int:
    from certs.devca import revoke

    cfg = _config(args)
    serial = revoke(cfg.certs_dir, args.party)
    print(f"{args.party}: certificate {serial:x} revoked in {cfg.certs_dir / 'ca.crl'}; "
          "every listener and link refuses it from its next handshake")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from hub.store.engine import migrate

    cfg = _config(args)
    migrate(cfg.store_url)
    print(f"store at head revision: {cfg.store_url}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from twisted.internet import reactor as _reactor

    reactor: Any = _reactor  # the installed reactor (typed as a module by Twisted)

    from hub.net.intake_processes import spawn_intake

    cfg = _config(args)
    setup_logging(cfg.log_level)
    # The intake's worker processes first, before this process imports the hub (a
    # second of SQLAlchemy, Alembic, lxml, …): their start overlaps ours.  Nothing they
    # send is read before the hub is wired (``Hub.start`` runs before the reactor reads).
    early = spawn_intake(reactor, cfg) if cfg.intake.processes > 0 else None

    from hub.app import Hub

    # The reactor, the store writer and the link actors hand work to each other many
    # times per change; a shorter GIL switch interval (default 5 ms) keeps each
    # hand-over from waiting on a busy thread's time slice.
    sys.setswitchinterval(cfg.switch_interval)
    hub = Hub(cfg, reactor, early)

    def start() -> None:
        try:
            hub.start()
        except Exception:
            logging.getLogger("jukihub").exception("start failed", extra={"event": "hub.failed"})
            reactor.stop()

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("before", "shutdown", hub.stop)
    reactor.run()
    return 0


def cmd_mock(args: argparse.Namespace) -> int:
    from twisted.internet import reactor as _reactor

    reactor: Any = _reactor  # the installed reactor (typed as a module by Twisted)

    from mock_endpoints import MOCKS
    from mock_endpoints.serve import listen

    cfg = _config(args)
    setup_logging(cfg.log_level)
    if args.name not in MOCKS or args.name not in cfg.mocks:
        print(f"no mock named {args.name!r}; known: {', '.join(sorted(MOCKS))}", file=sys.stderr)
        return 2
    mcfg = cfg.mocks[args.name]
    link = cfg.links.get(args.name)
    mock = MOCKS[args.name](cfg.municipality_code, mcfg.db, mcfg.hub_name,
                            link.max_frame_bytes if link else 1 << 20, options=mcfg.options)
    tls, control = listen(mock, reactor, cfg.certs_dir, mcfg.cert, mcfg.host, mcfg.port,
                          mcfg.control_port)
    emit("mock.ready", link=args.name, port=tls.getHost().port,
         control_port=control.getHost().port)
    reactor.run()
    return 0


def cmd_consistency(args: argparse.Namespace) -> int:
    """Start a consistency check through the hub's API and wait for the answers."""
    import time


    cfg = _config(args)
    client = staff_client(args, cfg)
    body: dict[str, object] = {}
    if args.link:
        body["links"] = args.link
    status, started = client.post("/v1/consistency-checks", body)
    if status != 202:
        code = started.get("error", {}).get("code")
        print("jukihub: " + _("the hub refused the check (%(status)s): %(code)s",
                              status=status, code=word("code", code)), file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.timeout
    exit_code = 0
    progress = operate.JobProgress(client) if sys.stderr.isatty() else None
    try:
        for check in started["checks"]:
            shown = _answered(client, check, deadline, progress)
            if shown is None:
                print(_("%(link)s: %(check)s not answered in %(seconds)s s",
                        link=word("link", check["link"]), check=check["check_id"],
                        seconds=args.timeout), file=sys.stderr)
                return 2
            n = shown["difference_count"]
            print(_("%(link)s: check %(check)s: sent %(sent)s, the peer compared "
                    "%(compared)s and holds %(held)s: %(count)s differences",
                    link=word("link", shown["link"]), check=shown["check_id"],
                    sent=shown["sent"], compared=shown["compared"], held=shown["held"],
                    count=n))
            table((_("resident"), _("kind"), _("items")), [
                (d["resident_code"], word("code", d["kind"]), d.get("items") or "")
                for d in shown.get("differences", [])[: args.show]])
            exit_code = exit_code or (1 if n else 0)
    finally:
        if progress is not None:
            progress.stop()
    return exit_code


def _answered(client: Any, check: dict[str, Any], deadline: float,
              progress: Any) -> dict[str, Any] | None:
    """The check once answered, or ``None`` past the deadline.  The hub holds each GET
    until the answer (or 60 s; 1 s when a progress bar wants the count as it goes)."""
    import time

    while True:
        left = max(0.0, min(1.0 if progress else 60.0, deadline - time.monotonic()))
        status, shown = client.get(f"/v1/consistency-checks/{check['check_id']}"
                                   f"?wait={left:.1f}")
        if status == 200 and progress is not None:
            progress.show(check["check_id"], f"check {check['link']}", shown["sent"])
        if status == 200 and shown["state"] == "answered":
            return dict(shown)
        if time.monotonic() >= deadline or status != 200:
            return None


def cmd_export(args: argparse.Namespace) -> int:
    """Ask for an export, or write one: the file, checked against the hub's digest."""
    import hashlib

    cfg = _config(args)
    client = staff_client(args, cfg)
    if args.export_id is None:
        status, body = client.post("/v1/exports", {"kind": args.kind})
        if status != 202:
            raise HubError("export_refused", f"{status}: {body.get('error', {}).get('code')}")
        print(f"export {body['export_id']}: {body['people']} people, {body['state']}")
        if body["state"] == "awaiting_approval":
            print(f"  a bulk output: waits for approval {body['approval_id']} by another "
                  f"supervisor; then: jukihub export --id {body['export_id']} --out FILE")
            return 3
        args.export_id = body["export_id"]
    if args.out is None:
        raise HubError("no_output", "--out FILE: where to write it")
    status, body = client.post(f"/v1/exports/{args.export_id}/file", {})
    if status != 200:
        raise HubError("export_refused", f"{status}: {body.get('error', {}).get('code')}")
    data = body["csv"].encode("utf-8")
    if hashlib.sha256(data).hexdigest() != body["sha256"]:
        raise HubError("digest_mismatch", "the file does not match the hub's digest")
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    print(f"{args.out}: {body['people']} people, sha256 {body['sha256']}, recorded as "
          f"medium {body['medium']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jukihub", description=__doc__)
    parser.add_argument("--config", default=DEFAULT_CONFIG, type=Path,
                        help="configuration file (default: config.toml)")
    parser.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                        help="override an option (value in TOML syntax); repeatable")
    parser.add_argument("--lang", choices=LANGUAGES, default=None,
                        help="the language of what is printed for people: ja (the "
                        "default) or en; or $JUKIHUB_LANG")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the hub").set_defaults(func=cmd_run)
    sub.add_parser("migrate", help="bring the store to the newest schema").set_defaults(
        func=cmd_migrate)
    certs = sub.add_parser("certs", help="development certificates")
    certs_sub = certs.add_subparsers(dest="certs_command", required=True)
    init = certs_sub.add_parser("init", help="make the dev CA and one certificate per party")
    init.add_argument("--force", action="store_true", help="make everything anew")
    init.set_defaults(func=cmd_certs_init)
    revoke = certs_sub.add_parser("revoke", help="revoke a party's dev certificate (adds it "
                                  "to the dev CA's revocation list, ca.crl)")
    revoke.add_argument("party")
    revoke.set_defaults(func=cmd_certs_revoke)
    mock = sub.add_parser("mock", help="run a mock endpoint standalone")
    mock.add_argument("name", help="prefecture")
    mock.set_defaults(func=cmd_mock)
    cons = sub.add_parser("consistency", help="consistency checks (整合性確認) of a running hub")
    cons_sub = cons.add_subparsers(dest="consistency_command", required=True)
    crun = cons_sub.add_parser("run", help="check the identity file with the prefectural "
                               "and national servers; exit 1 if they differ")
    crun.add_argument("--link", action="append", choices=["prefecture", "national"],
                      help="only this link (repeatable; default both)")
    crun.add_argument("--timeout", type=float, default=600.0)
    crun.add_argument("--show", type=int, default=20, help="differences to print per link")
    crun.set_defaults(func=cmd_consistency)
    export = sub.add_parser("export", help="export the register to a file (no 個人番号), "
                            "after a second supervisor's approval when it is a bulk output")
    export.add_argument("kind", nargs="?", default="residents", choices=["residents"])
    export.add_argument("--id", dest="export_id", help="write an export asked for before")
    export.add_argument("--out", type=Path, help="the file to write (must not exist)")
    export.set_defaults(func=cmd_export)
    operate_parsers = operate.add_parsers(sub)
    for p in (crun, export, *operate_parsers):
        p.add_argument("--user", default=os.environ.get("JUKIHUB_USER", getpass.getuser()),
                       help="your staff user id (default: $JUKIHUB_USER or your login); "
                       "the password is asked for, or read from $JUKIHUB_PASSWORD")
        p.add_argument("--party", default="operator",
                       help="the staff terminal's client certificate to use")
        p.add_argument("--host", default="", help="intake host (default: from config)")
        p.add_argument("--port", type=int, default=0, help="intake port (default: config)")
    admin_parsers = [*admin.add_parsers(sub), load.add_parser(sub)]
    # Options may come before or after the command.
    for p in (sub.choices["run"], sub.choices["migrate"], init, revoke, mock, crun, export,
              *admin_parsers, *operate_parsers):
        p.add_argument("--config", default=argparse.SUPPRESS, type=Path)
        p.add_argument("--set", action="append", default=argparse.SUPPRESS,
                       metavar="SECTION.KEY=VALUE")
        p.add_argument("--lang", choices=LANGUAGES, default=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    say.use(getattr(args, "lang", None))
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"jukihub: {exc}", file=sys.stderr)
        return 2
    except HubError as exc:
        print(f"jukihub: {exc.code}: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"jukihub: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
