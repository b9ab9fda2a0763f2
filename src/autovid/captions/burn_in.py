"""Burned-in captions: each cue drawn once (per highlighted word) with Pillow, then blended into
decoded frames. Drawing is kept apart from encoding: the muxer hands each frame's pixels and its
time to ``CaptionPainter.overlay`` and encodes what comes back.

Frames come and go as yuv420p arrays (the Y rows, then the U and V quarter planes), so this module
reads and writes no media itself. Text is shaped by libraqm (HarfBuzz + FriBiDi) when Pillow has
it, so accented, right-to-left and CJK lines render as the script requires; fonts are the families
of ``spec.fonts``.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont, features

from autovid.captions.cues import Cue, Piece, line_text
from autovid.spec.fonts import font_path
from autovid.spec.models import BurnIn

_LINE_SPACING = 1.25
_PAD = 0.25  # background box padding, in font sizes
_RTL_RANGES = ((0x0590, 0x08FF), (0xFB1D, 0xFDFF), (0xFE70, 0xFEFF))


@dataclass(frozen=True)
class Drawn:
    """A cue's block, ready to blend: top-left corner, Y/U/V planes and their alpha (0..1)."""

    x: int
    y: int
    planes: tuple[np.ndarray, np.ndarray, np.ndarray]
    alphas: tuple[np.ndarray, np.ndarray]  # full resolution (Y), half resolution (U, V)


def layout_engine() -> ImageFont.Layout:
    return ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC


def is_rtl(text: str) -> bool:
    """Whether the first strongly directional character is right-to-left (Hebrew, Arabic)."""
    for char in text:
        code = ord(char)
        if any(low <= code <= high for low, high in _RTL_RANGES):
            return True
        if char.isalpha():
            return False
    return False


class CaptionPainter:
    """``overlay(pixels, time_s)``: a yuv420p frame's pixels with the cue on screen at ``time_s``
    drawn in (a new array), or None when no cue is on screen."""

    def __init__(
        self, cues: Sequence[Cue], style: BurnIn, language: str | None, width: int, height: int
    ) -> None:
        self.cues = sorted(cues, key=lambda c: c.start_s)
        self.style = style
        self.width, self.height = width - width % 2, height - height % 2
        self._starts = [c.start_s for c in self.cues]
        self._font_file = font_path(style.font, language)
        self._drawn: dict[tuple[int, int | None], Drawn] = {}

    def overlay(self, pixels: np.ndarray, time_s: float) -> np.ndarray | None:
        state = self.state_at(time_s)
        if state is None:
            return None
        drawn = self._drawn.get(state)
        if drawn is None:
            drawn = self._drawn[state] = self._draw(*state)
        return _blend(pixels, drawn)

    def state_at(self, time_s: float) -> tuple[int, int | None] | None:
        """(cue index, highlighted piece index) on screen at ``time_s``, or None."""
        index = bisect.bisect_right(self._starts, time_s) - 1
        if index < 0 or time_s >= self.cues[index].end_s:
            return None
        if self.style.highlightColor is None:
            return index, None
        pieces = [p for line in self.cues[index].lines for p in line]
        spoken = [k for k, p in enumerate(pieces) if p.start_s <= time_s]
        return index, (spoken[-1] if spoken else None)

    def image(self, cue: Cue, highlight: int | None = None) -> tuple[Image.Image, tuple[int, int]]:
        """The cue's block as an RGBA image and where it goes on the frame."""
        lines = [tuple(_shown(p, self.style.uppercase) for p in line) for line in cue.lines]
        size = round(self.style.fontSize * self.height)
        font = self._font(size)
        widest = max(font.getlength(line_text(line)) for line in lines)
        if widest > 0.92 * self.width:  # a long word: smaller text rather than cut off
            size = max(8, int(size * 0.92 * self.width / widest))
            font = self._font(size)
        line_h = round(size * _LINE_SPACING)
        pad = round(size * _PAD)
        outline = round(self.style.outlineWidth * size)
        block = Image.new("RGBA", (self.width, line_h * len(lines) + 2 * pad), (0, 0, 0, 0))
        draw = ImageDraw.Draw(block)
        flat = 0
        for row, line in enumerate(lines):
            text = line_text(line)
            line_w = font.getlength(text)
            left = (self.width - line_w) / 2
            top = pad + row * line_h
            self._background(draw, left, top, line_w, line_h, pad)
            draw.text(
                (left, top),
                text,
                font=font,
                fill=_rgb(self.style.color),
                stroke_width=outline,
                stroke_fill=_rgb(self.style.outlineColor),
            )
            if highlight is not None and flat <= highlight < flat + len(line):
                self._highlight(block, font, line, highlight - flat, (left, top, line_w, line_h), outline)
            flat += len(line)
        return block, (0, self._top(block.height))

    def _highlight(
        self,
        block: Image.Image,
        font: ImageFont.FreeTypeFont,
        line: tuple[Piece, ...],
        k: int,
        box: tuple[float, float, float, float],
        outline: int,
    ) -> None:
        """The whole line drawn again in the highlight colour, kept only over the spoken word."""
        left, top, line_w, line_h = box
        text = line_text(line)
        before = font.getlength(line_text(line[:k]) + (" " if k else ""))
        word_w = font.getlength(line[k].text)
        x0 = left + line_w - before - word_w if is_rtl(text) else left + before
        coloured = Image.new("RGBA", block.size, (0, 0, 0, 0))
        ImageDraw.Draw(coloured).text(
            (left, top),
            text,
            font=font,
            fill=_rgb(self.style.highlightColor or "#FFFF00"),
            stroke_width=outline,
            stroke_fill=_rgb(self.style.outlineColor),
        )
        area = (
            max(0, int(x0) - outline),
            int(top),
            min(block.width, int(x0 + word_w) + outline + 1),
            int(top + line_h),
        )
        block.paste(coloured.crop(area), area[:2], coloured.crop(area))

    def _background(
        self, draw: ImageDraw.ImageDraw, left: float, top: float, w: float, h: int, pad: int
    ) -> None:
        if self.style.backgroundOpacity <= 0:
            return
        alpha = round(self.style.backgroundOpacity * 255)
        draw.rectangle(
            (left - pad, top, left + w + pad, top + h), fill=(*_rgb(self.style.backgroundColor), alpha)
        )

    def _top(self, block_h: int) -> int:
        margin = round(self.style.margin * self.height)
        if self.style.position == "top":
            top = margin
        elif self.style.position == "middle":
            top = (self.height - block_h) // 2
        else:
            top = self.height - margin - block_h
        return max(0, min(self.height - block_h, top)) // 2 * 2  # even: chroma rows are shared

    def _font(self, size: int) -> ImageFont.FreeTypeFont:
        return _load_font(str(self._font_file), size)

    def _draw(self, index: int, highlight: int | None) -> Drawn:
        block, (x, y) = self.image(self.cues[index], highlight)
        box = block.getbbox()
        if box is not None:  # only the drawn part is blended into each frame
            left, top = box[0] // 2 * 2, box[1] // 2 * 2
            right, bottom = min(block.width, box[2] + box[2] % 2), min(block.height, box[3] + box[3] % 2)
            block, x, y = block.crop((left, top, right, bottom)), x + left, y + top
        return _to_yuv(block, x, y)


