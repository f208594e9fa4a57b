"""``jukihub-dev fuzz [--inputs N] [--seed S]``: bad input in bulk against every decoder.

A corpus of real documents — the hub's own messages to each peer, made by running
synthetic changes through the register in a scratch store with every link on, and the
documents peers send it, encoded by the protocols' own encoders — is mutated (bits
flipped, bytes inserted, deleted, repeated, cut, element text replaced with hostile
text: huge, control characters, entities, deep nesting, DOCTYPEs) and every input is
handed to every decoder (the XML ones, the intermediate server's msgpack, the frame
decoder and the session's state machine).

Each decode must return a document or raise the protocol's own error (``BodyError``,
``RemoteProtocolError``, ``LocalProtocolError``) — anything else is a crash — within a
second (else a hang), and memory must stay bounded (peak RSS reported).  Crashing
inputs are written to ``--crashes DIR``.  The same seed makes the same inputs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from protocols import card, consistency, identity, intermediate, moj, national, senddest, wide_area
from protocols.errors import BodyError, LocalProtocolError, RemoteProtocolError
from protocols.framing import FrameDecoder, encode_frame
from protocols.session import Role, Session

ALLOWED = (BodyError, RemoteProtocolError, LocalProtocolError)
HANG_SECONDS = 1.0


def _session(data: bytes) -> Any:
    """The peer's side of a session (it takes the hub's frames): the bytes as frames."""
    s = Session(Role.RECEIVER, "222038", "prefecture", max_frame=1 << 20)
    return s.receive_data(data)


def _frames(data: bytes) -> Any:
    d = FrameDecoder(max_frame=1 << 20)
    d.receive_data(data)
    out = []
    while (f := d.next_frame()) is not None:
        out.append(f)
    return out


DECODERS: dict[str, Callable[[bytes], Any]] = {
    "identity_update": identity.decode_identity_update,
    "to_national": national.decode_to_national,
    "from_national": national.decode_from_national,
    "national_question": national.decode_question,
    "query_result": national.decode_query_result,
    "certificate_answer": national.decode_certificate_answer,
    "code_change_answer": national.decode_code_change_answer,
    "consistency_result": consistency.decode_result,
    "to_card": card.decode_to_card,
    "send_destination": senddest.decode_chunk,
    "moj_notice": moj.decode_notice,
    "moj_change": moj.decode_change_notice,
    "to_intermediate": intermediate.decode_to_intermediate,
    "from_intermediate": intermediate.decode_from_intermediate,
    "wide_area_answer": wide_area.decode_answer,
    "frames": _frames,
    "session": _session,
}


# ---- the corpus ---------------------------------------------------------------------------


def corpus(seed: int) -> list[bytes]:
    """Real documents: the hub's messages for synthetic changes (every link on), and
    the peers' documents, each as the protocols encode it."""
    from devtools.synthetic import Synth
    from hub.domain.changes import parse_change
    from hub.domain.outcomes import Request
    from hub.domain.register import Register
    from hub.store import Store
    from hub.store.engine import make_engine, migrate

    docs: list[bytes] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'fuzz.db'}"
        migrate(url)
        store = Store(make_engine(url))
        links = frozenset({"prefecture", "national", "moj", "intermediate", "card"})
        register = Register(store, "222038", links, time.time)
        synth = Synth(seed=seed)
        changes: list[Request] = [parse_change(c, synth.today) for c in synth.stream(300)]
        register.apply_batch(changes)
        with store.reading() as db:
            docs += [bytes(p) for (p,) in db.rows("SELECT payload FROM outbox")]
        store.dispose()
    docs += _peer_documents()
    # Whole session streams: a hello, then data frames (what a peer reads).
    sender = Session(Role.SENDER, "222038", "prefecture", max_frame=1 << 20)
    hello = sender.hello()
    docs += [hello + encode_frame(d, 1 << 20) for d in docs[:20]]
    return docs


def _peer_documents() -> list[bytes]:
    today = dt.date(2026, 12, 1)
    return [
        national.encode_number_generated(national.NumberGenerated(
            7, "222038", "12345678903", "123456789018")),
        national.encode_transfer_in(national.TransferInNotice(
            3, "131016", "222038", "12345678903", today, today, "東京都千代田区千代田１番")),
        consistency.encode_result(consistency.ConsistencyResult(
            "C0000000001", "222038", 3, 3, 1, (consistency.Difference(
                "12345678903", "differs", "address"),))),
        moj.encode_change_notice(moj.ResidenceChangeNotice(
            "N-1", "222038", "AB12345678CD", today, None, "永住者", None, None, None)),
        wide_area.encode_request(wide_area.WideAreaCopyRequest(
            "Q-1", "222038", "131016", "12345678903", "household",
            dt.datetime(2026, 12, 1, 10, 0))),
    ]


