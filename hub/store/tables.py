"""The register store's tables (SQLAlchemy 2 Core).

Tables (schema by Alembic, ``hub/store/migrations``):

- ``residents``          住民基本台帳ファイル: the register's core items, one row a person
- ``identity_records``   本人確認情報ファイル: the 40 items, one row per 更新順番号 (history)
- ``outbox``             per-link messages; (link, seq) is the link transmission sequence
- ``link_state``         per link: highest sequence acknowledged by the peer, next to use,
                         highest sequence of the peer's pushes recorded
- ``inbox``              what the outside systems pushed, until staff acknowledge it
- ``dead_letters``       messages a peer refused permanently (or too often)
- ``request_ids``        依頼管理番号 already answered, with their first answer
- ``card_events``        card events posted by the register system, numbered
- ``consistency_checks`` 整合性確認 runs per link: progress and the peer's counts
- ``send_batches``       送付先情報 batches for the card system (送付先管理番号), progress
- ``send_batch_members`` who is in each batch (and so whose number notice is on its way)
- ``audit_log``          操作ログ: who (operator, terminal) did what, when; hash-chained
- ``staff_accounts``     staff, one account per person
- ``hub_flags``          the hub's switches staff set (maintenance mode), who, when
- ``link_leases``        per link: the hub that owns it now (its name and this run's
                         instance), until when (the database's clock), and the fencing
                         token every write of the link carries
- ``link_queries``       queries asked of a hub that does not own their link, until
                         the owner has the peer's answer and the asker has read it
- ``store_heartbeat``    one row per hub, rewritten by each readiness check: a write that
                         must reach the store's file and commit for the hub to be ready

Only the store writer actor writes (see ``actors/store_writer.py``); anyone may read.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    false,
)

from protocols.identity import FIELDS, IdentityRecord

metadata = MetaData()

residents = Table(
    "residents", metadata,
    Column("atena_number", String(15), primary_key=True),          # 宛名番号
    Column("resident_code", String(11), nullable=False, unique=True),  # 住民票コード
    Column("individual_number", String(12), unique=True),          # 個人番号
    # 団体内統合宛名番号: assigned by the hub when a 個人番号 is first recorded (0004).
    Column("integrated_atena", String(15), unique=True),
    Column("household_number", String(15), nullable=False),        # 世帯番号
    # Text the 住基ネット counts in characters, kept with room for a variation selector
    # after each kanji (an IVS is two code points, one character).
    Column("name_kanji", String(100), nullable=False),             # 氏名 (50 characters)
    Column("name_kana", String(100), nullable=False),              # ふりがな
    Column("birth_date", Date, nullable=False),                    # 生年月日
    Column("sex", String(1), nullable=False),                      # 性別
    Column("relationship", String(80), nullable=False),            # 続柄 (40 characters)
    Column("resident_type", String(10), nullable=False),           # 住民区分 japanese/foreign
    Column("municipality_code", String(6), nullable=False),        # 現住所: 市町村コード
    Column("aza_code", String(12)),                                # 大字・字コード
    Column("postal_code", String(7)),                              # 郵便番号
    Column("address", String(300), nullable=False),                # 住所 (150 characters)
    Column("previous_municipality_code", String(6)),               # 転入元 市町村コード
    Column("previous_address", String(300)),                       # 転入元住所
    Column("became_resident_date", Date),                          # 住民となった日
    Column("address_set_date", Date),                              # 住所を定めた日
    # Foreign residents only (外国人住民, 住基法 30条の45), from revision 0002:
    Column("nationality", String(40)),                             # 国籍・地域
    Column("article_30_45", String(1)),                            # 法30条45規定区分
    Column("residence_status", String(40)),                        # 在留資格
    Column("residence_period_end", Date),                          # 在留期間の満了の日
    Column("residence_card_number", String(12)),                   # 在留カード等の番号
    Column("common_name", String(100)),                            # 通称
    Column("removed", Boolean, nullable=False, default=False),     # 消除
    Column("removed_date", Date),
    Column("removed_reason", String(20)),
    Column("card_state", String(12), nullable=False, server_default="none"),  # 個人番号カード
    Column("card_state_date", Date),                               # since when
    Column("last_update_seq", Integer, nullable=False),
    Column("resident_code_used_date", Date),                       # 住民票コード使用年月日
    # The register's state of the resident: 更新禁止, 予定者, 排他.
    Column("update_prohibited", Boolean, nullable=False, server_default=false()),
    Column("prospective", Boolean, nullable=False, server_default=false()),
    Column("exclusive", Boolean, nullable=False, server_default=false()),
    Column("old_surname_kanji", String(100)),                      # 旧氏 漢字
    Column("old_surname_kana", String(100)),                       # 旧氏 ふりがな
    Column("old_surname_gaiji_change_seq", Integer),               # 旧氏 外字変更連番
    Column("moving_out_planned_date", Date),                       # 転出予定日
    Column("moving_out_municipality_code", String(6)),             # 転出先 (none: abroad)
    Column("moving_out_address", String(300)),                     # 転出先住所
    Column("moving_out_special", Boolean, nullable=False, server_default=false()),  # 特例転出
    Column("moving_out_confirmed_date", Date),                     # 転出確定 (転入通知)
    Column("romaji_name", String(100)),                            # ローマ字 氏名
    Column("romaji_old_surname", String(100)),                     # ローマ字 旧氏
    # A 世帯's members, in 住民票コード order (a send-destination batch's keyset).
    Index("ix_residents_household_code", "household_number", "resident_code"),
)

_SQL_TYPES = {"bool": Boolean, "int": Integer, "datetime": DateTime, "date": Date}


def _identity_column(attr: str, annotation: str) -> Column:
    kind = next((k for k in ("bool", "int", "datetime", "date") if k in annotation), "str")
    sql_type = _SQL_TYPES.get(kind, Text)
    if attr == "update_seq":
        return Column(attr, Integer, primary_key=True, autoincrement=False)
    return Column(attr, sql_type, nullable="None" in annotation)


identity_records = Table(
    "identity_records", metadata,
    *(_identity_column(f, IdentityRecord.__annotations__[f]) for f, _ in FIELDS),
    Column("previous_update_seq", Integer),
    Index("ix_identity_records_resident_code", "resident_code"),
)

# 住民票コードの変更: each old code, so a search by it still finds the resident.
old_resident_codes = Table(
    "old_resident_codes", metadata,
    Column("old_code", String(11), primary_key=True),                # 旧住民票コード
    Column("atena_number", String(15), nullable=False),              # whose (宛名番号)
    Column("update_seq", Integer, nullable=False),                   # the change's 更新順番号
    Column("changed_date", Date, nullable=False),                    # 住民票コード使用年月日
    Index("ix_old_resident_codes_atena", "atena_number"),
)

outbox = Table(
    "outbox", metadata,
    Column("link", String(16), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),  # link transmission seq
    Column("update_seq", Integer, nullable=False),                  # 更新順番号 it carries
    Column("resident_key", String(11), nullable=False),             # routing key: 住民票コード
    Column("kind", String(32), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("enqueued_at", Float, nullable=False),                   # epoch seconds
    # pending / held (behind a dead letter) / dead; once staff mend the dead letter:
    # replayed or released (sent again as new messages), discarded
    Column("state", String(10), nullable=False, default="pending"),
    Column("correlation_id", String(40)),  # the intake request (or job) that caused it
)

link_state = Table(
    "link_state", metadata,
    Column("link", String(16), primary_key=True),
    Column("acked_seq", Integer, nullable=False, default=0),
    Column("next_seq", Integer, nullable=False, default=1),
    # Highest sequence of the peer's own stream (its pushes) recorded in the inbox.
    Column("inbound_applied", Integer, nullable=False, default=0, server_default="0"),
    # Dead letters of the link mended so far (any hub's staff): the owner's cue to reload.
    Column("mended", Integer, nullable=False, default=0, server_default="0"),
)

inbox = Table(
    "inbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("link", String(16), nullable=False),
    Column("peer_seq", Integer, nullable=False),                     # the peer's sequence
    Column("kind", String(40), nullable=False),
    Column("body", LargeBinary, nullable=False),                     # the document received
    Column("received_at", Float, nullable=False),
    Column("state", String(12), nullable=False),                     # new / acknowledged / refused
    Column("code", String(40)),                                      # why it was refused
    Column("result", Text),                                          # what the hub did with it (JSON)
    Column("acknowledged_at", Float),
    Column("operator_id", String(40)),                               # 操作者ID of the ack
    Column("terminal_id", String(40)),                               # 操作端末ID of the ack
    Index("ix_inbox_kind_state", "kind", "state", "id"),
    Index("ux_inbox_link_peer_seq", "link", "peer_seq", unique=True),
)

dead_letters = Table(
    "dead_letters", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("link", String(16), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("update_seq", Integer, nullable=False),
    Column("resident_key", String(11), nullable=False),
    Column("code", String(40), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("correlation_id", String(40)),
    # open; replayed or discarded by staff (who, when, why; the new sequences it and
    # the messages held behind it were sent again as)
    Column("state", String(12), nullable=False, server_default="open"),
    Column("resolved_at", Float),
    Column("resolved_by", String(40)),
    Column("resolution", String(200)),
    Column("resent_from", Integer),
    Column("resent_count", Integer),
    Index("ix_dead_letters_link_resident", "link", "resident_key"),
)

request_ids = Table(
    "request_ids", metadata,
    Column("request_id", String(40), primary_key=True),              # 依頼管理番号
    Column("fingerprint", String(64), nullable=False),               # sha256 of the request
    # The change's 更新順番号; NULL for a card event (from revision 0005).
    Column("update_seq", Integer, ForeignKey("identity_records.update_seq")),
    Column("response", Text, nullable=False),                        # the first answer, JSON
    Column("created_at", Float, nullable=False),
)

card_events = Table(
    "card_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),    # event_seq
    Column("request_id", String(40), nullable=False, unique=True),   # 依頼管理番号
    Column("resident_code", String(11), nullable=False, index=True),
    Column("event", String(16), nullable=False),
    Column("event_date", Date, nullable=False),
    Column("operator_id", String(40), nullable=False),
    Column("terminal_id", String(40), nullable=False),
    Column("created_at", Float, nullable=False),
)

consistency_checks = Table(
    "consistency_checks", metadata,
    Column("check_id", String(11), primary_key=True),               # C + 10 digits
    Column("link", String(16), nullable=False),                      # prefecture / national
    Column("state", String(10), nullable=False),                     # building/sent/answered
    Column("operator_id", String(40), nullable=False),               # 操作者ID
    Column("terminal_id", String(40), nullable=False),               # 操作端末ID
    Column("started_at", Float, nullable=False),
    Column("sent", Integer, nullable=False),                         # records sent so far
    Column("chunks", Integer, nullable=False),                       # chunks sent so far
    Column("answered_at", Float),
    Column("compared", Integer),                                     # the peer's counts
    Column("held", Integer),
    Column("differences", Integer),
    Column("inbox_id", Integer),                                     # the result document
)

# 広域交付住民票: every copy answered for another municipality (a provision, 住基法 12条の4).
wide_area_provisions = Table(
    "wide_area_provisions", metadata,
    Column("request_number", String(40), primary_key=True),          # 請求番号 (交付地's)
    Column("issuing_municipality_code", String(6), nullable=False),  # 交付地
    Column("atena_number", String(15)),                              # whose (none: unknown)
    Column("scope", String(10), nullable=False),                     # person / household
    Column("status", String(10), nullable=False),                    # issued/not_found/removed
    Column("persons", Integer, nullable=False),                      # people on the copy
    Column("requested_at", Float, nullable=False),
    Column("answered_at", Float, nullable=False),
    Column("outbox_seq", Integer, nullable=False),                   # the answer on the link
)

# The initial load (``jukihub load``): each register file loaded (by its SHA-256), the
# last line committed (a resumed load goes on after it), and the rows it refused.
initial_loads = Table(
    "initial_loads", metadata,
    Column("load_id", Integer, primary_key=True, autoincrement=True),
    Column("file_digest", String(64), nullable=False, unique=True),  # SHA-256 of the file
    Column("file_name", String(255), nullable=False),                # as given (no path)
    Column("operator_id", String(40), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),                                    # none: not finished
    Column("line", Integer, nullable=False),                         # last line committed
    Column("accepted", Integer, nullable=False),
    Column("refused", Integer, nullable=False),
)

initial_load_refusals = Table(
    "initial_load_refusals", metadata,
    Column("load_id", Integer, primary_key=True),
    Column("line", Integer, primary_key=True),                       # the row's first line
    Column("code", String(40), nullable=False),                      # the rule refused by
    Column("item", String(40)),                                      # the column it names
    Column("message", String(200), nullable=False),                  # never a value
)

# What staff did about each difference a check found (one decision per difference).
consistency_mends = Table(
    "consistency_mends", metadata,
    Column("check_id", String(11), nullable=False),                  # the check
    Column("resident_code", String(11), nullable=False),             # the difference's
    Column("action", String(10), nullable=False),                    # resent / explained
    Column("reason", String(400)),                                   # why (explained)
    Column("update_seq", Integer),                                   # the resend's 更新順番号
    Column("operator_id", String(40), nullable=False),
    Column("terminal_id", String(40), nullable=False),
    Column("decided_at", Float, nullable=False),
    PrimaryKeyConstraint("check_id", "resident_code"),
)

send_batches = Table(
    "send_batches", metadata,
    Column("batch_id", String(11), primary_key=True),               # 送付先管理番号 S+10 digits
    Column("selection", String(16), nullable=False),                 # list / needing_notice
    Column("print_class", String(1), nullable=False),                # 印刷区分
    Column("state", String(10), nullable=False),                     # building / built
    Column("operator_id", String(40), nullable=False),               # 操作者ID
    Column("terminal_id", String(40), nullable=False),               # 操作端末ID
    Column("created_at", Float, nullable=False),
    Column("total", Integer, nullable=False),                        # destinations in it
    Column("built", Integer, nullable=False),                        # sent to the outbox
    Column("chunks", Integer, nullable=False),
)

send_batch_members = Table(
    "send_batch_members", metadata,
    Column("batch_id", String(11), primary_key=True),
    Column("resident_code", String(11), primary_key=True, index=True),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("operator_id", String(40), nullable=False),               # 操作者ID
    Column("terminal_id", String(40), nullable=False),               # 操作端末ID
    Column("request_id", String(40)),                                # the target's key
    Column("action", String(40), nullable=False),                    # the function
    Column("update_seq", Integer),
    Column("client", String(64)),                    # the client certificate of the call
    Column("number_shown", Boolean, nullable=False, server_default=false()),
    Column("result", String(40), nullable=False, server_default="ok"),
    Column("count", Integer),                        # matches of a query, records output
    Column("hash", String(64)),                      # SHA-256 chain: see hub/store/audit.py
)

staff_accounts = Table(
    "staff_accounts", metadata,
    Column("user_id", String(40), primary_key=True),                 # ユーザーID, one per person
    Column("password_hash", String(200), nullable=False),            # argon2id, encoded
    Column("roles", String(200), nullable=False),                    # comma-separated
    Column("state", String(10), nullable=False),                     # active / disabled
    Column("expires_at", Float),
    Column("failed_logins", Integer, nullable=False),                # in a row
    Column("locked_until", Float),
    Column("created_at", Float, nullable=False),
    Column("password_changed_at", Float, nullable=False),
    Column("last_login_at", Float),
)

# Open staff sessions (the SHA-256 of each token, never the token): any hub on the store
# serves them, and they outlive a restart.
staff_sessions = Table(
    "staff_sessions", metadata,
    Column("token_digest", String(64), primary_key=True),
    Column("user_id", String(40), nullable=False),
    Column("terminal", String(255), nullable=False),                # the certificate's name
    Column("started_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=False),                  # to a tenth of the idle limit
    Index("ix_staff_sessions_user", "user_id"),
)

# Which hub owns each link (``hub/store/leases.py``): renewed by the owner's store writer,
# taken over once expired; ``token`` goes up with each new owner (or run of one).
link_leases = Table(
    "link_leases", metadata,
    Column("link", String(32), primary_key=True),
    Column("owner", String(64), nullable=False),                     # the hub's [cluster] name
    Column("instance", String(64), nullable=False),                  # this run of it
    Column("token", BigInteger, nullable=False),                     # the fencing token
    Column("expires_at", Float, nullable=False),                     # the database's clock
)

# Queries asked of a hub that does not own their link (``hub/store/link_queries.py``):
# the owner asks the peer and writes the answer; the asker reads it and deletes the row.
link_queries = Table(
    "link_queries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("link", String(16), nullable=False),
    Column("body", LargeBinary, nullable=False),                     # the query document
    Column("asked_at", Float, nullable=False),
    Column("answer", LargeBinary),                                   # the peer's answer
    Column("code", String(40)),                                      # or why there is none
    Column("answered_at", Float),
    Index("ix_link_queries_link_id", "link", "id"),
    sqlite_autoincrement=True,  # ids never reused: the owner serves those above its last
)

approvals = Table(
    "approvals", metadata,
    Column("approval_id", String(11), primary_key=True),            # A + 10 digits
    Column("kind", String(20), nullable=False),                      # send_batch, export, …
    Column("subject", String(40), nullable=False),                   # the batch id, …
    Column("people", Integer, nullable=False),                       # residents it covers
    Column("state", String(10), nullable=False),                     # pending/approved/refused
    Column("requested_by", String(40), nullable=False),
    Column("requested_terminal", String(64), nullable=False),
    Column("requested_at", Float, nullable=False),
    Column("decided_by", String(40)),                                # another supervisor
    Column("decided_terminal", String(64)),
    Column("decided_at", Float),
)

media = Table(
    "media", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(20), nullable=False),
    Column("subject", String(40), nullable=False),
    Column("people", Integer, nullable=False),
    Column("approval_id", String(11)),
    Column("operator_id", String(40), nullable=False),
    Column("terminal_id", String(64), nullable=False),
    Column("written_at", Float, nullable=False),
    Column("sha256", String(64), nullable=False),
)

exports = Table(
    "exports", metadata,
    Column("export_id", String(11), primary_key=True),              # E + 10 digits
    Column("kind", String(20), nullable=False),                      # residents
    Column("people", Integer, nullable=False),
    Column("state", String(20), nullable=False),       # ready/awaiting_approval/approved/refused
    Column("requested_by", String(40), nullable=False),
    Column("requested_terminal", String(64), nullable=False),
    Column("requested_at", Float, nullable=False),
    Column("approval_id", String(11)),
)

department_feeds = Table(
    "department_feeds", metadata,
    Column("department", String(40), primary_key=True),
    Column("state", String(20), nullable=False),     # open / awaiting_approval / refused
    Column("approval_id", String(11)),
    Column("requested_at", Float, nullable=False),
)

hub_flags = Table(
    "hub_flags", metadata,
    Column("name", String(40), primary_key=True),      # maintenance
    Column("value", String(200), nullable=False),
    Column("set_at", Float, nullable=False),
    Column("set_by", String(40), nullable=False),
)

store_heartbeat = Table(
    "store_heartbeat", metadata,
    Column("name", String(64), primary_key=True),      # the hub's host name
    Column("beats", Integer, nullable=False),          # writes so far (wraps at 2**31)
    Column("at", Float, nullable=False),               # epoch seconds of the last
)
