"""A resident as the register's rules read and write them: a typed, frozen record (the
住民基本台帳ファイル's items the hub keeps), its ``Card``, and the conversions to and from
the store's rows (one column per item; the card as two).

A change never edits a resident in place: ``with_items`` makes the resident after it
(the items a change carries are named as the record's fields), and the register's
working set keeps which residents a batch changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CARD_STATES = ("none", "issued", "suspended", "revoked", "collected", "returned")


@dataclass(frozen=True, slots=True)
class Card:
    """The resident's 個人番号カード: its state in the card's life (``protocols.card``) and
    the day it took it."""

    state: str = "none"
    since: dt.date | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        return Card, (self.state, self.since)  # as ``Change.__reduce__``: faster


@dataclass(frozen=True, slots=True)
class Resident:
    """One person on the register (住民基本台帳ファイル), as the hub keeps them."""

    atena_number: str                          # 宛名番号
    resident_code: str                         # 住民票コード
    individual_number: str | None = None       # 個人番号
    integrated_atena: str | None = None        # 団体内統合宛名番号 (the hub assigns it)
    household_number: str = ""                 # 世帯番号
    name_kanji: str = ""                       # 氏名
    name_kana: str = ""                        # ふりがな
    birth_date: dt.date | None = None          # 生年月日
    sex: str = ""                              # 性別
    relationship: str = ""                     # 続柄
    resident_type: str = "japanese"            # 住民区分: japanese / foreign
    municipality_code: str = ""                # 現住所: 市町村コード
    aza_code: str | None = None                # 大字・字コード
    postal_code: str | None = None             # 郵便番号
    address: str = ""                          # 住所
    previous_municipality_code: str | None = None  # 転入前: 市町村コード
    previous_address: str | None = None        # 転入前住所
    became_resident_date: dt.date | None = None  # 住民となった日
    address_set_date: dt.date | None = None    # 住所を定めた日
    nationality: str | None = None             # 国籍・地域
    article_30_45: str | None = None           # 法30条45規定区分
    residence_status: str | None = None        # 在留資格
    residence_period_end: dt.date | None = None  # 在留期間の満了の日
    residence_card_number: str | None = None   # 在留カード等の番号
    common_name: str | None = None             # 通称
    removed: bool = False                      # 消除
    removed_date: dt.date | None = None
    removed_reason: str | None = None
    card: Card = Card()                        # 個人番号カード
    last_update_seq: int = 0                   # the newest 更新順番号 of this resident
    resident_code_used_date: dt.date | None = None  # 住民票コード使用年月日 (a code change)
    update_prohibited: bool = False            # 更新禁止 (the register's state)
    prospective: bool = False                  # 予定者 (the register's state)
    exclusive: bool = False                    # 排他 (the register's state)
    old_surname_kanji: str | None = None       # 旧氏 漢字
    old_surname_kana: str | None = None        # 旧氏 ふりがな
    old_surname_gaiji_change_seq: int | None = None  # 旧氏 外字変更連番
    moving_out_planned_date: dt.date | None = None  # 転出予定日
    moving_out_municipality_code: str | None = None  # 転出先 市町村コード (none: abroad)
    moving_out_address: str | None = None      # 転出先住所
    moving_out_special: bool = False           # 特例転出
    moving_out_confirmed_date: dt.date | None = None  # 転出確定: the destination's 転入 date
    romaji_name: str | None = None             # ローマ字 氏名 (as the card shows it)
    romaji_old_surname: str | None = None      # ローマ字 旧氏

    # ---- from and to the store's rows ------------------------------------------------

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Resident:
        """A resident from a ``residents`` row (as ``RegisterStore.row`` reads it)."""
        values = {k: row[k] for k in _COLUMN_FIELDS if k in row}
        return cls(**values, card=Card(row.get("card_state") or "none",
                                       row.get("card_state_date")))

    def as_row(self) -> dict[str, Any]:
        """The ``residents`` row of this resident (every column)."""
        row = {k: getattr(self, k) for k in _COLUMN_FIELDS}
        row["card_state"], row["card_state_date"] = self.card.state, self.card.since
        return row

    def with_items(self, items: Mapping[str, Any]) -> Resident:
        """The resident with ``items`` (field -> value) set: what a change makes of it
        (``dataclasses.replace``, compiled for this class: once per change in the store
        writer, where the general one cost a tenth of its time)."""
        unknown = items.keys() - _FIELD_NAMES
        if unknown:
            raise TypeError(f"not a resident item: {sorted(unknown)[0]}")
        return _with_items(self, items)


_COLUMN_FIELDS = tuple(f.name for f in dataclasses.fields(Resident) if f.name != "card")
_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Resident))


def _compile_with_items() -> Any:
    """``Resident(every field, from items if there else from the resident)``."""
    names = [f.name for f in dataclasses.fields(Resident) if f.init]
    assert all(n.isidentifier() for n in names)
    args = ", ".join(f"items[{n!r}] if {n!r} in items else r.{n}" for n in names)
    namespace: dict[str, Any] = {"Resident": Resident}
    exec(f"def with_items(r, items):\n    return Resident({args})", namespace)  # noqa: S102
    return namespace["with_items"]


_with_items = _compile_with_items()
