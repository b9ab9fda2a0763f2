"""The render engine: plan (pure), streaming mixer, media I/O and muxing with PyAV, ``render()``.

``autovid.render.plan`` and the mixer's maths import only numpy; the names below are loaded on
first use so that importing the pure parts does not pull in PyAV.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autovid.render.pipeline import AssetSource, RenderResult, Synthesizer, render

__all__ = ["AssetSource", "RenderResult", "Synthesizer", "render"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from autovid.render import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'autovid.render' has no attribute '{name}'")
