"""The operations staff's commands, against a running hub's API as a logged-in staff
member (from a staff terminal's certificate):

- ``jukihub status [--watch]``: each link's state, outbox depth, oldest pending age, in
  flight, last error; certificates' days left; the long jobs with progress bars
  (counts, rates, time left) — for staff without Grafana (rich);
- ``jukihub deadletters list|show|replay|discard``;
- ``jukihub maintenance on|off``.

Everything goes through the same API (and so the same rights and 操作ログ) as the
console's pages.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from typing import Any

from hub.commands.say import _, speaker, table, word
from hub.config import Config, load_config
from hub.domain.errors import HubError
from hub.domain.progress import job_progress


def staff_client(args: argparse.Namespace, cfg: Config, timeout: float = 90.0) -> Any:
    """A logged-in staff client (the password asked for, or $JUKIHUB_PASSWORD)."""
    from hub.support.client import HttpsClient

    client = HttpsClient(args.host or cfg.intake.host, args.port or cfg.intake.port,
                         cfg.certs_dir, args.party, timeout=timeout)
    password = os.environ.get("JUKIHUB_PASSWORD") or getpass.getpass(f"{args.user}'s password: ")
    status, answer = client.log_in(args.user, password)
    if status != 201:
        raise HubError("login_refused", f"login refused ({status}): "
                       f"{answer.get('error', {}).get('code')}")
    return client


def _ok(answer: tuple[int, Any], expected: int = 200) -> Any:
    status, body = answer
    if status != expected:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        raise HubError(error.get("code", "refused"),
                       f"the hub answered {status}: {error.get('message', body)}")
    return body


# ---- the status view ----------------------------------------------------------------


def render_status(status: dict[str, Any]) -> Any:
    """The status view of ``GET /v1/status``'s answer (a pure function of it: its
    rates and times left come from the answer's own clock, ``at``): a rich renderable,
    in the staff's language (``hub.commands.say``)."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    now, sp = status["at"], speaker()
    intake = status["intake"]
    head = Text(_("Intake") + " ")
    head.append(_("open") if intake["open"] else f"{_('closed')} ({word('code', intake['code'])})",
                style="green" if intake["open"] else "bold red")
    if status["maintenance"]["on"]:
        m = status["maintenance"]
        head.append("  " + _("maintenance mode since %(since)s by %(by)s",
                             since=sp.when(m["since"]), by=m["by"]), style="bold red")
    links = Table(title=_("Links"), title_justify="left")
    for column, left in ((_("link"), True), (_("state"), True), (_("owner"), True),
                         (_("messages waiting"), False), (_("oldest waiting"), False),
                         (_("in flight"), False), (_("bytes in flight"), False),
                         (_("residents held"), False), (_("dead letters"), False),
                         (_("last error"), True)):
        links.add_column(column, justify="left" if left else "right", no_wrap=left)
    for ln in status["links"]:
        links.add_row(
            word("link", ln["link"]),
            Text(word("link_state", ln["state"]),
                 style="green" if ln["state"] in ("ready", "standby") else "red"),
            ln.get("owner") or "—", str(ln["depth"]),
            sp.duration(ln["oldest_age_seconds"]) if ln["oldest_age_seconds"] else "—",
            str(ln["inflight"]), str(ln["inflight_bytes"]), str(ln["held_residents"]),
            Text(str(ln["dead_letters"]), style="bold red" if ln["dead_letters"] else ""),
            (f"{word('code', ln['last_error'])} ({sp.ago(now - ln['last_error_at'])})"
             if ln.get("last_error") and ln.get("last_error_at") else "—"))
    certs = Table(title=_("Certificates"), title_justify="left")
    certs.add_column(_("party"))
    certs.add_column(_("days left"), justify="right")
    for c in status["certificates"]:
        certs.add_row(word("party", c["party"]), Text(f"{c['days_left']:.1f}",
                                                     style="red" if c["days_left"] < 14 else ""))
    jobs = Table(title=_("Long jobs"), title_justify="left")
    for column in (_("job"), _("id"), _("state"), _("progress"), _("done / total"), _("rate"),
                   _("time left")):
        jobs.add_column(column)
    for j in status["jobs"]:
        done, total, p = j.get("done") or 0, j.get("total"), job_progress(j, now)
        differences = j.get("differences")
        jobs.add_row(
            word("job", j["kind"]) + (f" · {word('link', j['link'])}" if j.get("link") else ""),
            j["id"], word("state", j["state"]) + (
                ", " + sp.ngettext("%(num)d difference", "%(num)d differences", differences)
                % {"num": differences} if differences else ""),
            ProgressBar(total=float(total or max(done, 1)), completed=float(done), width=24),
            f"{done}/{total if total is not None else '?'}",
            _("%(rate)s/s", rate=f"{p.rate:.1f}"),
            sp.duration(p.left) if p.left is not None
            else (_("done") if total and done >= total else "—"))
    if not status["jobs"]:
        jobs.add_row("—", "", "", "", "", "", "")
    return Group(head, links, certs, jobs)


def cmd_status(args: argparse.Namespace) -> int:
    from rich.console import Console

    cfg = load_config(args.config, args.set or [])
    client = staff_client(args, cfg)
    # Piped to a file or a mail: wide enough that a row stays on one line (the names
    # and their codes make the view wider than the 80 columns rich assumes).
    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    console = Console(width=200 if piped else None)
    if args.json:
        print(json.dumps(_ok(client.get("/v1/status")), ensure_ascii=False, indent=2))
        return 0
    if not args.watch:
        console.print(render_status(_ok(client.get("/v1/status"))))
        return 0
    from rich.live import Live

    with Live(render_status(_ok(client.get("/v1/status"))), console=console,
              refresh_per_second=4, screen=False) as live:
        try:
            while True:
                time.sleep(args.interval)  # the view's refresh, not a wait on the hub
                live.update(render_status(_ok(client.get("/v1/status"))))
        except KeyboardInterrupt:
            pass
    return 0


