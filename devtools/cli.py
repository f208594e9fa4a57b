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
    args = parser.parse_args(argv)
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
