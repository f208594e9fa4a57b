"""What the actor tests share."""

from __future__ import annotations

import queue
from typing import Any

from actors.messages import KeepLeases


def claim_lease(writer: Any, link: str, instance: str = "test-run") -> int:
    """The link's lease for this test's hub, claimed as the hub's lease keeper does:
    the fencing token its records must carry."""
    found: queue.Queue[Any] = queue.Queue()
    writer.tell(KeepLeases("test-hub", instance, (link,), 3600.0, reply=found.put))
    return int(found.get(timeout=10).held[link])
