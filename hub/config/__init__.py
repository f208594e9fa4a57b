"""Configuration: one TOML file (``config.toml``) describes the whole hub.

``load_config`` reads it, applies ``section.key=value`` overrides (the CLI's ``--set``;
values are TOML literals), resolves relative paths against the file's folder, and
returns frozen dataclasses.  Every option is documented in ``config.toml`` itself.
"""

from __future__ import annotations

import hashlib
import socket
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.config.access import AccessConfig, AccessError, access_from_raw
from hub.config.departments import DEPARTMENT_ROLE, Department, departments_from_raw
from protocols.codes import is_municipality_code

LINK_NAMES = ("prefecture", "national", "card", "intermediate", "moj")


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class LinkConfig:
    name: str
    enabled: bool
    host: str
    port: int
    peer_name: str
    window: int
    max_frame_bytes: int
    heartbeat_interval: float
    heartbeat_timeout: float
    connect_timeout: float
    backoff_initial: float
    backoff_max: float
    backoff_multiplier: float
    max_attempts: int
    memory_queue: int
    query_timeout: float = 10.0
    memory_bytes: int = 64 << 20
    window_bytes: int = 8 << 20


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    postal_code: str
    address: str
    phone: str


@dataclass(frozen=True, slots=True)
class SendConfig:
    """``[send_destination]``: the city's own items (9–32) of the 送付先情報 file."""

    municipality_name: str
    city: Place          # 市町村 (the city hall's address and telephone)
    issue_place: Place   # 交付場所
    card_place: Place    # カード送付場所
    chunk_records: int
    print_class: str
    per_household: bool = True  # one destination per 世帯 (to its 世帯主), or per resident


@dataclass(frozen=True)
class BackupConfig:
    """``[backup]``: where the copies go, how often the hub takes one, how many stay."""

    folder: Path
    every: float | None  # seconds (None: on demand only)
    keep: int


@dataclass(frozen=True)
class ClusterConfig:
    """``[cluster]``: this hub among the hubs sharing one store (``hub/store/leases.py``).

    ``name`` is this hub's, unique among them (a hub started again under the same name
    takes its links back at once); ``lease`` how long a link stays owned without a
    renewal — a dead owner's links are taken over within about ``lease + renew``
    seconds; ``renew`` how often the hub claims its links; ``poll`` how often the owner
    of a link looks for what other hubs did to it."""

    name: str
    lease: float
    renew: float
    poll: float

    @property
    def send_window(self) -> float:
        """How long after sending a claim a link may send: a fifth of the lease short
        of its expiry in the database (for clocks that run a little apart)."""
        return self.lease * 0.8


def _cluster_config(raw: dict[str, Any], data_dir: Path) -> ClusterConfig:
    # The default name: this machine and this hub's data folder, so a hub started again
    # on the same machine is the same hub, and a second hub (its own folder) another.
    folder = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    name = str(raw.get("name") or f"{socket.gethostname()[:48]}:{folder}")
    lease = float(raw.get("lease", 5.0))
    renew = float(raw.get("renew", lease / 5))
    poll = float(raw.get("poll", 0.2))
    if not 1 <= len(name) <= 64:
        raise ValueError("cluster.name is 1 to 64 characters")
    if not (0.5 <= lease <= 600 and 0.05 <= renew <= lease / 3 and 0.01 <= poll <= 60):
        raise ValueError("cluster.lease is 0.5..600 s, cluster.renew at most a third of it, "
                         "cluster.poll 0.01..60 s")
    return ClusterConfig(name, lease, renew, poll)


@dataclass(frozen=True)
class ListenerConfig:
    host: str
    port: int


@dataclass(frozen=True)
class IntakeConfig(ListenerConfig):
    max_body_bytes: int = 8 << 20
    max_batch: int = 1000
    validate_responses: bool = True
    workers: int = 2
    processes: int = 1
    read_threads: int = 4
    read_queue: int = 64