@lru_cache(maxsize=32)
def _load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, layout_engine=layout_engine())


def _shown(piece: Piece, uppercase: bool) -> Piece:
    return Piece(piece.text.upper(), piece.spaced, piece.start_s, piece.end_s) if uppercase else piece


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _to_yuv(block: Image.Image, x: int, y: int) -> Drawn:
    """RGBA -> BT.601 limited-range Y, U, V (what FFmpeg's yuv420p conversion assumes) + alpha."""
    if block.height % 2 or block.width % 2:
        block = block.crop((0, 0, block.width + block.width % 2, block.height + block.height % 2))
    rgba = np.asarray(block, dtype=np.float32)
    r, g, b, a = (rgba[..., i] for i in range(4))
    luma = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    alpha = a / 255
    half = alpha.reshape(alpha.shape[0] // 2, 2, alpha.shape[1] // 2, 2).mean(axis=(1, 3))
    weighted = (alpha * u, alpha * v)
    u_half, v_half = (_halve(c) / np.maximum(half, 1e-6) for c in weighted)
    return Drawn(x, y, (luma, u_half, v_half), (alpha, half))


def _halve(plane: np.ndarray) -> np.ndarray:
    return plane.reshape(plane.shape[0] // 2, 2, plane.shape[1] // 2, 2).mean(axis=(1, 3))


def _blend(data: np.ndarray, drawn: Drawn) -> np.ndarray:
    """New pixels (a repeated input frame must not be drawn on twice) with the block blended in;
    only the block's rows and columns are converted, so a 1080p frame costs little more than a copy."""
    out = data.copy()
    height, width = data.shape[0] * 2 // 3, data.shape[1]
    luma, u, v = drawn.planes
    alpha, half = drawn.alphas
    n, m = min(height - drawn.y, luma.shape[0]) // 2 * 2, min(width - drawn.x, luma.shape[1]) // 2 * 2
    y_view = out[drawn.y : drawn.y + n, drawn.x : drawn.x + m]
    y_view[:] = _mixed(y_view, luma[:n, :m], alpha[:n, :m])
    chroma = out[height:].reshape(2, height // 2, width // 2)  # a view: U, then V
    rows, cols = slice(drawn.y // 2, drawn.y // 2 + n // 2), slice(drawn.x // 2, drawn.x // 2 + m // 2)
    for plane, colour in ((chroma[0], u), (chroma[1], v)):
        plane[rows, cols] = _mixed(plane[rows, cols], colour[: n // 2, : m // 2], half[: n // 2, : m // 2])
    return out


def _mixed(under: np.ndarray, over: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    base = under.astype(np.float32)
    return (base + (over - base) * alpha + 0.5).clip(0, 255).astype(np.uint8)
