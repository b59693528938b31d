"""XML reports, read safely with the standard library.

`defusedxml` is not a dependency, so the dangers are refused before parsing: a document
with a DTD (`<!DOCTYPE`) or an entity declaration (`<!ENTITY`) is not a report, which
rules out entity expansion ("billion laughs") and external entities (XXE). The check runs
on the very text the parser then reads: the input is decoded here (BOM, UTF-16 or the
XML declaration's encoding) and handed to the parser as text, which makes expat read it
as UTF-8 whatever the declaration or the first bytes say; a NUL character (XML has none;
it is what UTF-16 read as UTF-8 looks like) is refused. So no encoding trick can show
the check one document and the parser another.
"""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET

from protocol.report import ReportError

_DECLARATION = re.compile(r"\A<\?xml\s[^>]*?\?>")
_ENCODING = re.compile(rb"""\A<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
_FORBIDDEN = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Without a BOM, the zero bytes around the first "<" tell UTF-16 and UTF-32 (XML 1.0,
# appendix F, which expat follows for any first character too).
_SIGNATURES = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
)


def looks_like_xml(text: str) -> bool:
    return text.lstrip("\ufeff \t\r\n").startswith("<")


def decode_text(raw: bytes | str) -> str:
    """The document as text, decoded as XML says: BOM, first bytes, then declaration."""
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    if not isinstance(raw, bytes | bytearray):
        raise ReportError(f"a report is bytes or text, not {type(raw).__name__}")
    raw = bytes(raw)
    encoding = next((name for bom, name in _BOMS if raw.startswith(bom)), None)
    encoding = encoding or next((name for sig, name in _SIGNATURES if raw.startswith(sig)), None)
    if encoding is None:
        declared = _ENCODING.match(raw.lstrip())
        encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        return raw.decode(encoding).removeprefix("\ufeff")
    except LookupError as exc:
        raise ReportError(f"unknown XML encoding {encoding!r}") from exc
    except UnicodeDecodeError as exc:
        raise ReportError(f"not {encoding} text: {exc}") from exc


def parse_xml(raw: bytes | str) -> ET.Element:
    """The root element; a DTD, an entity declaration or malformed XML is a `ReportError`."""
    text = decode_text(raw)
    if "\x00" in text:
        raise ReportError("not XML text: it holds NUL characters (UTF-16 or -32 read as UTF-8?)")
    if _FORBIDDEN.search(text):
        raise ReportError(
            "an XML report may not declare a DTD or entities (<!DOCTYPE, <!ENTITY)", path="body"
        )
    body = _DECLARATION.sub("", text.lstrip(" \t\r\n"), count=1)
    try:
        body.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates in text handed over as str
        raise ReportError(f"not UTF-8 text: {exc}") from exc
    try:
        # Text, not bytes: pyexpat then sets the encoding to UTF-8 itself, so neither a
        # declaration nor the first bytes can make it read something the check did not.
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise ReportError(f"not valid XML: {exc}") from exc


def local_name(tag: object) -> str:
    """`bom` for `{http://cyclonedx.org/schema/bom/1.4}bom`; "" for comments and the like."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def namespace(tag: object) -> str:
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""
