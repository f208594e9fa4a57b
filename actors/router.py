"""Routing: which links get which message for an accepted change.

A pure function called by the store writer inside the transaction that records the
change, so a change and every message it causes commit together (DESIGN.md, Routing).
This issue routes identity updates to the prefectural server; the other links add
their rows to ``route`` as they arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.identity import IdentityRecord, IdentityUpdate, encode_identity_update


@dataclass(frozen=True, slots=True)
class Outbound:
    link: str
    kind: str
    payload: bytes


def route(record: IdentityRecord, previous_update_seq: int | None,
          enabled_links: frozenset[str]) -> list[Outbound]:
    """Messages caused by an identity-information change (any 異動事由)."""
    out: list[Outbound] = []
    if "prefecture" in enabled_links:
        body = encode_identity_update(IdentityUpdate(record, previous_update_seq))
        out.append(Outbound("prefecture", "identity_update", body))
    return out
