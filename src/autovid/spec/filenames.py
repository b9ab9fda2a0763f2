"""The one rule for ``output.filename``: checked when a spec is validated (at submit, by
``autovid validate``) and again where the worker turns it into a storage key.

A name is a plain, visible file name: no folder, not hidden, nothing invisible or direction-
reversing that would make ``evil\u202ecod.mp4`` read as ``evil4pm.doc`` in a file list.
``FILENAME_PATTERN`` states the same rule for the published JSON Schema.
"""

from __future__ import annotations

MAX_FILENAME_CHARS = 120

# C0 and C1 controls, and the format characters that hide text or reverse its direction:
# the Arabic letter mark, zero-width spaces and joiners, LRM/RLM, line/paragraph separators,
# bidi embeddings and overrides (U+202A-U+202E), word joiner and bidi isolates, the BOM.
_REFUSED_RANGES = (
    (0x00, 0x1F),
    (0x7F, 0x9F),
    (0x061C, 0x061C),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2069),
    (0xFEFF, 0xFEFF),
)
_REFUSED_CLASS = "".join(
    f"\\u{low:04x}" if low == high else f"\\u{low:04x}-\\u{high:04x}" for low, high in _REFUSED_RANGES
)
FILENAME_PATTERN = f"^[^./\\\\{_REFUSED_CLASS}][^/\\\\{_REFUSED_CLASS}]*$"


def _refused(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _REFUSED_RANGES)


def output_filename_problem(name: str) -> str | None:
    """Why ``name`` cannot be an output file name, or None when it can."""
    if not name:
        return "must not be empty; give a name such as 'welcome.mp4'"
    if len(name) > MAX_FILENAME_CHARS:
        return f"is {len(name)} characters long; at most {MAX_FILENAME_CHARS} allowed"
    if "/" in name or "\\" in name:
        return "must be a plain file name such as 'welcome.mp4', without '/' or '\\'"
    if name.startswith("."):
        return "must not start with '.' (a hidden file, or no name before '.mp4'); e.g. 'welcome.mp4'"
    refused = next((char for char in name if _refused(char)), None)
    if refused is not None:
        return (
            f"contains the invisible or control character U+{ord(refused):04X}; use visible characters only"
        )
    return None
