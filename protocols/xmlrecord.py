"""A frozen dataclass as a flat sequence of XML elements, one per field, in field order.

Every XML body of the hub is such a record (or holds one): the element of field
``update_seq`` is ``UpdateSeq``; ``None`` fields are left out; values are written as
escaped text (dates ISO 8601, booleans ``true``/``false``) and read back by the field's
annotation.  Writing text instead of building a tree is on the hot path of every
change and five times faster; reading always goes through the hardened parser and
the XSD first (``protocols.xmlsafe``).

Each record's writer is compiled once from its fields (``_compile_encoder``, as
``dataclasses`` compiles ``__init__``): one attribute read and one conversion chosen
by the field's annotation per field, no loop and no type tests but one class check —
the hub encodes every outgoing message and every consistency-check record with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import fields
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from protocols.errors import BodyError
from protocols.xmlsafe import MAX_XML_BYTES, load_schema, parse_xml, validate


def element_name(attr: str) -> str:
    return "".join(part.capitalize() for part in attr.split("_"))


class XmlRecord:
    """The element mapping of one dataclass (but its ``skip`` fields)."""

    def __init__(self, cls: type, skip: tuple[str, ...] = ()) -> None:
        self.cls = cls
        self.fields: tuple[tuple[str, str], ...] = tuple(
            (f.name, element_name(f.name)) for f in fields(cls) if f.name not in skip)
        parsers = {f.name: _parser(str(f.type)) for f in fields(cls) if f.name not in skip}
        self._by_element = {element: (attr, parsers[attr]) for attr, element in self.fields}
        # Full tags ({namespace}Name) as they are met, to their field: one dict lookup.
        self._by_tag: dict[str, tuple[str, Callable[[str], Any]] | None] = {}
        self._attrs = tuple(attr for attr, _ in self.fields)
        kinds = {f.name: str(f.type) for f in fields(cls)}
        self.encode: Callable[[Any], str] = _compile_encoder(
            [(attr, element, kinds[attr]) for attr, element in self.fields])
        """The elements of an instance as XML text (no enclosing element); a field that
        is ``None`` is left out."""

    def decode(self, parent: etree._Element, **extra: Any) -> Any:
        """An instance from the (schema-valid) children of ``parent`` (and ``extra``)."""
        values: dict[str, Any] = dict.fromkeys(self._attrs)
        by_tag = self._by_tag
        for child in parent:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # a comment or processing instruction (the parser drops them)
            field = by_tag.get(tag, _UNSEEN)
            if field is _UNSEEN:
                field = by_tag[tag] = self._by_element.get(tag.rpartition("}")[2])
            if field is None:
                continue  # not a field (e.g. a wrapper's own element)
            attr, parse = field
            try:
                values[attr] = parse(child.text or "")
            except ValueError:
                raise BodyError("bad_value", f"{element_name(attr)} is not valid") from None
        return self.cls(**values, **extra)


# How a field's value becomes text, by its annotation, when its class is the one the
# annotation names; any other value takes the general way (``_text``, escaped).
_CONVERSIONS = (("bool", "bool", "('true' if v else 'false')"),
                ("datetime", "datetime", "v.isoformat(timespec='microseconds')"),
                ("date", "date", "v.isoformat()"),
                ("int", "int", "str(v)"),
                ("str", "str", "(escape(v) if '&' in v or '<' in v or '>' in v else v)"))


def _compile_encoder(fields_: list[tuple[str, str, str]]) -> Callable[[Any], str]:
    """The writer of records with ``fields_`` (attribute, element, annotation)."""
    lines = ["def encode(obj):", "    parts = []", "    add = parts.append"]
    for attr, element, kind in fields_:
        if not attr.isidentifier() or not element.isidentifier():
            raise ValueError(f"not a field name: {attr!r}")
        general = "escape(_text(v))"
        convert = next((f"({fast} if v.__class__ is {cls} else {general})"
                        for name, cls, fast in _CONVERSIONS if name in kind.split(" | ")[0]
                        or kind == name), general)
        lines += [f"    v = obj.{attr}", "    if v is not None:",
                  f"        add('<{element}>' + {convert} + '</{element}>')"]
    lines.append("    return ''.join(parts)")
    namespace: dict[str, Any] = {"escape": escape, "_text": _text, "bool": bool, "int": int,
                                 "str": str, "date": dt.date, "datetime": dt.datetime}
    exec("\n".join(lines), namespace)  # noqa: S102 (source built from field names only)
    encode: Callable[[Any], str] = namespace["encode"]
    return encode


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


_UNSEEN: Any = object()


def _parser(kind: str) -> Callable[[str], Any]:
    """How the text of a field of annotation ``kind`` is read."""
    if "bool" in kind:
        return _true
    if "int" in kind:
        return int
    if "datetime" in kind:
        return dt.datetime.fromisoformat
    if "date" in kind:
        return dt.date.fromisoformat
    return str


def _true(text: str) -> bool:
    return text == "true"


class XmlDocument(XmlRecord):
    """A whole document: the record's elements directly under a root element, in a
    namespace, checked against an XSD shipped in ``protocols/schemas``."""

    def __init__(self, cls: type, root: str, namespace: str, xsd: str,
                 skip: tuple[str, ...] = (), max_bytes: int = MAX_XML_BYTES) -> None:
        super().__init__(cls, skip)
        self.root = root
        self.max_bytes = max_bytes  # what the hardened parser accepts for this document
        self.xsd = xsd
        self._head = f"<?xml version='1.0' encoding='UTF-8'?>\n<{root} xmlns=\"{namespace}\">"
        self._tail = f"</{root}>"

    def dumps(self, obj: Any) -> bytes:
        """UTF-8 XML that validates against the XSD."""
        return (self._head + self.encode(obj) + self._tail).encode()

    def loads(self, data: bytes) -> Any:
        """Parse (hardened), validate, decode; or raise ``BodyError``."""
        return self.load_root(parse_xml(data, self.max_bytes))

    def load_root(self, root: etree._Element) -> Any:
        validate(load_schema(self.xsd), root)
        return self.decode(root)


class XmlListDocument(XmlDocument):
    """A document whose last field is a tuple of records, each written as an ``item``
    element after the other fields (a query's matches, a consistency-check chunk)."""

    def __init__(self, cls: type, root: str, namespace: str, xsd: str, list_field: str,
                 item_cls: type, item: str, max_items: int,
                 max_bytes: int = MAX_XML_BYTES) -> None:
        super().__init__(cls, root, namespace, xsd, skip=(list_field,), max_bytes=max_bytes)
        self.list_field, self.item, self.max_items = list_field, item, max_items
        self.items = XmlRecord(item_cls)
        self._item_open, self._item_close = f"<{item}>", f"</{item}>"

    def dumps(self, obj: Any) -> bytes:
        records = getattr(obj, self.list_field)
        if len(records) > self.max_items:
            raise ValueError(f"at most {self.max_items} {self.item} elements in one document")
        parts = [self._head, self.encode(obj)]
        for r in records:
            parts += [self._item_open, self.items.encode(r), self._item_close]
        parts.append(self._tail)
        return "".join(parts).encode()

    def load_root(self, root: etree._Element) -> Any:
        validate(load_schema(self.xsd), root)
        ns = etree.QName(root).namespace
        records = tuple(self.items.decode(el) for el in root.iterfind(f"{{{ns}}}{self.item}"))
        return self.decode(root, **{self.list_field: records})


class XmlDispatch:
    """Several documents on one stream, told apart by their root element: parse once,
    then validate and decode with that document's schema."""

    def __init__(self, *docs: Any) -> None:  # XmlDocument, or any with root and load_root
        self.docs = {doc.root: doc for doc in docs}
        self.max_bytes = max(getattr(doc, "max_bytes", MAX_XML_BYTES) for doc in docs)

    def loads(self, data: bytes) -> Any:
        root = parse_xml(data, self.max_bytes)
        doc = self.docs.get(etree.QName(root).localname)
        if doc is None:
            raise BodyError("unknown_document", "the root element is not a known document")
        return doc.load_root(root)
