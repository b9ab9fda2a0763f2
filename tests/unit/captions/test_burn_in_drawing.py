"""Drawing burned-in captions, without video: the fonts have the glyphs (no tofu boxes), the text
is shaped (Arabic joined, Hebrew and Arabic laid out right to left), the word highlight moves."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont, features

from autovid.captions.burn_in import CaptionPainter
from autovid.captions.cues import Cue, Piece
from autovid.errors import SpecError
from autovid.spec.fonts import font_path
from autovid.spec.models import BurnIn

PLAIN = BurnIn(outlineWidth=0.0, backgroundOpacity=0.0)


def cue(*words: str, spaced: bool = True) -> Cue:
    return Cue(0.0, 2.0, (tuple(Piece(w, spaced, i * 0.5, i * 0.5 + 0.4) for i, w in enumerate(words)),))


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGBA"))


def glyph(font: ImageFont.FreeTypeFont, char: str) -> np.ndarray:
    image = Image.new("L", (80, 80))
    ImageDraw.Draw(image).text((10, 10), char, font=font, fill=255)
    return np.asarray(image)


def test_pillow_shapes_text_with_raqm() -> None:
    assert features.check("raqm"), "Pillow without libraqm cannot shape RTL or CJK text"


@pytest.mark.parametrize(
    ("language", "text"), [("zh-CN", "你好世界"), ("ja-JP", "こんにちは"), ("he-IL", "שלום"), ("ar", "مرحبا")]
)
def test_the_font_for_the_language_has_every_glyph(language: str, text: str) -> None:
    font = ImageFont.truetype(str(font_path("auto", language)), 48)
    tofu = glyph(font, "\U0010fffd")  # a code point no font has: its .notdef box
    for char in text:
        assert not np.array_equal(glyph(font, char), tofu), f"{char!r} renders as a missing-glyph box"


def test_the_tofu_check_can_fail() -> None:
    latin_only = ImageFont.truetype(str(font_path("DejaVu Sans", None)), 48)
    assert np.array_equal(glyph(latin_only, "你"), glyph(latin_only, "\U0010fffd"))


@pytest.mark.parametrize(("language", "words"), [("he-IL", ("שלום", "עולם")), ("ar", ("مرحبا", "بالعالم"))])
def test_right_to_left_lines_are_shaped_and_ordered(language: str, words: tuple[str, ...]) -> None:
    painter = CaptionPainter([cue(*words)], PLAIN, language, 640, 360)
    block, _ = painter.image(painter.cues[0])
    path, size, top = str(font_path("auto", language)), round(0.05 * 360), round(0.05 * 360 * 0.25)
    shaped = ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.RAQM)
    unshaped = ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)
    text = " ".join(words)

    def drawn(font: ImageFont.FreeTypeFont, what: str, left: float) -> np.ndarray:
        image = Image.new("RGBA", block.size, (0, 0, 0, 0))
        ImageDraw.Draw(image).text((left, top), what, font=font, fill=(255, 255, 255))
        return pixels(image)

    left = (640 - shaped.getlength(text)) / 2
    assert np.array_equal(pixels(block), drawn(shaped, text, left))
    assert not np.array_equal(pixels(block), drawn(unshaped, text, (640 - unshaped.getlength(text)) / 2))
    # The first word (logical order) is drawn at the right end of the line.
    first = drawn(shaped, words[0], left + shaped.getlength(text) - shaped.getlength(words[0]))
    columns = first[..., 3].any(axis=0)
    assert np.array_equal(pixels(block)[:, columns, 3] > 0, first[:, columns, 3] > 0)


def test_the_highlight_moves_from_word_to_word() -> None:
    style = BurnIn(highlightColor="#FFFF00")
    painter = CaptionPainter([cue("one", "two", "three")], style, "en", 640, 360)
    assert painter.state_at(0.1) == (0, 0) and painter.state_at(1.1) == (0, 2)
    assert painter.state_at(2.5) is None

    def yellow_columns(highlight: int) -> np.ndarray:
        rgba = pixels(painter.image(painter.cues[0], highlight)[0])
        mask = (rgba[..., 0] > 200) & (rgba[..., 1] > 200) & (rgba[..., 2] < 80) & (rgba[..., 3] > 200)
        return np.flatnonzero(mask.any(axis=0))

    first, last = yellow_columns(0), yellow_columns(2)
    assert first.size and last.size and first.max() < last.min()


def test_uppercase_and_position() -> None:
    top = CaptionPainter([cue("hello")], BurnIn(position="top", uppercase=True), "en", 640, 360)
    bottom = CaptionPainter([cue("hello")], BurnIn(), "en", 640, 360)
    assert top.image(top.cues[0])[1][1] < 60 < bottom.image(bottom.cues[0])[1][1]
    assert not np.array_equal(pixels(top.image(top.cues[0])[0]), pixels(bottom.image(bottom.cues[0])[0]))


def test_a_font_this_renderer_lacks_names_the_field() -> None:
    with pytest.raises(SpecError) as info:
        font_path("Font Nobody Installed", None)
    assert info.value.errors[0].path == "output.captions.burnIn.font"
    assert "not installed on this renderer" in info.value.errors[0].message
