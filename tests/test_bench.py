"""The benchmark's short mode runs in CI: every figure is measured and printed (in the
test's output with ``-s``, and on failure), none is asserted — speed is read from
``make bench``, not from tests on a shared machine."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ("raw transport", "naive forwarder", "1 client × 1", "64 clients × 1", "intake",
           "end to end", "CPU per change", "latency @", "one request", "hub start",
           "PostgreSQL")


def test_the_short_bench_prints_every_figure() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.run", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    print(done.stdout)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [x.strip() for x in done.stdout.splitlines()]
    for figure in FIGURES:
        line = next((x for x in lines if x.startswith(figure)), None)
        assert line is not None and re.search(r"\d", line), f"no figure for {figure!r}"


def test_the_short_initial_load_bench_prints_its_figures() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.initial_load", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    print(done.stdout)
    assert done.returncode == 0, done.stderr[-3000:]
    for figure in ("initial load", "send batch"):
        line = next((x for x in done.stdout.splitlines() if x.startswith(figure)), None)
        assert line is not None and re.search(r"\d", line), f"no figure for {figure!r}"


def test_the_consistency_bench_runs_on_a_small_register() -> None:
    """(It had stopped running when the residents table gained a column.)"""
    done = subprocess.run([sys.executable, "-m", "bench.consistency", "--residents", "3000"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    print(done.stdout)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if "residents  check" in x)
    assert "planted ones found exactly" in line and "floor" in line and "CPU hub" in line


def test_the_console_bench_runs_on_a_small_inbox() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.console", "--items", "1200"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    print(done.stdout)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("console list"))
    assert "inbox of 1,200" in line and "all 1,200 in" in line
