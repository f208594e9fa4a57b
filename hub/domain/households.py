"""Households (世帯): 世帯番号, 世帯主 and each member's 続柄, and the changes that move
people between households.

A household is the living residents who share a 世帯番号; its 世帯主 is the member whose
続柄 is 世帯主.  The register keeps them (the hub reads a household from the store when a
change needs it, ``Household``), and two change reasons move people.  A
``household_change`` (世帯変更, 異動事由 12) puts the resident in another household — an
existing one, or a new one of which they are the first member — with their 続柄 in it.
A ``household_head_change`` (世帯主変更, 異動事由 13) makes the resident the 世帯主 of
their household; the former 世帯主, if still a member, takes the 続柄 the change gives
(``former_head_relationship``: what they are to the new one).  Both residents' records
change, each with its own 更新順番号 (one request; the answer's ``also`` names the
other).  The other members' 続柄 are the register's to correct (``correction``), as
the 住民票 records them.  The rules, each refusing with its code and writing nothing:

- ``household_unchanged``  a 世帯変更 into the household the resident is in
- ``household_head_leaves_members``  the 世帯主 leaves a household others stay in (a
  世帯主変更 first)
- ``household_without_head``  a new household's first member is not its 世帯主
- ``household_head_exists``  a second 世帯主 for a household
- ``household_at_another_address``  a household living at another address (a 世帯 is
  at one 住所: a 転居 first)
- ``already_household_head``  a 世帯主変更 of the 世帯主
- ``former_head_relationship_missing``  the former 世帯主 stays, and the change does not
  say their 続柄
- ``no_former_head``  the change gives a former 世帯主's 続柄 when there is none

The send-destination file addresses a household's notices to its 世帯主
(``hub.domain.send_batches``).  Arrivals and births bring their household as the
register records it; the rules here are for the changes between households.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hub.domain.changes import Change, Reason
from hub.domain.errors import LogicError
from hub.domain.resident import Resident

HEAD = "世帯主"


@dataclass(frozen=True, slots=True)
class Household:
    """A 世帯 as the register has it now: its number and living members."""

    number: str
    members: tuple[Resident, ...]

    @property
    def head(self) -> Resident | None:
        return next((m for m in self.members if m.relationship == HEAD), None)

    def others(self, resident: Resident) -> tuple[Resident, ...]:
        return tuple(m for m in self.members if m.atena_number != resident.atena_number)


MOVING = frozenset({Reason.HOUSEHOLD_CHANGE, Reason.HOUSEHOLD_HEAD_CHANGE})


def households_read(change: Change, current: Resident | None) -> tuple[str, ...]:
    """Which households the rules of ``change`` need to see: the one left and the one
    joined (世帯変更), or the resident's own (世帯主変更)."""
    if change.reason not in MOVING or current is None:
        return ()
    joined = change.items.get("household_number")
    return tuple(dict.fromkeys(h for h in (current.household_number, joined) if h))


def check(change: Change, current: Resident, households: dict[str, Household]) -> None:
    """The rules of a change between households (see the module docstring)."""
    if change.reason is Reason.HOUSEHOLD_CHANGE:
        _household_change(change, current, households)
    elif change.reason is Reason.HOUSEHOLD_HEAD_CHANGE:
        _head_change(change, current, households[current.household_number])


def _household_change(change: Change, current: Resident,
                      households: dict[str, Household]) -> None:
    number, relationship = change.items["household_number"], change.items["relationship"]
    if number == current.household_number:
        raise LogicError("household_unchanged", "the resident is in this household already",
                         "household_number")
    left = households[current.household_number]
    if current.relationship == HEAD and left.others(current):
        raise LogicError("household_head_leaves_members", "the 世帯主 leaves a household "
                         "others stay in: a 世帯主変更 first", "household_number")
    joined = households[number]
    if not joined.members:
        if relationship != HEAD:
            raise LogicError("household_without_head", "the first member of a new "
                             "household is its 世帯主", "relationship")
        return
    if relationship == HEAD:
        raise LogicError("household_head_exists", "the household has a 世帯主",
                         "relationship")
    if any(m.address != current.address for m in joined.members):
        raise LogicError("household_at_another_address", "the household lives at another "
                         "address (a 転居 first)", "household_number")


def _head_change(change: Change, current: Resident, household: Household) -> None:
    if current.relationship == HEAD:
        raise LogicError("already_household_head", "the resident is the 世帯主",
                         "resident_code")
    former = household.head
    given = change.former_head_relationship
    if former is not None and given is None:
        raise LogicError("former_head_relationship_missing", "the former 世帯主 stays in "
                         "the household: the change gives their 続柄",
                         "former_head_relationship")
    if former is None and given is not None:
        raise LogicError("no_former_head", "the household has no 世帯主 now",
                         "former_head_relationship")


def former_head_change(change: Change, household: Household) -> tuple[Resident, Change] | None:
    """The former 世帯主's side of a 世帯主変更: (them, the change of their 続柄), or
    ``None`` when the household had no 世帯主."""
    former = household.head
    if former is None:
        return None
    assert change.former_head_relationship is not None  # the rules saw to it
    return former, dataclasses.replace(
        change, resident_code=former.resident_code,
        items={"relationship": change.former_head_relationship},
        former_head_relationship=None)
