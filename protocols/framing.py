"""Length-prefixed framing: a 4-byte big-endian length, then that many payload bytes.

``FrameDecoder`` is fed bytes in any chunking and yields whole payloads; a declared
length above ``max_frame`` raises ``RemoteProtocolError('frame_too_large')`` *before* any
of the payload is buffered, so a hostile peer cannot make us allocate it.
"""

from __future__ import annotations

import struct

from protocols.errors import LocalProtocolError, RemoteProtocolError

HEADER = struct.Struct(">I")
DEFAULT_MAX_FRAME = 1 << 20


def encode_frame(payload: bytes, max_frame: int = DEFAULT_MAX_FRAME) -> bytes:
    """Return ``payload`` with its length prefix."""
    if len(payload) > max_frame:
        raise LocalProtocolError("frame_too_large", f"{len(payload)} > {max_frame} bytes")
    return HEADER.pack(len(payload)) + payload


class FrameDecoder:
    """Reassembles frames from a byte stream."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self._pos = 0

    def receive_data(self, data: bytes) -> None:
        """Append bytes read from the transport."""
        self._buf += data

    def next_frame(self) -> bytes | None:
        """Return the next whole payload, or ``None`` if more data is needed."""
        avail = len(self._buf) - self._pos
        if avail < HEADER.size:
            self._compact()
            return None
        (length,) = HEADER.unpack_from(self._buf, self._pos)
        if length > self.max_frame:
            raise RemoteProtocolError("frame_too_large", f"{length} > {self.max_frame} bytes")
        end = self._pos + HEADER.size + length
        if len(self._buf) < end:
            self._compact()
            return None
        payload = bytes(self._buf[self._pos + HEADER.size : end])
        self._pos = end
        return payload

    def frames(self) -> list[bytes]:
        """Return every whole payload buffered so far."""
        out = []
        while (frame := self.next_frame()) is not None:
            out.append(frame)
        return out

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet form a whole frame."""
        return len(self._buf) - self._pos

    def _compact(self) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
