"""Hardened XML parsing for every XML body that crosses a link.

The parser resolves no entities, loads no DTD, touches no network, refuses any
DOCTYPE outright, and bounds both the document size and the element depth, so that
billion-laughs, external-entity and deep-nesting documents are refused before they
can cost anything.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

from protocols.errors import BodyError

MAX_XML_BYTES = 256 * 1024
MAX_XML_DEPTH = 16
SCHEMA_DIR = Path(__file__).with_name("schemas")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        remove_comments=True,
    )


_PARSER = _parser()


def parse_xml(data: bytes, max_bytes: int = MAX_XML_BYTES,
              max_depth: int = MAX_XML_DEPTH) -> etree._Element:
    """Parse ``data`` into an element tree, or raise ``BodyError`` saying why not."""
    if len(data) > max_bytes:
        raise BodyError("xml_too_large", f"{len(data)} > {max_bytes} bytes")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise BodyError("xml_doctype", "DOCTYPE and entity declarations are not allowed")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise BodyError("xml_syntax", f"line {exc.lineno}: not well-formed") from None
    if root.getroottree().docinfo.doctype:
        raise BodyError("xml_doctype", "DOCTYPE is not allowed")
    if _too_deep(max_depth)(root):
        raise BodyError("xml_too_deep", f"deeper than {max_depth} elements")
    return root


@cache
def _too_deep(max_depth: int) -> etree.XPath:
    """Whether any element lies deeper than ``max_depth`` (one XPath, evaluated in C)."""
    return etree.XPath("boolean(/*" + "/*" * max_depth + ")")


@cache
def load_schema(name: str) -> etree.XMLSchema:
    """An XSD shipped in ``protocols/schemas``, parsed (safely) once and kept."""
    data = (SCHEMA_DIR / name).read_bytes()
    return etree.XMLSchema(etree.fromstring(data, _parser()))


def validate(schema: etree.XMLSchema, root: etree._Element) -> None:
    """Raise ``BodyError('xsd_invalid')`` naming the first schema violation's element."""
    if not schema.validate(root):
        err = schema.error_log.last_error
        # The libxml2 message names elements and expected types; it never quotes values
        # for the pattern/enumeration failures we define, but we keep only the path.
        where = err.path if err is not None else "?"
        raise BodyError("xsd_invalid", f"schema violation at {where}")
