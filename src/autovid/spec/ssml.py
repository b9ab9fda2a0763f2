"""SSML: well-formedness checks and conversion for engines that lack Polly's extensions.

Polly's SSML uses the ``amazon:`` prefix without declaring a namespace, which a namespace-aware
XML parser refuses; so documents are read with expat in plain (non-namespace) mode, where
``amazon:effect`` is simply an element name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.parsers import expat

# Polly's supported SSML tags (Amazon Polly developer guide, "Supported SSML tags").
POLLY_TAGS = frozenset(
    {
        "speak",
        "break",
        "emphasis",
        "lang",
        "mark",
        "p",
        "phoneme",
        "prosody",
        "s",
        "say-as",
        "sub",
        "w",
        "amazon:auto-breaths",
        "amazon:breath",
        "amazon:domain",
        "amazon:effect",
    }
)

# Tags espeak-ng's SSML reader acts on; everything else is unwrapped (its text kept).
ESPEAK_TAGS = frozenset({"speak", "break", "emphasis", "mark", "p", "prosody", "s", "say-as", "sub"})
ESPEAK_ATTRIBUTES: dict[str, frozenset[str]] = {
    "break": frozenset({"time", "strength"}),
    "emphasis": frozenset({"level"}),
    "mark": frozenset({"name"}),
    "prosody": frozenset({"rate", "pitch", "volume"}),
    "say-as": frozenset({"interpret-as", "format", "detail"}),
    "sub": frozenset({"alias"}),
}
# Deeper nesting than any real speech needs; the converters below walk the tree recursively.
MAX_SSML_DEPTH = 100
# Elements that stand for a sound, not words: dropped whole.
_DROPPED_TAGS = frozenset({"amazon:breath"})


class SsmlSyntaxError(ValueError):
    """The text is not well-formed XML (or uses a construct we refuse, such as a DOCTYPE)."""


def parse_ssml(text: str) -> ET.Element:
    """Parse SSML into an ElementTree element without namespace processing."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()

    def refuse_doctype(*_: object) -> None:
        raise SsmlSyntaxError("SSML must not contain a DOCTYPE or entity declarations")

    depth = 0

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_SSML_DEPTH:
            raise SsmlSyntaxError(f"SSML nests elements more than {MAX_SSML_DEPTH} levels deep")
        builder.start(name, attrs)

    def end(name: str) -> None:
        nonlocal depth
        depth -= 1
        builder.end(name)

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise SsmlSyntaxError(
            f"malformed SSML: {expat.ErrorString(exc.code)} at line {exc.lineno}, column {exc.offset + 1}"
        ) from None
    return builder.close()


def ssml_problem(text: str) -> str | None:
    """Return why ``text`` is not SSML that Polly accepts, or None when it is."""
    try:
        root = parse_ssml(text)
    except SsmlSyntaxError as exc:
        return str(exc)
    if root.tag != "speak":
        return f"SSML must have a <speak> root element, found <{root.tag}>"
    unknown = sorted({el.tag for el in root.iter() if el.tag not in POLLY_TAGS})
    if unknown:
        tags = ", ".join(f"<{tag}>" for tag in unknown)
        allowed = ", ".join(f"<{tag}>" for tag in sorted(POLLY_TAGS))
        return f"unsupported SSML tag(s) {tags}; Amazon Polly supports: {allowed}"
    nested = [el for el in root.iter() if el is not root and el.tag == "speak"]
    if nested:
        return "<speak> may only be the root element"
    if not "".join(root.itertext()).strip():
        return "SSML contains no text to speak"
    return None


def ssml_text(text: str) -> str:
    """The spoken text of an SSML document (what Polly bills), tags removed."""
    return "".join(parse_ssml(text).itertext())


def strip_for_espeak(ssml: str) -> str:
    """Polly SSML -> SSML that espeak-ng speaks with ``-m``.

    ``amazon:*`` elements and tags espeak-ng does not know are unwrapped: their markup goes, the
    speech inside stays (``<amazon:effect name="whispered">hi</amazon:effect>`` -> ``hi``), so no
    tag name is ever read aloud. Attributes espeak-ng does not understand are dropped.
    """
    root = parse_ssml(ssml)
    cleaned = ET.Element("speak")
    cleaned.text = ""
    _copy_children(root, cleaned, with_text=True)
    return ET.tostring(cleaned, encoding="unicode")


def _copy_children(source: ET.Element, target: ET.Element, *, with_text: bool) -> None:
    if with_text and source.text:
        _append_text(target, source.text)
    for child in source:
        if child.tag in _DROPPED_TAGS:
            pass
        elif child.tag in ESPEAK_TAGS and child.tag != "speak":
            kept = ET.SubElement(target, child.tag, _espeak_attributes(child))
            _copy_children(child, kept, with_text=True)
        else:
            # Polly reads an element as its own word(s): keep that boundary once the tag is gone.
            _append_text(target, " ")
            _copy_children(child, target, with_text=True)
            _append_text(target, " ")
        if child.tail:
            _append_text(target, child.tail)


def _espeak_attributes(element: ET.Element) -> dict[str, str]:
    allowed = ESPEAK_ATTRIBUTES.get(element.tag, frozenset())
    return {name: value for name, value in element.attrib.items() if name in allowed}


def _append_text(element: ET.Element, text: str) -> None:
    if len(element):
        last = element[-1]
        last.tail = (last.tail or "") + text
    else:
        element.text = (element.text or "") + text
