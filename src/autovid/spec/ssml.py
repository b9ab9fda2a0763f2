"""SSML: well-formedness checks and conversion for engines that lack Polly's extensions."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def ssml_problem(text: str) -> str | None:
    """Return why ``text`` is not usable SSML, or None when it is. TODO(speech): tags allowed."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        return f"malformed SSML: {exc}"
    if root.tag != "speak":
        return f"SSML must have a <speak> root element, found <{root.tag}>"
    return None
