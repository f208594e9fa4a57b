"""The msgpack envelope every frame carries.

On the wire an envelope is a msgpack map with short keys::

    {"v": protocol version, "k": kind, "s": link sequence number,
     "c": correlation id, "b": body}

``decode_envelope`` checks types strictly and refuses unknown kinds, so the session
layer above only ever sees well-formed envelopes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import msgpack

from protocols.errors import LocalProtocolError, RemoteProtocolError

PROTOCOL_VERSION = 1


class Kind(enum.StrEnum):
    """Frame kinds of the session protocol."""

    HELLO = "hello"
    DATA = "data"
    ACK = "ack"
    REFUSE = "refuse"
    WITHDRAW = "withdraw"
    HEARTBEAT = "heartbeat"
    REQUEST = "request"  # a query outside the sequenced streams, matched by correlation id
    RESPONSE = "response"


@dataclass(frozen=True, slots=True)
class Envelope:
    kind: Kind
    seq: int = 0
    corr: str = ""
    body: Any = None
    version: int = PROTOCOL_VERSION


MAX_SEQ = 2**63 - 1  # a sequence the store's integers and msgpack both carry


def encode_envelope(env: Envelope) -> bytes:
    """Serialise an envelope to msgpack bytes; ``LocalProtocolError`` for one the peer
    would refuse (a negative or oversized sequence, a body msgpack cannot carry), so a
    mistake of ours never reaches the wire to close the link."""
    if not isinstance(env.seq, int) or isinstance(env.seq, bool) or not 0 <= env.seq <= MAX_SEQ:
        raise LocalProtocolError("bad_sequence", "a sequence is a non-negative integer "
                                 "of at most 63 bits")
    try:
        return msgpack.packb(
            {"v": env.version, "k": env.kind.value, "s": env.seq, "c": env.corr,
             "b": env.body}, use_bin_type=True)
    except (OverflowError, UnicodeEncodeError, TypeError, ValueError):
        raise LocalProtocolError("unencodable", "the frame's body cannot be encoded") from None


_KINDS = {k.value: k for k in Kind}


def decode_envelope(data: bytes) -> Envelope:
    """Parse msgpack bytes into an envelope, or raise ``RemoteProtocolError``."""
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=True, max_bin_len=len(data))
    except Exception as exc:  # msgpack raises several unrelated types
        raise RemoteProtocolError("undecodable_envelope", type(exc).__name__) from None
    if not isinstance(obj, dict):
        raise RemoteProtocolError("undecodable_envelope", "envelope is not a map")
    version, kind, seq, corr = obj.get("v"), obj.get("k"), obj.get("s", 0), obj.get("c", "")
    if version != PROTOCOL_VERSION:
        raise RemoteProtocolError("unsupported_version", f"version {version!r}")
    if kind not in _KINDS:
        raise RemoteProtocolError("unknown_kind", "kind not recognised")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise RemoteProtocolError("bad_sequence", "sequence must be a non-negative integer")
    if not isinstance(corr, str):
        raise RemoteProtocolError("bad_correlation", "correlation id must be a string")
    return Envelope(kind=_KINDS[kind], seq=seq, corr=corr, body=obj.get("b"), version=version)
