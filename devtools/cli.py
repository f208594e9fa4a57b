"""``jukihub-dev``: the development tools' commands (the product's are ``jukihub``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jukihub-dev", description=__doc__)
    parser.add_argument("--config", default="config.toml", type=Path,
                        help="configuration file (default: config.toml)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override an option (value in TOML syntax); repeatable")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the hub and every mock on loopback and drive "
                          "changes through them")
    demo.add_argument("--changes", type=int, default=300)
    sub.add_parser("dashboard", help="write the Grafana dashboard's JSON (built with "
                   "grafana-foundation-sdk) to hub/ops/grafana-dashboard.json")
    sub.add_parser("alert-case", help="write the promtool case of a freshly started healthy "
                   "hub (hub/ops/prometheus-alerts.healthy.test.yml) from a real scrape")
    fz = sub.add_parser("fuzz", help="bad input in bulk against every decoder (a mutated "
                        "corpus of real documents); exit 1 on a crash or a hang")
    fz.add_argument("--inputs", type=int, default=1_000_000, help="decode calls in all")
    fz.add_argument("--seed", type=int, default=1, help="the same seed, the same inputs")
    fz.add_argument("--crashes", type=Path, help="where to write crashing inputs")
    ft = sub.add_parser("faults", help="changes through all five links while the hub, the "
                        "mocks, connections and the store's disk fail at seeded moments; "
                        "exit 1 unless nothing was lost, applied twice or out of order")
    ft.add_argument("--changes", type=int, default=10_000)
    ft.add_argument("--seed", type=int, default=1, help="the same seed, the same schedule")
    ft.add_argument("--faults", metavar="KIND=N,…",
                    help="how many of each (hub_kill, mock_kill, cut, stall, refuse, fill); "
                    "default hub_kill=5,mock_kill=5,cut=3,stall=2,refuse=3,fill=1")
    ft.add_argument("--batch", type=int, default=50, help="changes per request")
    ft.add_argument("--store-fs-mib", type=int, default=512,
                    help="the size of the store's own file system")
    ft.add_argument("--hubs", type=int, choices=(1, 2), default=1,
                    help="2: two hubs on a private PostgreSQL server, killed by turns")
    rd = sub.add_parser("redoc", help="take Redoc's bundle for /docs/ from its release on the "
                        "npm registry (integrity checked) into hub/api/static/redoc/")
    rd.add_argument("version", help="the Redoc release, e.g. 2.5.4")
    args = parser.parse_args(argv)
    if args.command == "redoc":
        from devtools.redoc import fetch

        print(f"wrote redoc {fetch(args.version)['version']}")
        return 0
    if args.command == "faults":
        from devtools.faults import Options, counts_from, run

        defaults = Options()
        return 0 if run(Options(changes=args.changes, seed=args.seed, batch=args.batch,
                                counts=counts_from(args.faults, defaults.counts),
                                store_fs_mib=args.store_fs_mib, hubs=args.hubs)) else 1
    if args.command == "fuzz":
        from devtools.fuzz import main as fuzz

        return fuzz(args.inputs, args.seed, args.crashes)
    if args.command == "dashboard":
        from devtools.dashboard import write

        print(f"wrote {write()}")
        return 0
    if args.command == "alert-case":
        from devtools.alert_case import write as write_case

        print(f"wrote {write_case()}")
        return 0
    from devtools.demo import run_demo

    try:
        return run_demo(args.config, args.set, args.changes)
    except (ConfigError, FileNotFoundError) as exc:
        print(f"jukihub-dev: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
