"""Cutting long speech into requests a TTS service accepts, at sentence boundaries.

Plain text is cut between sentences (then clauses, then words when one sentence alone is too long).
SSML is cut into several complete ``<speak>`` documents: between the top-level sentences and
elements; an element too long by itself is split into copies of itself (same tag and attributes)
that each hold part of its content, so ``<prosody rate="slow">`` still applies to every part.
"""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from autovid.spec.ssml import parse_ssml

# Sentence ends: . ! ? … (+ closing quotes/brackets) before whitespace and a word that does not
# start in lower case ("Wait… what" and "e.g. this" go on); CJK full stops; blank lines.
_SENTENCE_END = re.compile(
    r"[.!?\u2026]+[\"'\u201d\u2019\u00bb)\]]*(?:\s+(?=[^\sa-z\u00df-\u00ff])|\s*$)"
    r"|[\u3002\uff01\uff1f]+\s*|\n\s*\n\s*"
)
# Clause ends: , ; : and dashes (also their CJK forms) before whitespace.
_CLAUSE_END = re.compile(r"[,;:\u2014\u2013\u3001\uff0c\uff1b\uff1a]+\s+")
_WORD_END = re.compile(r"\s+")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, each with its trailing whitespace; joined they give ``text`` back."""
    return _cut_after(text, _SENTENCE_END)


def split_text(text: str, max_chars: int) -> list[str]:
    """Cut ``text`` into stripped chunks of at most ``max_chars``, preferring sentence ends."""
    chunks = _pack(_fitting_pieces(text, max_chars), max_chars)
    return [chunk.strip() for chunk in chunks if chunk.strip()]


def _cut_after(text: str, pattern: re.Pattern[str]) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in pattern.finditer(text):
        if match.end() > start:
            pieces.append(text[start : match.end()])
            start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _fitting_pieces(text: str, max_chars: int) -> Iterator[str]:
    """Pieces of at most ``max_chars``: sentences, or clauses / words / slices of long ones."""
    for sentence in split_sentences(text):
        yield from _refine(sentence, max_chars, (_CLAUSE_END, _WORD_END))


def _refine(piece: str, max_chars: int, patterns: tuple[re.Pattern[str], ...]) -> Iterator[str]:
    if len(piece) <= max_chars:
        yield piece
    elif patterns:
        for part in _cut_after(piece, patterns[0]):
            yield from _refine(part, max_chars, patterns[1:])
    else:  # one "word" longer than the limit: nothing better than a hard cut
        for start in range(0, len(piece), max_chars):
            yield piece[start : start + max_chars]


def _pack(pieces: Iterable[str], max_chars: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece) > max_chars:
            chunks.append(current)
            current = ""
        current += piece
    if current:
        chunks.append(current)
    return chunks


# --- SSML ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    xml: str  # serialized, ready to concatenate
    billed: int  # characters of speech (tags excluded), what the service bills


def ssml_billed_chars(ssml: str) -> int:
    return len("".join(parse_ssml(ssml).itertext()))


def split_ssml(ssml: str, *, max_billed: int, max_total: int) -> list[str]:
    """Cut an SSML document into ``<speak>`` documents within both limits.

    ``max_billed`` bounds the speech characters of each document, ``max_total`` its full length
    including tags. A document that already fits is returned unchanged.
    """
    if len(ssml) <= max_total and ssml_billed_chars(ssml) <= max_billed:
        return [ssml]
    root = parse_ssml(ssml)
    start, end = _start_tag(root), f"</{root.tag}>"
    budget = max_total - len(start) - len(end)
    units = _content_units(root, max_billed, budget)
    return [start + "".join(u.xml for u in group) + end for group in _pack_units(units, max_billed, budget)]


def _content_units(element: ET.Element, max_billed: int, max_total: int) -> list[_Unit]:
    """The element's content (text, children, tails) as units that each fit the limits."""
    units: list[_Unit] = []
    if element.text:
        units.extend(_text_units(element.text, max_billed, max_total))
    for child in element:
        units.extend(_element_units(child, max_billed, max_total))
        if child.tail:
            units.extend(_text_units(child.tail, max_billed, max_total))
    return units


def _text_units(text: str, max_billed: int, max_total: int) -> list[_Unit]:
    units: list[_Unit] = []
    for piece in _fitting_pieces(text, min(max_billed, max_total)):
        xml = escape(piece)
        if len(xml) <= max_total:
            units.append(_Unit(xml, len(piece)))
        else:  # escaping grew it ("&" -> "&amp;"): cut small enough for the worst case
            units.extend(_Unit(escape(p), len(p)) for p in _fitting_pieces(piece, max(1, max_total // 5)))
    return units


def _element_units(element: ET.Element, max_billed: int, max_total: int) -> list[_Unit]:
    whole = _Unit(_serialize(element), len("".join(element.itertext())))
    if whole.billed <= max_billed and len(whole.xml) <= max_total:
        return [whole]
    start, end = _start_tag(element), f"</{element.tag}>"
    inner_budget = max_total - len(start) - len(end)
    if inner_budget <= 0:
        raise ValueError(f"the SSML tag <{element.tag}> alone is longer than the request limit")
    inner = _content_units(element, max_billed, inner_budget)
    return [
        _Unit(start + "".join(u.xml for u in group) + end, sum(u.billed for u in group))
        for group in _pack_units(inner, max_billed, inner_budget)
    ]


def _pack_units(units: Iterable[_Unit], max_billed: int, max_total: int) -> list[list[_Unit]]:
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    billed = total = 0
    for unit in units:
        if current and (billed + unit.billed > max_billed or total + len(unit.xml) > max_total):
            groups.append(current)
            current, billed, total = [], 0, 0
        current.append(unit)
        billed += unit.billed
        total += len(unit.xml)
    if current:
        groups.append(current)
    # A group of nothing but whitespace would be an empty request.
    return [g for g in groups if any(u.xml.strip() for u in g)]


def _serialize(element: ET.Element) -> str:
    alone = copy.copy(element)
    alone.tail = None  # tostring() would include the text after the element
    return ET.tostring(alone, encoding="unicode")


def _start_tag(element: ET.Element) -> str:
    attributes = "".join(f" {name}={quoteattr(value)}" for name, value in element.attrib.items())
    return f"<{element.tag}{attributes}>"
