"""Every Prometheus metric of the hub, in one place so the names stay consistent.

Names follow ``jukihub_<subsystem>_<thing>_<unit>``; counters omit ``_total`` (the
client library adds it).  Label values come from small fixed sets (link names, rule
codes, states, stages) and never carry personal data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from prometheus_client import (
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily

disable_created_metrics()  # the _created series only double the scrape size

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                   30, 60)

changes_accepted = Counter("jukihub_intake_changes_accepted",
                           "Changes committed, by reason (異動事由)", ["reason"])
changes_refused = Counter("jukihub_intake_changes_refused",
                          "Changes refused, by the check or rule that refused them", ["rule"])
changes_repeated = Counter("jukihub_intake_changes_repeated",
                           "Repeated request ids answered with their first answer")
intake_requests = Counter("jukihub_intake_requests", "HTTP requests by endpoint and status",
                          ["endpoint", "status"])
intake_seconds = Histogram("jukihub_intake_request_seconds",
                           "Time from request received to answer written", ["endpoint"],
                           buckets=LATENCY_BUCKETS)
intake_hop_seconds = Histogram(
    "jukihub_intake_hop_seconds",
    "A change request's time by hop: checks (the JSON, the OpenAPI document and the format "
    "checks, in an intake worker), writer_wait (handed to the store writer, until its "
    "transaction begins), commit (that transaction, begin to commit), answer (the outcomes "
    "back in the worker, until the answer is written); the rest of "
    "jukihub_intake_request_seconds is the hand-over between processes and threads",
    ["hop"], buckets=LATENCY_BUCKETS)
intake_open = Gauge("jukihub_intake_open",
                    "1 while the intake takes changes; 0 in maintenance mode or under "
                    "backpressure (it answers 503)")
ready = Gauge("jukihub_ready", "1 when /readyz last said ready")
backup_last_success = Gauge("jukihub_backup_last_success_timestamp_seconds",
                            "When the newest checked backup of the store was made (0: none "
                            "since the hub started)")
backup_failures = Counter("jukihub_backup_failures_total",
                          "Backups that could not be made or failed their check")
intake_client_refused = Counter("jukihub_intake_client_refused",
                                "Connections whose client certificate is not allowed")

store_commit_seconds = Histogram("jukihub_store_commit_seconds",
                                 "Duration of a database transaction, from begin to commit "
                                 "(group: the store writer's group commit; job: a slice of "
                                 "a long job)", ["txn"], buckets=LATENCY_BUCKETS)
store_seconds = Histogram("jukihub_store_transaction_seconds",
                          "Duration of a named store transaction (outbox.append, "
                          "inbox.record, …), inside its database transaction", ["txn"],
                          buckets=LATENCY_BUCKETS)
store_errors = Counter("jukihub_store_errors", "Store transactions that failed", ["txn"])
store_writes_refused = Counter("jukihub_store_writes_refused",
                               "Writes refused on their own because the store could not "
                               "hold what they carried (the rest of their group committed)",
                               ["op"])
store_writer_failing = Gauge("jukihub_store_writer_failing",
                             "1 while the store writer's transactions fail for want of the "
                             "store and none has committed since")
store_writer_busy = Gauge("jukihub_store_writer_busy_seconds",
                          "How long the store writer's transaction under way has lasted "
                          "(0 when idle): it grows while the writer is wedged")
store_batch_size = Histogram("jukihub_store_batch_size", "Writes committed per transaction",
                             ["txn"], buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000))

outbox_depth = Gauge("jukihub_outbox_depth", "Messages not yet acknowledged by the peer",
                     ["link"])
link_inflight = Gauge("jukihub_link_inflight", "Data frames sent and not yet acknowledged",
                      ["link"])
link_inflight_bytes = Gauge("jukihub_link_inflight_bytes",
                           "Payload bytes sent and not yet acknowledged", ["link"])
dead_letters_open = Gauge("jukihub_link_dead_letters_open",
                          "Dead letters staff have not yet replayed or discarded", ["link"])
link_held = Gauge("jukihub_link_held_residents",
                  "Residents whose messages are held back behind a dead letter", ["link"])
link_up = Gauge("jukihub_link_up", "1 when the link is connected and past hello", ["link"])
fenced_writes = Counter(
    "jukihub_fenced_writes_total",
    "Records of a link this hub no longer owns (another hub took its lease) that the "
    "store writer refused to write", ["link"])
link_owned = Gauge("jukihub_link_owned", "1 while this hub holds the link's lease (sends "
                   "on it); with two hubs, exactly one has 1", ["link"])
link_state = Gauge("jukihub_link_state", "1 for the link's current state", ["link", "state"])
link_peer_applied = Gauge("jukihub_link_peer_applied",
                          "The highest sequence the peer said it applied, at its last hello",
                          ["link"])
delivered = Counter("jukihub_link_delivered", "Messages acknowledged by the peer", ["link"])
retries = Counter("jukihub_link_retries", "Retries, by cause", ["link", "cause"])
dead_letters = Counter("jukihub_link_dead_letters", "Messages moved to the dead letters",
                       ["link", "code"])
connect_failures = Counter("jukihub_link_connect_failures",
                           "Failed connection attempts, by stage (connect, handshake, hello)",
                           ["link", "stage"])
inbound = Counter("jukihub_link_inbound", "Documents pushed by the peer and recorded",
                  ["link"])
inbound_refused = Counter("jukihub_link_inbound_refused",
                          "Pushed documents refused (kept in the inbox as refused)",
                          ["link", "code"])
outbox_purged = Counter("jukihub_outbox_purged",
                        "Delivered outbox messages deleted after their retention")
inbox_purged = Counter("jukihub_inbox_purged",
                       "Acknowledged inbox items deleted after their retention")
protocol_errors = Counter("jukihub_link_protocol_errors",
                          "Connections closed for a protocol violation", ["link", "code"])
consistency_differences = Gauge(
    "jukihub_consistency_differences",
    "Differences the peer reported in the latest consistency check (整合性確認)", ["link"])
consistency_checks = Counter("jukihub_consistency_checks",
                             "Consistency checks answered by the peer", ["link"])
queries = Counter("jukihub_link_queries", "Queries (request/response) by outcome",
                  ["link", "outcome"])
query_seconds = Histogram("jukihub_link_query_seconds", "From a query's request to its answer",
                          ["link"], buckets=LATENCY_BUCKETS)
delivery_latency = Histogram("jukihub_delivery_latency_seconds",
                             "From the change's commit to the peer's acknowledgement",
                             ["link"], buckets=LATENCY_BUCKETS)
audit_anchor = Info("jukihub_audit_anchor",
                    "The operation log's newest anchor: its entry id and chain hash (a copy "
                    "outside the database; Prometheus keeps the history)")
audit_anchored = Gauge("jukihub_audit_anchored_entries",
                       "Entries of the operation log covered by the newest anchor")


@dataclass(frozen=True, slots=True)
class LinkFigures:
    """One link as its actor last published it."""

    state: str
    depth: int                 # messages not yet acknowledged
    inflight: int              # frames sent and not acknowledged
    inflight_bytes: int
    held_residents: int
    dead_letters: int          # open
    oldest_enqueued: float | None
    last_error: str | None     # why it last failed (a code), and when
    last_error_at: float | None


class _LinkBoard:
    """Each link's figures as its actor last published them (a plain assignment of a
    frozen record per link: the actor writes, readers on any thread only read): what
    ``/readyz``, the status view, the console and the intake's backpressure look at,
    without asking the actors.

    It is also the collector of ``jukihub_outbox_oldest_age_seconds``, computed at
    scrape time from the oldest message's enqueue time, so the age keeps growing while
    a link is stuck and no event updates it."""

    def __init__(self) -> None:
        self.links: dict[str, LinkFigures] = {}
        self.clock = time.time

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("jukihub_outbox_oldest_age_seconds",
                                   "Age of the oldest message not yet acknowledged",
                                   labels=["link"])
        now = self.clock()
        for link, figures in sorted(self.links.items()):
            ts = figures.oldest_enqueued
            family.add_metric([link], max(0.0, now - ts) if ts is not None else 0.0)
        yield family


link_board = _LinkBoard()
REGISTRY.register(link_board)


class _CertificateDays:
    """``jukihub_certificate_expiry_seconds{party}``: seconds until each of the hub's own
    certificates (and the CA's) expires, and ``{party="crl:<file>"}`` until each
    revocation list must be renewed — read at scrape time (files re-read when they
    change), so an alert sees the certificate that is in place now."""

    def __init__(self) -> None:
        self.files: dict[str, Path] = {}
        self._cache: dict[Path, tuple[float, float]] = {}  # path -> (mtime, not_after)
        self.clock = time.time

    def watch(self, certs_dir: Path, parties: list[str]) -> None:
        self.files = {p: certs_dir / f"{p}.pem" for p in ["ca", *parties]}
        self.files.update({f"crl:{f.name}": f for f in sorted(certs_dir.glob("*.crl"))})

    def _not_after(self, path: Path) -> float | None:
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        cached = self._cache.get(path)
        if cached is None or cached[0] != mtime:
            data = path.read_bytes()
            when = (x509.load_pem_x509_crl(data).next_update_utc if path.suffix == ".crl"
                    else x509.load_pem_x509_certificate(data).not_valid_after_utc)
            cached = self._cache[path] = (mtime, when.timestamp() if when else float("inf"))
        return cached[1]

    def days_left(self) -> dict[str, float]:
        """party -> days until it expires (a CRL: its next update), as of now."""
        now, out = self.clock(), {}
        for party, path in sorted(self.files.items()):
            not_after = self._not_after(path)
            if not_after is not None:
                out[party] = (not_after - now) / 86400
        return out

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("jukihub_certificate_expiry_seconds",
                                   "Seconds until the certificate expires (a CRL: until its "
                                   "next update is due)", labels=["party"])
        for party, days in self.days_left().items():
            family.add_metric([party], days * 86400)
        yield family


certificate_days = _CertificateDays()
REGISTRY.register(certificate_days)
