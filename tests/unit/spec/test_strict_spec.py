"""The spec as a newcomer meets it: strict JSON types, bitrates with units, one pass over every
problem, messages that point at the fix, output names and SSML that cannot hurt the worker."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from autovid.spec.filenames import FILENAME_PATTERN, output_filename_problem
from autovid.spec.models import AUDIO_BITRATE_PATTERN, VIDEO_BITRATE_PATTERN, parse_bitrate
from autovid.spec.ssml import strip_for_espeak
from tests.unit.spec.test_validation import errors_of

BASE: dict[str, Any] = {
    "assets": {
        "video": {"id": "main", "source": "in.mp4"},
        "audio": [{"id": "music", "source": "m.mp3"}, {"id": "sfx", "source": "s.wav"}],
    },
    "backgroundMusic": {"playlist": ["music"]},
    "timeline": [
        {"start": 1, "type": "audio", "data": {"assetId": "sfx"}},
        {"start": 2, "type": "tts", "data": {"text": "Hello.", "providerConfig": {"languageCode": "en-US"}}},
    ],
    "output": {"filename": "out.mp4"},
}


def spec_with(**edits: Any) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    for dotted, value in edits.items():
        target: Any = spec
        parts = [int(p) if p.isdigit() else p for p in dotted.split("__")]
        for part in parts[:-1]:
            target = target.setdefault(part, {}) if isinstance(part, str) else target[part]
        target[parts[-1]] = value
    return spec


@pytest.mark.parametrize("start", ["1.5", True, None, [1]])
def test_numbers_are_not_coerced(start: Any) -> None:
    message = errors_of(spec_with(timeline__0__start=start))["timeline[0].start"]
    assert message.startswith("must be a number, not ")
    assert "Input should" not in message and "unable to parse" not in message


def test_a_number_is_not_accepted_for_a_string_or_a_boolean() -> None:
    errors = errors_of(spec_with(backgroundMusic__loop=1, output__filename=7))
    assert errors["backgroundMusic.loop"] == "must be true or false, not a number"
    assert errors["output.filename"] == "must be a string, not a number"


@pytest.mark.parametrize("text", ['{"start": NaN}', '{"start": Infinity}', '{"start": -Infinity}'])
def test_nan_and_infinity_are_refused_with_their_path(text: str) -> None:
    raw = json.dumps(BASE).replace('{"start": 1', text[:-1], 1)
    message = errors_of(raw)["timeline[0].start"]
    assert "finite number" in message and "86400" not in message


def test_nan_in_webhook_metadata_is_refused() -> None:
    spec = spec_with(notifications={"webhook": {"url": "https://example.com/h", "metadata": {"x": 1}}})
    raw = json.dumps(spec).replace('{"x": 1}', '{"ok": 1, "x": NaN}')
    errors = errors_of(raw)
    assert list(errors) == ["notifications.webhook.metadata.x"]
    assert "finite number" in errors["notifications.webhook.metadata.x"]


@pytest.mark.parametrize("bitrate", ["2500", "12", "99k", "0.05M", "2500 k", "2.5m"])
def test_video_bitrate_needs_a_unit_and_at_least_100k(bitrate: str) -> None:
    message = errors_of(spec_with(output__encoding={"bitrate": bitrate}))["output.encoding.bitrate"]
    assert "'2500k'" in message and "100k" in message


@pytest.mark.parametrize("bitrate", ["192", "31k", "513k", "512.5k", "1M", "0.02M"])
def test_audio_bitrate_needs_a_unit_and_32k_to_512k(bitrate: str) -> None:
    message = errors_of(spec_with(output__encoding={"audio_bitrate": bitrate}))[
        "output.encoding.audio_bitrate"
    ]
    assert "32k to 512k" in message and "'128k'" in message


def test_bitrate_patterns_hold_exactly_the_ranges() -> None:
    for kbps in [x / 2 for x in range(0, 2 * 1200)]:
        for text in (f"{kbps:g}k", f"{kbps / 1000:g}M"):
            if "e" in text:
                continue
            audio = re.fullmatch(AUDIO_BITRATE_PATTERN, text) is not None
            video = re.fullmatch(VIDEO_BITRATE_PATTERN, text) is not None
            assert audio == (32 <= kbps <= 512), text
            assert video == (kbps >= 100), text
            if audio or video:
                assert parse_bitrate(text) == round(kbps * 1000), text


def test_every_problem_in_one_pass() -> None:
    spec = spec_with(timeline__0__start="1.5", timeline__0__data={"assetId": "sfxx"})
    spec["backgroundMusic"]["playlist"] = ["music", "musik"]
    spec["timeline"][1]["data"]["providerConfig"]["voiceId"] = "Joana"
    spec["output"]["encoding"] = {"preset": "mediun"}
    errors = errors_of(spec)
    assert set(errors) == {
        "timeline[0].start",
        "timeline[0].data.assetId",
        "backgroundMusic.playlist[1]",
        "timeline[1].data.providerConfig.voiceId",
        "output.encoding.preset",
    }


def test_unknown_field_suggests_the_closest_name_and_lists_the_allowed() -> None:
    spec = spec_with(timeline__0__data={"assetId": "sfx", "duckinglevel": 0.2})
    message = errors_of(spec)["timeline[0].data.duckinglevel"]
    assert "did you mean 'duckingLevel'?" in message
    assert "duckingLevel, duckingFadeDuration, assetId, volume" in message
    tts = errors_of(spec_with(timeline__1__data__providerConfig__voiceID="Joanna"))
    assert "did you mean 'voiceId'?" in tts["timeline[1].data.providerConfig.voiceID"]


def test_unknown_voice_lists_the_voices_of_the_specs_language() -> None:
    spec = spec_with(timeline__1__data__providerConfig={"voiceId": "Madeleine", "languageCode": "fr-FR"})
    message = errors_of(spec)["timeline[1].data.providerConfig.voiceId"]
    assert "unknown Amazon Polly voice 'Madeleine'" in message
    assert "Voices for fr-FR: " in message and "Celine" in message and "Lea" in message
    assert "Joanna" not in message


@pytest.mark.parametrize("name", [".mp4", ".hidden.mp4", "...", "a" * 200, "evil\u202ecod.mp4", "a\tb.mp4"])
def test_output_filename_rule_refuses_at_submit(name: str) -> None:
    assert "output.filename" in errors_of(spec_with(output__filename=name))


def test_destination_that_names_the_file_follows_the_same_rule() -> None:
    errors = errors_of(spec_with(output__destination="renders/.hidden.mp4"))
    assert errors["output.destination"].startswith("its file name must not start with '.'")


def test_filename_pattern_in_the_schema_is_the_same_rule() -> None:
    names = ["ok.mp4", "x", "é clip.mp4", ".x", "a/b", "a\\b", "a..b.mp4", "\u200bx", "x\u2066", "a\x7f"]
    names += [chr(c) + "x" for c in range(0, 0x3000, 7)]
    for name in names:
        assert (re.fullmatch(FILENAME_PATTERN, name) is not None) == (
            output_filename_problem(name) is None
        ), name


def test_deep_ssml_is_refused_at_submit_not_in_the_worker() -> None:
    deep = "<speak>" + "<p>" * 5000 + "hi" + "</p>" * 5000 + "</speak>"
    spec = spec_with(timeline__1__data={"text": deep, "providerConfig": {"textType": "ssml"}})
    assert "levels deep" in errors_of(spec)["timeline[1].data.text"]
    ok = "<speak>" + "<prosody rate='slow'>" * 90 + "hi" + "</prosody>" * 90 + "</speak>"
    assert "hi" in strip_for_espeak(ok)
