"""The job spec validator: reference specs stay valid; each bad input gets its own clear message."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from autovid.errors import SpecError
from autovid.spec.models import JobSpec, SpecLimits, parse_bitrate
from autovid.spec.validation import format_path, parse_spec

MINIMAL: dict[str, Any] = {
    "assets": {
        "video": {"id": "main", "source": "in.mp4"},
        "audio": [{"id": "music", "source": "m.mp3"}, {"id": "sfx", "source": "s.wav"}],
    },
    "backgroundMusic": {"playlist": ["music"]},
    "timeline": [
        {"start": 1, "type": "audio", "data": {"assetId": "sfx"}},
        {"start": 2, "type": "tts", "data": {"text": "Hello there."}},
    ],
    "output": {"filename": "out"},
}


def errors_of(spec: dict[str, Any], limits: SpecLimits | None = None) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        parse_spec(spec, limits)
    return {d.path: d.message for d in info.value.errors}


def variant(**edits: Any) -> dict[str, Any]:
    spec = copy.deepcopy(MINIMAL)
    for dotted, value in edits.items():
        target: Any = spec
        parts = [int(p) if p.isdigit() else p for p in dotted.split("__")]
        for part in parts[:-1]:
            target = target[part]
        target[parts[-1]] = value
    return spec


def test_reference_specs_validate_unchanged(reference_specs: list[Path]) -> None:
    for path in reference_specs:
        spec = parse_spec(path.read_bytes())
        assert spec.output.filename.endswith(".mp4"), path


def test_defaults_follow_the_design() -> None:
    spec = parse_spec(MINIMAL)
    music = spec.backgroundMusic
    assert music and (music.loop, music.volume, music.crossfadeDuration) == (True, 0.3, 2.0)
    audio, tts = spec.timeline
    assert audio.data.volume == 0.5 and audio.data.duckingLevel is None
    assert tts.data.volume == 1.0 and tts.data.duckingFadeDuration == 0.5
    config = tts.data.providerConfig
    assert (config.voiceId, config.engine, config.textType) == ("Joanna", "neural", "text")
    assert spec.output.filename == "out.mp4" and spec.output.encoding.preset == "medium"
    assert spec.assets.video.volume == 0.0


def test_unknown_asset_id_lists_the_known_ids() -> None:
    errors = errors_of(variant(timeline__0__data__assetId="boom"))
    message = errors["timeline[0].data.assetId"]
    assert "'boom'" in message and "'music'" in message and "'sfx'" in message


def test_unknown_playlist_id_is_named() -> None:
    errors = errors_of(variant(backgroundMusic__playlist=["music", "nope"]))
    assert "unknown audio asset id 'nope'" in errors["backgroundMusic.playlist[1]"]


def test_duplicate_asset_id() -> None:
    spec = variant()
    spec["assets"]["audio"].append({"id": "music", "source": "other.mp3"})
    assert "duplicate asset id 'music'" in errors_of(spec)["assets.audio[2].id"]


def test_the_video_id_counts_as_taken() -> None:
    spec = variant()
    spec["assets"]["audio"].append({"id": "main", "source": "other.mp3"})
    assert "duplicate" in errors_of(spec)["assets.audio[2].id"]


def test_empty_playlist() -> None:
    assert "at least 1" in errors_of(variant(backgroundMusic__playlist=[]))["backgroundMusic.playlist"]


def test_negative_start() -> None:
    message = errors_of(variant(timeline__1__start=-0.5))["timeline[1].start"]
    assert message == "must be at least 0"


@pytest.mark.parametrize("bitrate", ["fast", "25x", "-3k", "0", "k"])
def test_bad_bitrate_string(bitrate: str) -> None:
    spec = variant(output__encoding={"bitrate": bitrate})
    assert "'2500k'" in errors_of(spec)["output.encoding.bitrate"]


@pytest.mark.parametrize(("text", "bps"), [("2500k", 2_500_000), ("5M", 5_000_000), ("0.128M", 128_000)])
def test_bitrates_parse(text: str, bps: int) -> None:
    assert parse_bitrate(text) == bps


def test_malformed_ssml() -> None:
    spec = variant(
        timeline__1__data={
            "text": "<speak>Hello <break time='1s'></speak>",
            "providerConfig": {"textType": "ssml"},
        }
    )
    assert "SSML" in errors_of(spec)["timeline[1].data.text"]


def test_unknown_polly_voice() -> None:
    spec = variant(timeline__1__data={"text": "Hi", "providerConfig": {"voiceId": "Nobody"}})
    assert "unknown Amazon Polly voice 'Nobody'" in errors_of(spec)["timeline[1].data.providerConfig.voiceId"]


def test_voice_that_lacks_the_engine_names_its_engines() -> None:
    spec = variant(
        timeline__1__data={"text": "Hi", "providerConfig": {"voiceId": "Matthew", "engine": "long-form"}}
    )
    message = errors_of(spec)["timeline[1].data.providerConfig.engine"]
    assert "does not support the 'long-form' engine" in message and "neural" in message


def test_unknown_event_type() -> None:
    spec = variant(timeline__0={"start": 0, "type": "video", "data": {}})
    assert errors_of(spec)["timeline[0]"] == "must be 'tts' or 'audio'"


def test_unknown_top_level_key_is_refused_but_schema_is_allowed() -> None:
    assert errors_of(variant(extra=1))["extra"].startswith("is not a known field; allowed here: $schema, ")
    assert parse_spec(variant(**{"$schema": "./spec.schema.json"}))


def test_missing_required_fields() -> None:
    errors = errors_of({"assets": MINIMAL["assets"]})
    assert errors["timeline"] == "is required" and errors["output"] == "is required"


@pytest.mark.parametrize("name", ["../evil.mp4", "a/b.mp4", "a\\b.mp4"])
def test_output_filename_has_no_path(name: str) -> None:
    assert "without '/' or '\\'" in errors_of(variant(output__filename=name))["output.filename"]


def test_webhook_must_be_https_unless_development() -> None:
    spec = variant(notifications={"webhook": {"url": "http://example.com/hook"}})
    assert "https" in errors_of(spec)["notifications.webhook.url"]
    assert parse_spec(spec, SpecLimits(allow_http_webhooks=True))


def test_webhook_header_and_metadata_size_limits() -> None:
    hook = {"url": "https://example.com/h", "headers": {"X-A": "a" * 2000}, "metadata": {"k": "v" * 30}}
    errors = errors_of(variant(notifications={"webhook": hook}), SpecLimits(webhook_max_metadata_size=20))
    assert "at most 1024" in errors["notifications.webhook.headers"]
    assert "at most 20" in errors["notifications.webhook.metadata"]


def test_not_json_and_not_an_object() -> None:
    with pytest.raises(SpecError, match="not valid JSON"):
        parse_spec(b"{nope")
    with pytest.raises(SpecError, match="JSON object"):
        parse_spec("[1, 2]")


def test_format_path() -> None:
    assert format_path(("timeline", 2, "data", "assetId")) == "timeline[2].data.assetId"
    assert format_path(()) == "$"


def test_json_schema_exports_the_client_names() -> None:
    schema = JobSpec.model_json_schema(by_alias=True)
    assert {"assets", "timeline", "output"} <= set(schema["required"])
    assert "$schema" in schema["properties"]
    json.dumps(schema)