@dataclass(frozen=True)
class AuditConfig:
    """``[audit]``: the operation log's anchors and its periodic review."""

    anchor_file: Path
    anchor_interval: float = 86400.0
    working_hours: str = "08:30-17:15"
    working_days: str = "mon-fri"
    timezone: str = "Asia/Tokyo"


@dataclass(frozen=True)
class OperationsConfig:
    """``[operations]``: backpressure, maintenance's answer, readiness, the console."""

    outbox_limit: int = 200_000
    retry_after: int = 30
    readiness_cache: float = 2.0
    readiness_timeout: float = 2.0
    certificate_warning_days: float = 14.0
    console: bool = True
    store_free_floor: int = 128 << 20   # bytes
    writer_stall: float = 30.0


# The API document's bound on a batch (maxItems of /v1/changes/batch).
MAX_BATCH = 1000


def _max_batch(intake: dict[str, Any]) -> int:
    n = int(intake.get("max_batch", MAX_BATCH))
    if not 1 <= n <= MAX_BATCH:
        raise ConfigError(f"[intake] max_batch is 1 to {MAX_BATCH} (the API document's bound)")
    return n


def _operations_config(raw: dict[str, Any]) -> OperationsConfig:
    cfg = OperationsConfig(
        outbox_limit=int(raw.get("outbox_limit", 200_000)),
        retry_after=int(raw.get("retry_after_seconds", 30)),
        readiness_cache=float(raw.get("readiness_cache_seconds", 2)),
        readiness_timeout=float(raw.get("readiness_timeout_seconds", 2)),
        certificate_warning_days=float(raw.get("certificate_warning_days", 14)),
        console=bool(raw.get("console", True)),
        store_free_floor=int(float(raw.get("store_free_floor_mb", 128)) * (1 << 20)),
        writer_stall=float(raw.get("writer_stall_seconds", 30)))
    if cfg.readiness_cache <= 0 or cfg.readiness_timeout <= 0 or cfg.writer_stall <= 0:
        raise ConfigError("[operations] readiness_cache_seconds, readiness_timeout_seconds "
                          "and writer_stall_seconds are positive")
    return cfg


@dataclass(frozen=True)
class MockConfig:
    name: str
    host: str
    port: int
    control_port: int
    db: Path
    hub_name: str
    cert: str
    options: dict[str, Any]  # the mock's own options (the rest of its section)


@dataclass(frozen=True)
class Config:
    path: Path
    municipality_code: str
    data_dir: Path
    store_url: str
    group_commit_max: int
    certs_dir: Path
    parties: dict[str, str]
    access: AccessConfig
    departments: dict[str, Department]
    audit: AuditConfig
    intake: IntakeConfig
    metrics: ListenerConfig
    links: dict[str, LinkConfig]
    mocks: dict[str, MockConfig]
    log_level: str
    switch_interval: float
    gaiji_table: Path | None
    inbox_retention: float
    purge_interval: float
    check_chunk: int = 500
    check_every: float | None = None   # seconds between scheduled checks (None: off)
    check_links: tuple[str, ...] = ("prefecture", "national")
    backup: BackupConfig | None = None
    cluster: ClusterConfig = ClusterConfig("hub", 5.0, 1.0, 0.2)
    delivered_retention: float = 30 * 86400.0
    log_scrapes: bool = False
    bulk_threshold: int = 1000
    send: SendConfig | None = None
    operations: OperationsConfig = field(default_factory=OperationsConfig)
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


def _apply_overrides(raw: dict[str, Any], overrides: Iterable[str]) -> None:
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r} is not section.key=value")
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value  # a bare string
        node = raw
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = parsed


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def interval(value: Any, name: str) -> float | None:
    """``"365d"``, ``"30d"``, ``"12h"``, ``"90m"``, ``"2s"`` in seconds; ``"off"``: ``None``."""
    text = str(value).strip()
    if text == "off":
        return None
    number, unit = text[:-1], text[-1:]
    try:
        seconds = float(number) * _UNITS[unit]
    except (KeyError, ValueError):
        raise ValueError(f"{name} is a number and a unit (s, m, h, d), or off") from None
    if not 0 < seconds < 10 * 366 * 86400 or seconds != seconds:
        raise ValueError(f"{name} is more than nothing and at most ten years")
    return seconds


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} is true or false")
    return value