class JobProgress:
    """Progress bars on the terminal (standard error) for long jobs a command waits on:
    counts, rate and time left, the total from the hub's status view."""

    def __init__(self, client: Any) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.client = client
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[rate]}/s"),
                                 TimeRemainingColumn(), console=Console(stderr=True),
                                 transient=True)
        self.tasks: dict[str, Any] = {}
        self.started: dict[str, float] = {}
        self.progress.start()

    def show(self, job_id: str, label: str, done: int) -> None:
        if job_id not in self.tasks:
            jobs = _ok(self.client.get("/v1/status"))["jobs"]
            total = next((j.get("total") for j in jobs if j["id"] == job_id), None)
            self.tasks[job_id] = self.progress.add_task(label, total=total, rate="—")
            self.started[job_id] = time.monotonic()
        rate = done / max(1e-6, time.monotonic() - self.started[job_id])
        self.progress.update(self.tasks[job_id], completed=done, rate=f"{rate:.0f}")

    def stop(self) -> None:
        self.progress.stop()


# ---- dead letters, maintenance ---------------------------------------------------------


def cmd_deadletters(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.set or [])
    client = staff_client(args, cfg)
    action = args.deadletters_command
    if action == "list":
        query = f"?state={args.state}&limit={args.limit}" + (f"&link={args.link}"
                                                             if args.link else "")
        letters = _ok(client.get(f"/v1/dead-letters{query}"))["dead_letters"]
        rows = [(d["id"], word("link", d["link"]), d["seq"], d["resident_key"],
                 word("code", d["code"]), speaker().duration(d["age_seconds"]), d["reason"])
                for d in letters]
        table((_("id"), _("link"), _("sequence"), _("resident key"), _("refused with"),
               _("age"), _("reason given")), rows)
        print(_("%(count)s dead letters (%(state)s)", count=len(letters),
                state=word("state", args.state)))
        return 1 if letters and args.state == "open" else 0
    if action == "show":
        print(json.dumps(_ok(client.get(f"/v1/dead-letters/{args.id}")), ensure_ascii=False,
                         indent=2))
        return 0
    body = {"reason": args.reason} if args.reason else {}
    done = _ok(client.post(f"/v1/dead-letters/{args.id}/{action}", body))
    print(_("dead letter %(id)s (%(link)s) %(state)s: %(resent)s messages sent again",
            id=done["id"], link=word("link", done["link"]), state=word("state", done["state"]),
            resent=done["resent"])
          + (_(" from sequence %(seq)s", seq=done["resent_from"]) if done["resent_from"] else "")
          + (_("; the resident is still held by another dead letter") if done["still_held"]
             else ""))
    return 0


def cmd_maintenance(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.set or [])
    client = staff_client(args, cfg)
    body: dict[str, Any] = {"on": args.state == "on"}
    if args.reason:
        body["reason"] = args.reason
    shown = _ok(client.post("/v1/maintenance", body))
    if shown["on"]:
        print(_("maintenance mode on (%(reason)s): the intake answers 503 to changes; the "
                "links go on delivering what is queued",
                reason=shown.get("reason") or _("no reason given")))
    else:
        print(_("maintenance mode off: the intake takes changes again"))
    return 0


def add_parsers(sub: Any) -> list[argparse.ArgumentParser]:
    """``status``, ``deadletters …``, ``maintenance …``; the parsers that take the staff
    options (``--user`` and the rest are added by the caller)."""
    status = sub.add_parser("status", help="the hub's links, dead letters, certificates and "
                            "long jobs (for staff without Grafana)")
    status.add_argument("--watch", action="store_true", help="refresh until interrupted")
    status.add_argument("--interval", type=float, default=2.0, help="seconds between views")
    status.add_argument("--json", action="store_true", help="the API's answer as it is")
    status.set_defaults(func=cmd_status)
    dead = sub.add_parser("deadletters", help="dead letters: list, show, replay, discard")
    dead_sub = dead.add_subparsers(dest="deadletters_command", required=True)
    dl_list = dead_sub.add_parser("list", help="id, link, reason, age, resident key "
                                  "(exit 1 when any is open)")
    dl_list.add_argument("--state", default="open", choices=["open", "replayed", "discarded"])
    dl_list.add_argument("--link")
    dl_list.add_argument("--limit", type=int, default=100)
    dl_show = dead_sub.add_parser("show", help="one dead letter with its message (logged)")
    dl_replay = dead_sub.add_parser("replay", help="send it again, and what it held back")
    dl_discard = dead_sub.add_parser("discard", help="give it up (what it held is sent)")
    for p in (dl_show, dl_replay, dl_discard):
        p.add_argument("id", type=int)
    dl_replay.add_argument("--reason", help="what was fixed (optional)")
    dl_discard.add_argument("--reason", required=True, help="why it is given up")
    for p in (dl_list, dl_show, dl_replay, dl_discard):
        p.set_defaults(func=cmd_deadletters)
    maint = sub.add_parser("maintenance", help="maintenance mode: the intake answers 503, "
                           "the links drain")
    maint.add_argument("state", choices=["on", "off"])
    maint.add_argument("--reason", help="shown to callers and on /readyz")
    maint.set_defaults(func=cmd_maintenance)
    return [status, dl_list, dl_show, dl_replay, dl_discard, maint]


__all__ = ["add_parsers", "render_status", "staff_client"]
