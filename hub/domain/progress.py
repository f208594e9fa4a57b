"""Long jobs' progress as the status view (``jukihub status``) and the console show it:
a plain function of what ``GET /v1/status`` answers.  Nothing here imports the store,
so a command that only prints starts quickly.  (Durations are written in the staff's
language by ``hub.support.i18n.Speaker``.)"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Progress:
    """A long job's progress: records per second since it started, seconds left at that
    rate (``None`` when unknown or done), and the share done in per cent."""

    rate: float
    left: float | None
    percent: float


def job_progress(job: Mapping[str, Any], now: float) -> Progress:
    """From a job of ``GET /v1/status`` (its ``done``, ``total``, ``started_at`` and
    ``finished_at``) and the status view's clock."""
    done, total = job.get("done") or 0, job.get("total")
    rate = done / max(1e-6, (job.get("finished_at") or now) - job["started_at"])
    left = (total - done) / rate if total and rate > 0 and done < total else None
    percent = 100.0 * done / total if total else (100.0 if done else 0.0)
    return Progress(rate, left, percent)
