"""Copy (副本) updates for the intermediate server (中間サーバ), as msgpack maps.

The information-provision network reads 住民票関係情報 from the intermediate server's
copy, keyed by the 団体内統合宛名番号 (the city's integrated atena number, assigned by
the hub when a resident's 個人番号 is first recorded).  Every change of such a resident
sends the whole copy with its 更新順番号 and the previous one, so the receiver can
check order.  ``check_copy_update`` is the schema: exact keys, types and shapes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any

import msgpack

from protocols.errors import BodyError

KIND = "copy_update"


@dataclass(frozen=True, slots=True)
class CopyUpdate:
    integrated_atena: str              # 団体内統合宛名番号
    update_seq: int                    # 更新順番号
    previous_update_seq: int | None    # the previous copy update of this resident
    municipality_code: str
    reason: str                        # 異動事由
    event_date: str                    # 異動年月日 (ISO)
    name: str                          # 氏名
    name_kana: str                     # ふりがな
    birth_date: str                    # 生年月日 (ISO)
    sex: str                           # 性別
    address: str                       # 住所
    household_number: str              # 世帯番号
    relationship: str                  # 続柄
    resident_type: str                 # 住民区分
    removed: bool                      # 消除


# key -> (types, pattern or None, required)
_SCHEMA: dict[str, tuple[tuple[type, ...], str | None, bool]] = {
    "kind": ((str,), "copy_update", True),
    "integrated_atena": ((str,), r"[0-9]{15}", True),
    "update_seq": ((int,), None, True),
    "previous_update_seq": ((int, type(None)), None, True),
    "municipality_code": ((str,), r"[0-9]{6}", True),
    "reason": ((str,), r"move_in|birth|move_within|move_out|death|name_change|correction"
                          r"|number_designation",
               True),
    "event_date": ((str,), r"[0-9]{4}-[0-9]{2}-[0-9]{2}", True),
    "name": ((str,), r".{1,50}", True),
    "name_kana": ((str,), r"[\u30A1-\u30F6\u30FC\u3000]{1,100}", True),
    "birth_date": ((str,), r"[0-9]{4}-[0-9]{2}-[0-9]{2}", True),
    "sex": ((str,), r"[12]", True),
    "address": ((str,), r".{1,150}", True),
    "household_number": ((str,), r"[0-9A-Za-z_.\-]{1,40}", True),
    "relationship": ((str,), r".{1,40}", True),
    "resident_type": ((str,), r"japanese|foreign", True),
    "removed": ((bool,), None, True),
}


def encode_copy_update(update: CopyUpdate) -> bytes:
    return msgpack.packb({"kind": KIND, **asdict(update)}, use_bin_type=True)


def check_copy_update(obj: Any) -> CopyUpdate:
    """The schema check: exactly the keys above, each of its type and shape."""
    if not isinstance(obj, dict):
        raise BodyError("schema_invalid", "the body is not a map")
    extra = sorted(set(obj) - _SCHEMA.keys(), key=str)
    if extra:
        raise BodyError("schema_invalid", "the body has an unknown key")
    for key, (types, pattern, required) in _SCHEMA.items():
        if key not in obj:
            if required:
                raise BodyError("schema_invalid", f"{key} is missing")
            continue
        value = obj[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise BodyError("schema_invalid", f"{key} has the wrong type")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise BodyError("schema_invalid", f"{key} has the wrong form")
    for key in ("event_date", "birth_date"):
        try:
            dt.date.fromisoformat(obj[key])
        except ValueError:
            raise BodyError("schema_invalid", f"{key} is not a date") from None
    return CopyUpdate(**{k: v for k, v in obj.items() if k != "kind"})


def decode_copy_update(data: bytes, max_bytes: int = 64 * 1024) -> CopyUpdate:
    """msgpack bytes to a checked ``CopyUpdate``, or ``BodyError``."""
    if len(data) > max_bytes:
        raise BodyError("too_large", f"{len(data)} > {max_bytes} bytes")
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types
        raise BodyError("undecodable", type(exc).__name__) from None
    return check_copy_update(obj)