def _send_config(raw: dict[str, Any] | None) -> SendConfig | None:
    if not raw:
        return None

    def place(key: str) -> Place:
        p = raw[key]
        return Place(str(p["name"]), str(p["postal_code"]), str(p["address"]), str(p["phone"]))

    chunk = int(raw.get("chunk_records", 200))
    if not 1 <= chunk <= 300:
        raise ValueError("send_destination.chunk_records must be 1..300")
    return SendConfig(str(raw["municipality_name"]), place("city"), place("issue_place"),
                      place("card_place"), chunk, str(raw.get("print_class", "2")),
                      _bool(raw.get("per_household", True), "send_destination.per_household"))


def _with_departments(access: dict[str, Any], departments: dict[str, Department],
                      ) -> dict[str, Any]:
    """``[access]`` with each department's certificate pinned to the department role."""
    systems = dict(access.get("systems", {}))
    for d in departments.values():
        if systems.get(d.certificate, DEPARTMENT_ROLE) != DEPARTMENT_ROLE:
            raise AccessError(f"departments.{d.name}: its certificate is another system's")
        systems[d.certificate] = DEPARTMENT_ROLE
    return {**access, "systems": systems}


def _backup_config(raw: dict[str, Any], data_dir: Path, p: Any) -> BackupConfig:
    keep = raw.get("keep", 7)
    if not isinstance(keep, int) or isinstance(keep, bool) or not 1 <= keep <= 3650:
        raise ValueError("backup.keep is a whole number of copies, 1..3650")
    folder = raw.get("folder") or ""
    return BackupConfig(p(folder) if folder else data_dir / "backups",
                        interval(raw.get("every", "1d"), "backup.every"), keep)


def _audit_config(raw: dict[str, Any], data_dir: Path, p: Any) -> AuditConfig:
    anchor = raw.get("anchor_file") or ""
    return AuditConfig(
        anchor_file=p(anchor) if anchor else data_dir / "audit-anchors.jsonl",
        anchor_interval=float(raw.get("anchor_interval_hours", 24)) * 3600,
        working_hours=str(raw.get("working_hours", "08:30-17:15")),
        working_days=str(raw.get("working_days", "mon-fri")),
        timezone=str(raw.get("timezone", "Asia/Tokyo")))


