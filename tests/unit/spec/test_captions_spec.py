"""The output.captions fields: defaults, and a clear error naming each bad field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from autovid.errors import SpecError
from autovid.spec.validation import parse_spec

BASE: dict[str, Any] = {
    "assets": {"video": {"id": "main", "source": "in.mp4"}, "audio": [{"id": "vo", "source": "vo.wav"}]},
    "timeline": [
        {"start": 0, "type": "tts", "data": {"text": "Hello there."}},
        {"start": 2, "type": "audio", "data": {"assetId": "vo"}},
    ],
    "output": {"filename": "out"},
}


def with_captions(settings: dict[str, Any], **assets: Any) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    spec["output"]["captions"] = settings
    spec["assets"].update(assets)
    return spec


def errors_of(spec: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        parse_spec(spec)
    return {d.path: d.message for d in info.value.errors}


def test_defaults_follow_broadcast_practice() -> None:
    captions = parse_spec(with_captions({})).output.captions
    assert captions is not None
    assert (captions.formats, captions.track, captions.language) == (["srt", "vtt"], True, None)
    assert (captions.maxCharsPerLine, captions.maxLines, captions.maxCharsPerSecond) == (42, 2, 20.0)
    assert (captions.minDuration, captions.maxDuration, captions.burnIn) == (0.8, 7.0, None)


def test_a_spec_without_captions_is_unchanged() -> None:
    spec = parse_spec(copy.deepcopy(BASE))
    assert spec.output.captions is None and spec.timeline[0].data.captions is True


def test_max_chars_per_line_zero_is_refused() -> None:
    errors = errors_of(with_captions({"maxCharsPerLine": 0}))
    assert errors["output.captions.maxCharsPerLine"] == "must be at least 8"


def test_an_unknown_font_lists_the_fonts() -> None:
    errors = errors_of(with_captions({"burnIn": {"font": "Comic Sans"}}))
    message = errors["output.captions.burnIn.font"]
    assert "unknown font 'Comic Sans'" in message and "'DejaVu Sans'" in message


def test_a_captions_asset_must_be_a_subtitle_file() -> None:
    spec = with_captions({}, captions=[{"id": "subs", "source": "subs.mp3"}])
    spec["timeline"][1]["data"]["captionsAssetId"] = "subs"
    errors = errors_of(spec)
    assert errors["assets.captions[0].source"] == "must be an SRT or WebVTT file (.srt or .vtt)"


def test_an_unknown_captions_asset_id_lists_the_known_ones() -> None:
    spec = with_captions({}, captions=[{"id": "subs", "source": "subs.vtt"}])
    spec["timeline"][1]["data"]["captionsAssetId"] = "other"
    assert "known captions asset ids: 'subs'" in errors_of(spec)["timeline[1].data.captionsAssetId"]


def test_colours_formats_and_durations_are_checked() -> None:
    errors = errors_of(
        with_captions(
            {"formats": ["srt", "srt"], "minDuration": 5, "maxDuration": 2, "burnIn": {"color": "red"}}
        )
    )
    assert "lists a format twice" in errors["output.captions.formats"]
    assert "must match pattern" in errors["output.captions.burnIn.color"]


def test_marked_ssml_shows_what_is_said_and_marks_every_word() -> None:
    from autovid.spec.ssml import mark_name, marked_ssml

    ssml = (
        '<speak>Visit <sub alias="World Wide Web">WWW</sub> &amp; '
        '<say-as interpret-as="characters">abc</say-as>'
        '<break time="1s"/><amazon:effect name="whispered">quietly</amazon:effect>.</speak>'
    )
    document, spoken, positions = marked_ssml(ssml)
    assert spoken == "Visit World Wide Web & abc quietly."
    # A mark before each word; text right after an element (the ".") is marked too, inside its word.
    assert [spoken[p:].split()[0] for p in positions] == ["Visit", "World", "&", "abc", "quietly.", "."]
    assert all(f'<mark name="{mark_name(i)}" />' in document for i in range(len(positions)))
    assert '<sub alias="World Wide Web">WWW</sub>' in document  # the engine still says the alias
    espeak_document, espeak_spoken, _ = marked_ssml(ssml, for_espeak=True)
    assert "amazon:" not in espeak_document and espeak_spoken.split() == spoken.split()
