"""File exports (``/v1/exports``): ask for one, then write it — after a second
supervisor's approval when it is a bulk output.  The file's content comes in the answer
only once its medium (who, what, how many, which approval, SHA-256) is on the record;
``jukihub export`` writes it to disk and checks the digest."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from actors.messages import RecordExportWritten, StartExport
from hub.api.context import Answer, Api, Call
from hub.api.jobs import start_job
from hub.domain import exports


def request(api: Api, call: Call) -> defer.Deferred[Answer]:
    who, kind, threshold = call.who, call.body["kind"], api.settings.bulk_threshold
    d = start_job(api, lambda reply: StartExport(kind, who.operator_id, who.terminal_id,
                                                 threshold, reply), "export")
    return d.addCallback(lambda answer: (202, answer))


def write(api: Api, call: Call) -> defer.Deferred[Answer]:
    store, export_id, who = api.reads.store, call.params["export_id"], call.who

    def read() -> list[tuple[Any, ...]]:  # a pool thread
        with store.reading() as db:
            # A refusal seen now spares reading the file; the store writer decides.
            exports.writable(store.approvals.export(db, export_id), who.operator_id)
            return store.approvals.export_rows(db)

    def record(rows: list[tuple[Any, ...]]) -> defer.Deferred[Any]:
        text = exports.as_csv(rows)
        return start_job(api, lambda reply: RecordExportWritten(
            export_id, text, len(rows), who.operator_id, who.terminal_id, reply), "medium")

    return api.reads.run(read).addCallback(record).addCallback(lambda a: (200, a))
