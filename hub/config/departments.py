"""The city's own departments that receive residents' data (庁内連携, the assessment's
移転先 1–9): each named in ``config.toml`` (``[departments.NAME]``) with its legal basis
— 番号法 第9条 and its 別表第一 items, or 住基法 for work that does not use the
number — the fields it may receive, and whether its work uses the 個人番号.  A
department is a system account: its own client certificate, pinned to the
``department`` role."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.config.access import AccessError
from protocols.identity import FIELDS

DEPARTMENT_ROLE = "department"
# What a feed record may carry: the identity record's items, less the hub's own
# bookkeeping (who typed the change, flags of the 住基ネット).  ``update_seq`` (the
# cursor) and ``resident_code`` (the key) are in every record.
FEED_FIELDS = tuple(f for f, _ in FIELDS if f not in {
    "request_id", "operator_id", "terminal_id", "abnormal_update_seq", "update_prohibited",
    "prospective", "exclusive", "gaiji_flag", "timestamp", "name_gaiji_count",
    "address_gaiji_count", "previous_address_gaiji_count", "old_surname_gaiji_count",
    "old_surname_gaiji_change_seq"})
ALWAYS = ("update_seq", "resident_code")


@dataclass(frozen=True)
class Department:
    name: str                 # the key in config.toml: tax, pension, …
    title: str                # 納税管理課・市民税課・資産税課
    certificate: str          # its client certificate's name
    basis: str                # 番号法第9条第1項 別表第一 第16項, or 住基法 …
    uses_number: bool
    fields: tuple[str, ...]   # besides ALWAYS


def departments_from_raw(raw: Mapping[str, Any]) -> dict[str, Department]:
    out = {}
    for name, d in raw.items():
        fields = tuple(dict.fromkeys(d.get("fields", ())))
        unknown = [f for f in fields if f not in FEED_FIELDS]
        if unknown:
            raise AccessError(f"departments.{name}: {unknown[0]!r} is not a feed field "
                              f"(one of {', '.join(FEED_FIELDS)})")
        uses_number = bool(d.get("uses_number", False))
        if "individual_number" in fields and not uses_number:
            raise AccessError(f"departments.{name}: individual_number for work that does "
                              "not use the number (uses_number = false)")
        basis = str(d.get("basis", ""))
        if not basis:
            raise AccessError(f"departments.{name}: basis (the legal basis) is required")
        if uses_number and "番号法" not in basis:
            raise AccessError(f"departments.{name}: work using the 個人番号 needs a basis "
                              "in 番号法 (第9条, 別表第一)")
        out[name] = Department(name, str(d.get("title", name)), str(d["certificate"]),
                               basis, uses_number, tuple(f for f in fields if f not in ALWAYS))
    return out


def shown(record: Mapping[str, Any], department: Department) -> dict[str, Any]:
    """A feed record as ``department`` may receive it: its fields only, and never the
    個人番号 for work that does not use it, whatever else is configured."""
    out = {k: record[k] for k in (*ALWAYS, *department.fields)}
    if not department.uses_number:
        out.pop("individual_number", None)
    return out
