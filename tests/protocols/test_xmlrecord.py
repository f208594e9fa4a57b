"""``XmlRecord``'s compiled writer writes exactly what the general rule says — each
field that is not ``None`` as ``<Element>escaped text</Element>``, in field order, the
text by ``_text`` — for values of the annotated class and of any other (a subclass,
an enum, a wrong type): the annotation only picks a faster way, never another text."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, fields
from xml.sax.saxutils import escape

from hypothesis import given
from hypothesis import strategies as st

from protocols.xmlrecord import XmlRecord, _text, element_name


class Kind(enum.IntEnum):
    ONE = 1


class Code(enum.StrEnum):
    A = "a<&>"


@dataclass(frozen=True)
class Everything:
    text: str
    maybe_text: str | None
    number: int
    maybe_number: int | None
    flag: bool
    day: dt.date
    moment: dt.datetime | None
    other: object


def reference(obj: object) -> str:
    """The rule, written the plain way."""
    return "".join(f"<{element_name(f.name)}>{escape(_text(getattr(obj, f.name)))}"
                   f"</{element_name(f.name)}>" for f in fields(obj)  # type: ignore[arg-type]
                   if getattr(obj, f.name) is not None)


ANY = st.one_of(st.none(), st.text(), st.integers(), st.booleans(), st.dates(),
                st.datetimes(), st.sampled_from([Kind.ONE, Code.A]))
RECORD = XmlRecord(Everything)


@given(st.builds(Everything, text=ANY, maybe_text=ANY, number=ANY, maybe_number=ANY,
                 flag=ANY, day=ANY, moment=ANY, other=ANY))
def test_the_compiled_writer_writes_what_the_rule_says(obj: Everything) -> None:
    assert RECORD.encode(obj) == reference(obj)


def test_markup_in_text_is_escaped_and_none_is_left_out() -> None:
    obj = Everything("a<b>&c", None, 7, None, False, dt.date(2026, 12, 3), None, Code.A)
    assert RECORD.encode(obj) == (
        "<Text>a&lt;b&gt;&amp;c</Text><Number>7</Number><Flag>false</Flag>"
        f"<Day>2026-12-03</Day><Other>{escape(_text(Code.A))}</Other>")