# ---- mutations -----------------------------------------------------------------------------

HOSTILE = [
    "A" * 70_000, "\x00\x01\x02", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
    "&xxe;", "<!DOCTYPE r [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;'>]>",
    "<a>" * 5000, "]]>", "𠮷" * 400, "1e999", "-1", "2147483648", "9" * 40, "NaN",
    "<![CDATA[x]]>", "&#0;", "&#x110000;", "\u202e", "邉\U000E0102" * 60,
]


def mutate(rng: random.Random, doc: bytes) -> bytes:
    data = bytearray(doc)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(8)
        if not data:
            data += rng.randbytes(rng.randint(1, 64))
            continue
        i = rng.randrange(len(data))
        if kind == 0:
            data[i] ^= 1 << rng.randrange(8)
        elif kind == 1:
            data[i:i] = rng.randbytes(rng.randint(1, 16))
        elif kind == 2:
            del data[i:i + rng.randint(1, 32)]
        elif kind == 3:
            j = min(len(data), i + rng.randint(1, 64))
            data[i:i] = data[i:j] * rng.randint(2, 50)
        elif kind == 4:
            del data[i:]
        elif kind == 5:  # element text replaced
            start = data.find(b">", i)
            end = data.find(b"<", start + 1) if start >= 0 else -1
            if 0 <= start < end:
                data[start + 1:end] = rng.choice(HOSTILE).encode("utf-8", "surrogatepass")
        elif kind == 6:
            data[i:i] = rng.choice(HOSTILE).encode("utf-8", "surrogatepass")
        else:
            data = bytearray(rng.randbytes(rng.randint(0, 256)))
    return bytes(data)


# ---- the run ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Report:
    inputs: int = 0
    decoded: Counter[str] = dataclasses.field(default_factory=Counter)
    refused: Counter[str] = dataclasses.field(default_factory=Counter)
    crashes: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    hangs: list[tuple[str, float, str]] = dataclasses.field(default_factory=list)
    slowest: float = 0.0
    seconds: float = 0.0
    peak_rss_mib: float = 0.0
    corpus: int = 0


def _inputs(rng: random.Random, docs: list[bytes]) -> Iterator[bytes]:
    while True:
        yield mutate(rng, rng.choice(docs)) if rng.random() < 0.97 else rng.choice(docs)


def run(budget: int, seed: int, crashes: Path | None = None) -> Report:
    """``budget`` decode calls (inputs × decoders), from ``seed``."""
    rng = random.Random(seed)
    docs = corpus(seed)
    report = Report(corpus=len(docs))
    started = time.perf_counter()
    names = list(DECODERS)
    for data in _inputs(rng, docs):
        for name in names:
            if report.inputs >= budget:
                report.seconds = time.perf_counter() - started
                report.peak_rss_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                       / 1024)
                return report
            report.inputs += 1
            t0 = time.perf_counter()
            try:
                DECODERS[name](data)
                report.decoded[name] += 1
            except ALLOWED:
                report.refused[name] += 1
            except Exception as exc:  # a crash: the decoder let something else out
                digest = hashlib.sha256(data).hexdigest()[:16]
                report.crashes.append((name, type(exc).__name__, digest))
                if crashes is not None:
                    crashes.mkdir(parents=True, exist_ok=True)
                    (crashes / f"{name}-{digest}.bin").write_bytes(data)
            took = time.perf_counter() - t0
            report.slowest = max(report.slowest, took)
            if took > HANG_SECONDS:
                report.hangs.append((name, took, hashlib.sha256(data).hexdigest()[:16]))
    raise AssertionError("unreachable")  # the input stream never ends


def main(budget: int, seed: int, crashes: Path | None) -> int:
    print(f"jukihub fuzz — seed {seed}, {budget:,} decode calls over {len(DECODERS)} "
          "decoders")
    r = run(budget, seed, crashes)
    print(f"corpus {r.corpus} real documents; {r.inputs:,} inputs in {r.seconds:.1f} s "
          f"({r.inputs / r.seconds:,.0f}/s); slowest {r.slowest * 1000:.1f} ms; peak RSS "
          f"{r.peak_rss_mib:.0f} MiB")
    print(f"decoded {sum(r.decoded.values()):,}, refused with the protocol's error "
          f"{sum(r.refused.values()):,}, crashes {len(r.crashes)}, hangs {len(r.hangs)}")
    for name, kind, digest in r.crashes[:20]:
        print(f"  crash {name}: {kind} (input {digest})")
    for name, took, digest in r.hangs[:20]:
        print(f"  hang {name}: {took:.1f} s (input {digest})")
    return 1 if r.crashes or r.hangs else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, 1, None))
