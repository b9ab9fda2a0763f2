"""The font families burned-in captions can use, and where Debian installs their files.

A family is a name in the spec; the files are looked up when captions are drawn, so a spec names
only fonts the renderer knows how to find (``make system-deps`` installs them).
"""

from __future__ import annotations

from pathlib import Path

from autovid.errors import ErrorDetail, SpecError

_DEJAVU = "/usr/share/fonts/truetype/dejavu"  # Debian
_AL2023 = "/usr/share/fonts"  # Amazon Linux 2023 (the processor image): one folder per package

FONT_FAMILIES: dict[str, tuple[str, ...]] = {
    "DejaVu Sans": (f"{_DEJAVU}/DejaVuSans.ttf", f"{_AL2023}/dejavu-sans-fonts/DejaVuSans.ttf"),
    "DejaVu Sans Bold": (
        f"{_DEJAVU}/DejaVuSans-Bold.ttf",
        f"{_AL2023}/dejavu-sans-fonts/DejaVuSans-Bold.ttf",
    ),
    "DejaVu Serif": (f"{_DEJAVU}/DejaVuSerif.ttf", f"{_AL2023}/dejavu-serif-fonts/DejaVuSerif.ttf"),
    "DejaVu Sans Mono": (
        f"{_DEJAVU}/DejaVuSansMono.ttf",
        f"{_AL2023}/dejavu-sans-mono-fonts/DejaVuSansMono.ttf",
    ),
    "WenQuanYi Micro Hei": (
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    ),
}
# "auto": CJK text needs a CJK font; DejaVu covers Latin, Greek, Cyrillic, Hebrew and Arabic.
CJK_FONT = "WenQuanYi Micro Hei"
DEFAULT_FONT = "DejaVu Sans Bold"
CJK_LANGUAGES = frozenset({"zh", "cmn", "yue", "ja", "ko"})


def auto_font(language: str | None) -> str:
    base = (language or "").split("-")[0].lower()
    return CJK_FONT if base in CJK_LANGUAGES else DEFAULT_FONT


def font_path(family: str, language: str | None) -> Path:
    """The installed file of a font family ("auto": one for the language); a ``SpecError`` naming
    the field when this renderer lacks it."""
    name = auto_font(language) if family == "auto" else family
    for candidate in FONT_FAMILIES.get(name, ()):
        if Path(candidate).is_file():
            return Path(candidate)
    raise SpecError(
        [
            ErrorDetail(
                "output.captions.burnIn.font",
                f"font '{name}' is not installed on this renderer (Debian: make system-deps)",
            )
        ]
    )