_MOCK_KEYS = frozenset({"host", "port", "control_port", "db", "hub_name", "cert"})


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Read ``path`` and return the checked configuration."""
    path = Path(path).resolve()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    _apply_overrides(raw, overrides)
    return config_from_raw(raw, path)


def config_from_raw(raw: dict[str, Any], path: Path) -> Config:
    """The checked configuration from the file's contents (with any overrides applied);
    relative paths are resolved against ``path``'s folder."""
    base = path.parent

    def p(value: str) -> Path:
        q = Path(value)
        return q if q.is_absolute() else base / q

    try:
        hub, store, certs = raw["hub"], raw["store"], raw["certs"]
        data_dir = p(hub.get("data_dir", "var"))
        url = store.get("url") or f"sqlite:///{data_dir / 'jukihub.db'}"
        link_defaults = raw.get("link_defaults", {})
        links = {}
        for name in LINK_NAMES:
            section = {**link_defaults, **raw.get("links", {}).get(name, {})}
            if not section:
                continue
            links[name] = LinkConfig(
                name=name,
                enabled=bool(section.get("enabled", False)),
                host=section.get("host", "127.0.0.1"),
                port=int(section.get("port", 0)),
                peer_name=section.get("peer_name", certs["parties"].get(name, "")),
                window=int(section.get("window", 256)),
                max_frame_bytes=int(section.get("max_frame_bytes", 1 << 20)),
                heartbeat_interval=float(section.get("heartbeat_interval", 5.0)),
                heartbeat_timeout=float(section.get("heartbeat_timeout", 15.0)),
                connect_timeout=float(section.get("connect_timeout", 10.0)),
                backoff_initial=float(section.get("backoff_initial", 0.2)),
                backoff_max=float(section.get("backoff_max", 30.0)),
                backoff_multiplier=float(section.get("backoff_multiplier", 2.0)),
                max_attempts=int(section.get("max_attempts", 10)),
                memory_queue=int(section.get("memory_queue", 20000)),
                query_timeout=float(section.get("query_timeout", 10.0)),
                memory_bytes=int(section.get("memory_bytes", 64 << 20)),
                window_bytes=int(section.get("window_bytes", 8 << 20)),
            )
        mocks = {}
        for name, section in raw.get("mocks", {}).items():
            mocks[name] = MockConfig(
                name=name,
                host=section.get("host", "127.0.0.1"),
                port=int(section.get("port", links[name].port if name in links else 0)),
                control_port=int(section.get("control_port", 0)),
                db=p(section.get("db", f"var/mock-{name}.db")),
                hub_name=section.get("hub_name", certs["parties"]["hub"]),
                cert=section.get("cert", name),
                options={k: v for k, v in section.items() if k not in _MOCK_KEYS},
            )
        if not is_municipality_code(str(hub["municipality_code"])):
            raise ConfigError(f"{path}: hub.municipality_code is not a municipality code "
                              "with its check digit (JIS X 0402)")
        intake, metrics = raw["intake"], raw["metrics"]
        departments = departments_from_raw(raw.get("departments", {}))
        cfg = Config(
            path=path,
            municipality_code=str(hub["municipality_code"]),
            data_dir=data_dir,
            store_url=url,
            group_commit_max=int(store.get("group_commit_max", 500)),
            certs_dir=p(certs["dir"]),
            parties=dict(certs["parties"]),
            access=access_from_raw(_with_departments(raw.get("access", {}), departments),
                                   raw.get("roles", {})),
            departments=departments,
            audit=_audit_config(raw.get("audit", {}), data_dir, p),
            backup=_backup_config(raw.get("backup", {}), data_dir, p),
            cluster=_cluster_config(raw.get("cluster", {}), data_dir),
            intake=IntakeConfig(
                host=intake.get("host", "127.0.0.1"), port=int(intake.get("port", 0)),
                max_body_bytes=int(intake.get("max_body_bytes", 8 << 20)),
                max_batch=_max_batch(intake),
                validate_responses=bool(intake.get("validate_responses", True)),
                workers=int(intake.get("workers", 2)),
                processes=int(intake.get("processes", 1)),
                read_threads=int(intake.get("read_threads", 4)),
                read_queue=int(intake.get("read_queue", 64)),
            ),
            metrics=ListenerConfig(
                host=metrics.get("host", "127.0.0.1"), port=int(metrics.get("port", 0)),
            ),
            links=links,
            mocks=mocks,
            log_level=str(raw.get("logging", {}).get("level", "info")),
            switch_interval=float(hub.get("switch_interval", 0.0005)),
            inbox_retention=float(raw.get("inbox", {}).get("retention_days", 30)) * 86400,
            purge_interval=float(raw.get("inbox", {}).get("purge_interval", 600)),
            check_chunk=int(raw.get("consistency", {}).get("chunk_records", 500)),
            check_every=interval(raw.get("consistency", {}).get("every", "off"),
                                 "consistency.every"),
            check_links=tuple(str(x) for x in raw.get("consistency", {}).get(
                "links", ["prefecture", "national"])),
            delivered_retention=float(store.get("delivered_retention_days", 30)) * 86400,
            log_scrapes=bool(metrics.get("log_scrapes", False)),
            bulk_threshold=int(raw.get("controls", {}).get("bulk_threshold", 1000)),
            send=_send_config(raw.get("send_destination")),
            operations=_operations_config(raw.get("operations", {})),
            gaiji_table=(p(raw["charconv"]["gaiji_table"])
                         if raw.get("charconv", {}).get("gaiji_table") else None),
            raw=raw,
        )
    except KeyError as exc:
        raise ConfigError(f"{path}: missing required option {exc.args[0]!r}") from None
    except (TypeError, ValueError, AccessError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return cfg
