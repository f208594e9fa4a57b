from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import LocalProtocolError, RemoteProtocolError
from protocols.framing import FrameDecoder, encode_frame


def test_whole_frames_in_one_chunk() -> None:
    dec = FrameDecoder()
    dec.receive_data(encode_frame(b"one") + encode_frame(b"") + encode_frame(b"three"))
    assert dec.frames() == [b"one", b"", b"three"]
    assert dec.buffered == 0


def test_one_byte_at_a_time() -> None:
    data = encode_frame(b"hello") + encode_frame(b"world")
    dec = FrameDecoder()
    out = []
    for i in range(len(data)):
        dec.receive_data(data[i : i + 1])
        out.extend(dec.frames())
    assert out == [b"hello", b"world"]


def test_trailing_partial_frame_is_kept() -> None:
    dec = FrameDecoder()
    dec.receive_data(encode_frame(b"a") + encode_frame(b"bcdef")[:3])
    assert dec.frames() == [b"a"]
    assert dec.buffered == 3
    dec.receive_data(encode_frame(b"bcdef")[3:])
    assert dec.frames() == [b"bcdef"]


def test_oversize_declared_length_refused_before_buffering() -> None:
    dec = FrameDecoder(max_frame=10)
    dec.receive_data((11).to_bytes(4, "big"))  # no payload yet: refused from the header
    with pytest.raises(RemoteProtocolError) as err:
        dec.next_frame()
    assert err.value.code == "frame_too_large"


def test_encoding_oversize_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        encode_frame(b"x" * 11, max_frame=10)


@given(st.lists(st.binary(max_size=300), max_size=20), st.integers(min_value=1, max_value=50))
def test_any_chunking_round_trips(payloads: list[bytes], chunk: int) -> None:
    data = b"".join(encode_frame(p) for p in payloads)
    dec = FrameDecoder()
    out = []
    for i in range(0, len(data), chunk):
        dec.receive_data(data[i : i + chunk])
        out.extend(dec.frames())
    assert out == payloads
