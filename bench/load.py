"""An open-loop load generator: single-change POSTs on a fixed schedule, in its own process.

``python -m bench.load SPEC`` reads a JSON spec (host, port, certificates, rate, the
changes as JSON bodies) and posts change *i* at ``start + i / rate`` whatever happened
to the ones before it (open loop: a slow answer does not slow the offered load, it
makes later changes late, and a late change's latency counts from its scheduled time).
It keeps a pool of keep-alive mTLS connections (asyncio and the standard library's
``ssl``, so its cost per request stays small beside the hub's) and opens more when
every one is busy.  A change about a resident whose previous change is still
unanswered waits for that answer (the register system never has two changes of one
person in flight), its latency still counted from its own schedule.

It prints one JSON line: per change the scheduled time, the answer time, the status
and the ``update_seq`` of the answer (for the latency to the peer's commit), or the
refusal's code.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


@dataclass
class _Run:
    host: str
    port: int
    context: ssl.SSLContext
    path: str
    max_conns: int
    idle: list[_Conn] = field(default_factory=list)
    opened: int = 0
    waiting_for_conn: list[asyncio.Future[_Conn]] = field(default_factory=list)

    async def connect(self) -> _Conn:
        self.opened += 1  # counted before the handshake, so takers do not overshoot
        reader, writer = await asyncio.open_connection(
            self.host, self.port, ssl=self.context, server_hostname="intake.jukihub.test")
        return _Conn(reader, writer)

    async def take(self) -> _Conn:
        if self.idle:
            return self.idle.pop()
        if self.opened < self.max_conns:
            return await self.connect()
        fut: asyncio.Future[_Conn] = asyncio.get_running_loop().create_future()
        self.waiting_for_conn.append(fut)
        return await fut

    def give_back(self, conn: _Conn) -> None:
        while self.waiting_for_conn:
            fut = self.waiting_for_conn.pop(0)
            if not fut.done():
                fut.set_result(conn)
                return
        self.idle.append(conn)

    async def post(self, body: bytes) -> tuple[int, dict[str, Any]]:
        conn = await self.take()
        head = (f"POST {self.path} HTTP/1.1\r\nHost: intake\r\nContent-Type: application/json"
                f"\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        conn.writer.write(head + body)
        reader = conn.reader
        status_line = await reader.readline()
        length, chunked = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            parts = []
            while size := int((await reader.readline()).split(b";")[0], 16):
                parts.append(await reader.readexactly(size))
                await reader.readline()
            await reader.readline()
            data = b"".join(parts)
        else:
            data = await reader.readexactly(length)
        self.give_back(conn)
        return int(status_line.split()[1]), json.loads(data)


async def _run(spec: dict[str, Any]) -> list[dict[str, Any]]:
    certs = Path(spec["certs"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(certs / "ca.pem"))
    ctx.load_cert_chain(str(certs / "register.pem"), str(certs / "register.key"))
    run = _Run(spec["host"], spec["port"], ctx, spec.get("path", "/v1/changes"),
               spec.get("max_conns", 256))
    for _ in range(spec.get("warm_conns", 32)):  # handshakes before the clock starts
        run.idle.append(await run.connect())
    bodies = [json.dumps(c, ensure_ascii=False).encode() for c in spec["changes"]]
    residents = [c["resident_code"] for c in spec["changes"]]
    results: list[dict[str, Any]] = [{} for _ in bodies]
    in_flight: dict[str, asyncio.Future[None]] = {}
    loop = asyncio.get_running_loop()
    start = time.time() + 0.2

    async def one(i: int, due: float) -> None:
        before = in_flight.get(residents[i])
        mine: asyncio.Future[None] = loop.create_future()
        in_flight[residents[i]] = mine
        if before is not None:
            await before
        status, answer = await run.post(bodies[i])
        results[i] = {"due": due, "answered": time.time(), "status": status,
                      "update_seq": answer.get("update_seq"),
                      "code": (answer.get("error") or {}).get("code")}
        mine.set_result(None)
        if in_flight.get(residents[i]) is mine:
            del in_flight[residents[i]]

    if "concurrency" in spec:  # closed loop: each client posts as soon as answered
        queue = iter(range(len(bodies)))

        async def client() -> None:
            for i in queue:
                await one(i, time.time())

        await asyncio.gather(*(client() for _ in range(int(spec["concurrency"]))))
    else:  # open loop: change i is due at start + i / rate, whatever came before
        rate = float(spec["rate"])
        tasks = []
        for i in range(len(bodies)):
            due = start + i / rate
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)  # the schedule itself: this is a load generator
            tasks.append(asyncio.ensure_future(one(i, due)))
        await asyncio.gather(*tasks)
    for conn in run.idle:
        conn.writer.close()
    return results


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    results = asyncio.run(_run(spec))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
