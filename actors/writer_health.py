"""The store writer's health, as it publishes it: what ``/healthz``, ``/readyz`` and the
``jukihub_store_writer_*`` gauges read.

The writer replaces one frozen ``WriterState`` record on ``WriterBoard`` as it works —
when a transaction begins, commits, or fails — and readers on any thread read the
record (a plain attribute read); nothing else is shared.  Times are the writer's
monotonic clock.

Three verdicts come of it (``WriterBoard.trouble``):

- **stopped**: the actor is gone (a bug stopped it);
- **wedged**: one transaction has lasted longer than the stall limit — the writer is
  stuck on the store (a lock never released, a disk that hangs) and commits nothing;
- **failing**: the last transactions failed for want of the store (full, read-only,
  unreachable) and none has committed since.  A write refused alone because of what
  it carried (a poisoned write) is not the store failing: the rest commit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from hub.support import metrics


@dataclass(frozen=True, slots=True)
class WriterState:
    busy_since: float | None = None     # the transaction under way began then
    failing_since: float | None = None  # the first store failure since the last commit
    last_error: str | None = None       # its type's name
    last_commit: float | None = None
    poisoned: int = 0                   # writes refused alone, for what they carried


class WriterBoard:
    """See the module docstring.  The store writer writes; anyone reads ``state``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.state = WriterState()
        self.alive: Callable[[], bool] = lambda: True  # set when the actor is started

    def _set(self, **changes: object) -> None:
        self.state = dataclasses.replace(self.state, **changes)  # type: ignore[arg-type]

    def began(self) -> None:
        self._set(busy_since=self.clock())

    def committed(self) -> None:
        self._set(busy_since=None, failing_since=None, last_error=None,
                  last_commit=self.clock())
        metrics.store_writer_failing.set(0)

    def failed(self, error: str) -> None:
        """The store failed a transaction (not the write's own fault)."""
        s = self.state
        self._set(busy_since=None, last_error=error,
                  failing_since=s.failing_since if s.failing_since is not None
                  else self.clock())
        metrics.store_writer_failing.set(1)

    def refused_alone(self) -> None:
        """A write failed on its own and was refused; the store works."""
        self._set(busy_since=None, poisoned=self.state.poisoned + 1)

    def idle(self) -> None:
        self._set(busy_since=None)

    def trouble(self, stall_after: float) -> str | None:
        """Why the writer cannot do its job now, in words for staff; ``None``: it can."""
        if not self.alive():
            return "the store writer has stopped"
        s, now = self.state, self.clock()
        if s.busy_since is not None and now - s.busy_since > stall_after:
            return (f"the store writer has been inside one transaction for "
                    f"{now - s.busy_since:.0f} s (wedged)")
        if s.failing_since is not None:
            return (f"the store's transactions fail ({s.last_error}) since "
                    f"{now - s.failing_since:.0f} s; nothing commits")
        return None

    def busy_seconds(self) -> float:
        """How long the transaction under way has lasted (0 when idle): a gauge."""
        since = self.state.busy_since
        return max(0.0, self.clock() - since) if since is not None else 0.0
