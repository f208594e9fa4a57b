"""住民票コードの変更 (住基法 30条の4): a resident asks for a new 住民票コード.

The register posts a ``resident_code_change`` with the resident's code now; before the
change goes to the store writer the hub asks J-LIS for the new one (``code_request``,
request/response through the national server: ``hub.api.national_first`` asks), and
the change carries it (``with_new_code``).  In the writer the resident takes the new
code (``resident_code_in_use`` if another resident holds it), with the day it came
into use (住民票コード使用年月日); the old one is kept, so a search by it still finds
them.  The identity record carries the new code and the old one in 旧住民票コード, to the
prefecture and to J-LIS; later changes use the new code.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hub.domain.changes import Change, Reason
from hub.domain.errors import HubError
from protocols.national import CodeChangeAnswer, CodeChangeRequest


def needs_new_code(change: Change) -> bool:
    return change.reason is Reason.RESIDENT_CODE_CHANGE


def code_request(change: Change, municipality_code: str) -> CodeChangeRequest:
    return CodeChangeRequest(municipality_code, change.resident_code, change.request_id)


def with_new_code(change: Change, answer: CodeChangeAnswer) -> Change:
    """The change carrying J-LIS's new code, or ``HubError`` ``code_change_refused``."""
    if answer.status != "issued" or answer.new_resident_code is None:
        raise HubError("code_change_refused", "J-LIS refused to issue a new 住民票コード",
                       status=502)
    if answer.new_resident_code == change.resident_code:
        raise HubError("bad_answer", "J-LIS answered the same 住民票コード", status=502)
    return dataclasses.replace(change, new_resident_code=answer.new_resident_code)


def items_after(change: Change) -> dict[str, Any]:
    """What the change sets on the resident: the new code and its first day."""
    assert change.new_resident_code is not None  # carried since the intake
    return {"resident_code": change.new_resident_code,
            "resident_code_used_date": change.event_date}
