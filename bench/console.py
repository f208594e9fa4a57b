"""``python -m bench.console``: the staff console's lists at a city's size.  A hub whose
inbox holds 10,000 ministry notices; a staff terminal (mutual TLS) logged in to the
console asks for the inbox's first page, a page of the most rows the API gives (1,000),
and every item a page of 1,000 at a time.  Each figure is the time from the request to
the whole page: TLS, HTTP, the API's checks, the store's read, the documents decoded,
the template rendered.  ``--items`` sets the inbox's size."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path

from certs.devca import init_certs
from devtools.harness import CONFIG, STAFF_PASSWORD, Env
from hub.config import load_config
from hub.store import Store
from hub.store.engine import make_engine, migrate
from hub.store.inbox import push_row
from protocols.moj import ResidenceChangeNotice, encode_change_notice


def fill(env: Env, items: int) -> None:
    """``items`` ministry notices in the hub's inbox, as if pushed."""
    migrate(env.store_url)
    store = Store(make_engine(env.store_url))
    now = time.time()
    rows = [push_row("moj", n + 1, "moj.residence_change", encode_change_notice(
        ResidenceChangeNotice(f"N-{n:06}", "222038", f"AB{n:08}CD", dt.date(2026, 11, 2),
                              None, "永住者", None, None, None)), None, now - items + n)
            for n in range(items)]
    with store.transaction("bench") as db:
        store.inbox.record_many(db, rows)
    store.dispose()


class Terminal:
    """A staff terminal's browser, without the browser: the console's cookie kept."""

    def __init__(self, env: Env, user: str) -> None:
        self.client, self.cookie = env.client("operator"), ""
        form = urllib.parse.urlencode({"user_id": user, "password": STAFF_PASSWORD})
        status, _ = self.client.request("POST", "/console/login", raw=form.encode(),
                                        content_type="application/x-www-form-urlencoded")
        assert status == 303, status
        self.cookie = self.client.last_headers["set-cookie"].split(";")[0]

    def timed(self, path: str) -> tuple[float, str]:
        t0 = time.perf_counter()
        status, html = self.client.request("GET", path, headers={"Cookie": self.cookie})
        took = time.perf_counter() - t0
        assert status == 200, (status, html[-300:])
        return took, html


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=10_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="jukihub-bench-console-"))
    certs = tmp / "certs"
    init_certs(certs, load_config(CONFIG).parties)
    print(f"jukihub console bench — {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} "
          f"cores, data in {tmp}")
    env = Env(tmp, certs)
    fill(env, args.items)
    env.start_mock()
    env.start_hub(['logging.level="warning"'])
    try:
        env.add_staff("clerk1", "window_clerk")
        t = Terminal(env, "clerk1")
        first = statistics.median(t.timed("/console/inbox")[0] for _ in range(5))
        big = statistics.median(t.timed("/console/inbox?per=1000")[0] for _ in range(3))
        path, pages, t0 = "/console/inbox?per=1000", 0, time.perf_counter()
        rows = 0
        while path:
            _, html = t.timed(path)
            pages += 1
            rows += len(re.findall(r'class="item"', html))
            found = re.search(r'href="([^"]+)" id="next-page"', html)
            path = found.group(1).replace("&amp;", "&") if found else ""
        every = time.perf_counter() - t0
        assert rows == args.items, (rows, args.items)
        print(f"console list       inbox of {args.items:,}: first page (100 rows) "
              f"{first * 1000:.0f} ms, a page of 1,000 rows {big * 1000:.0f} ms, all "
              f"{rows:,} in {pages} pages of 1,000 {every:.2f} s (median of runs; the "
              f"aim: under a second)")
    finally:
        env.stop()


if __name__ == "__main__":
    main()
