"""The job spec (docs/SPEC.md) as pydantic models.

Field names are the JSON names (camelCase) so that the models, the JSON Schema and the error
paths all speak the client's language. Cross-field rules (ids, voices, SSML, webhook sizes) live
in the ``JobSpec`` validator; limits that come from configuration arrive through ``SpecLimits``
as validation context.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from autovid.spec.ssml import ssml_problem
from autovid.spec.voices import engine_problem, find_voice, language_problem, unknown_voice_message

Volume = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(ge=0.0, le=86_400.0)]
FadeSeconds = Annotated[float, Field(ge=0.0, le=60.0)]

X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)
BITRATE_PATTERN = r"^[1-9][0-9]*(\.[0-9]+)?[kKmM]?$"
ASSET_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
MAX_TTS_TEXT_CHARS = 100_000
MAX_TIMELINE_EVENTS = 1_000


@dataclass(frozen=True)
class SpecLimits:
    """Deployment-dependent limits, passed to validation as context."""

    webhook_max_headers_size: int = 1024
    webhook_max_metadata_size: int = 1024
    allow_http_webhooks: bool = False


def _limits(info: ValidationInfo) -> SpecLimits:
    context = info.context or {}
    limits = context.get("limits") if isinstance(context, dict) else None
    return limits if isinstance(limits, SpecLimits) else SpecLimits()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)


class JobInfo(_Model):
    projectId: Annotated[str, Field(max_length=100)] | None = None
    title: Annotated[str, Field(max_length=200)] | None = None
    tags: Annotated[list[Annotated[str, Field(max_length=50)]], Field(max_length=10)] = []


class AudioAsset(_Model):
    id: Annotated[str, Field(pattern=ASSET_ID_PATTERN)]
    source: Annotated[str, Field(min_length=1, max_length=2048)]


class VideoAsset(AudioAsset):
    volume: Volume = Field(
        default=0.0,
        description="Level (0-1) at which the video's own audio stays in the mix; 0 drops it.",
    )


class Assets(_Model):
    video: VideoAsset
    audio: Annotated[list[AudioAsset], Field(max_length=200)] = []


class BackgroundMusic(_Model):
    playlist: Annotated[list[str], Field(min_length=1, max_length=100)]
    loop: bool = True
    volume: Volume = 0.3
    crossfadeDuration: FadeSeconds = 2.0


class ProviderConfig(_Model):
    voiceId: Annotated[str, Field(min_length=1, max_length=64)] = "Joanna"
    engine: Literal["standard", "neural", "long-form", "generative"] = "neural"
    languageCode: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] | None = None
    textType: Literal["text", "ssml"] = "text"


class _Ducking(_Model):
    duckingLevel: Volume | None = None
    duckingFadeDuration: FadeSeconds = 0.5


class TtsData(_Ducking):
    text: Annotated[str, Field(min_length=1, max_length=MAX_TTS_TEXT_CHARS)]
    provider: Literal["aws-polly", "espeak-ng"] = "aws-polly"
    providerConfig: ProviderConfig = ProviderConfig()
    volume: Volume = 1.0


class AudioData(_Ducking):
    assetId: Annotated[str, Field(min_length=1)]
    volume: Volume = 0.5


class TtsEvent(_Model):
    start: Seconds
    type: Literal["tts"]
    data: TtsData


class AudioEvent(_Model):
    start: Seconds
    type: Literal["audio"]
    data: AudioData


TimelineEvent = Annotated[TtsEvent | AudioEvent, Field(discriminator="type")]


class Encoding(_Model):
    preset: Literal[X264_PRESETS] = "medium"  # type: ignore[valid-type]
    bitrate: Annotated[str, Field(pattern=BITRATE_PATTERN)] | None = None
    audio_bitrate: Annotated[str, Field(pattern=BITRATE_PATTERN)] | None = None
    fps: Annotated[float, Field(gt=0, le=120)] | None = None

    def video_bitrate_bps(self) -> int | None:
        return parse_bitrate(self.bitrate) if self.bitrate else None

    def audio_bitrate_bps(self) -> int | None:
        return parse_bitrate(self.audio_bitrate) if self.audio_bitrate else None


class Output(_Model):
    filename: Annotated[str, Field(min_length=1, max_length=200)]
    destination: Annotated[str, Field(max_length=2048)] | None = None
    encoding: Encoding = Encoding()

    @field_validator("filename")
    @classmethod
    def _plain_mp4_name(cls, value: str) -> str:
        if "/" in value or "\\" in value or value in (".", "..") or "\x00" in value:
            raise ValueError("must be a plain file name without path separators")
        if not value.lower().endswith(".mp4"):
            value += ".mp4"
        return value


MetadataValue = str | int | float | bool


class Webhook(_Model):
    url: Annotated[str, Field(min_length=1, max_length=2048)]
    method: Literal["POST", "PUT"] = "POST"
    headers: dict[str, str] = {}
    metadata: dict[str, MetadataValue] = {}

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str, info: ValidationInfo) -> str:
        allowed = ("https://", "http://") if _limits(info).allow_http_webhooks else ("https://",)
        if not value.lower().startswith(allowed):
            raise ValueError(f"must be an {' or '.join(a[:-3] for a in allowed)} URL")
        return value

    @field_validator("headers")
    @classmethod
    def _headers_size(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        limit = _limits(info).webhook_max_headers_size
        if _json_size(value) > limit:
            raise ValueError(f"is {_json_size(value)} bytes as JSON; at most {limit} allowed")
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
                raise ValueError(f"'{name}' is not a valid HTTP header name")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        limit = _limits(info).webhook_max_metadata_size
        if _json_size(value) > limit:
            raise ValueError(f"is {_json_size(value)} bytes as JSON; at most {limit} allowed")
        return value


class Notifications(_Model):
    webhook: Webhook | None = None


class JobSpec(_Model):
    """A whole job: what to lay over which video, and where the result goes."""

    schema_: str | None = Field(default=None, alias="$schema")
    jobInfo: JobInfo | None = None
    assets: Assets
    backgroundMusic: BackgroundMusic | None = None
    timeline: Annotated[list[TimelineEvent], Field(max_length=MAX_TIMELINE_EVENTS)]
    output: Output
    notifications: Notifications | None = None

    @model_validator(mode="after")
    def _cross_field_rules(self) -> JobSpec:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        audio_ids = [a.id for a in self.assets.audio]
        seen = {self.assets.video.id}
        for i, asset in enumerate(self.assets.audio):
            if asset.id in seen:
                problems.append(
                    (("assets", "audio", i, "id"), f"duplicate asset id '{asset.id}'; ids must be unique")
                )
            seen.add(asset.id)
        known = ", ".join(f"'{a}'" for a in audio_ids) or "none (assets.audio is empty)"
        if self.backgroundMusic:
            for i, track in enumerate(self.backgroundMusic.playlist):
                if track not in audio_ids:
                    problems.append(
                        (
                            ("backgroundMusic", "playlist", i),
                            f"unknown audio asset id '{track}'; known audio asset ids: {known}",
                        )
                    )
        for i, event in enumerate(self.timeline):
            if isinstance(event, AudioEvent) and event.data.assetId not in audio_ids:
                problems.append(
                    (
                        ("timeline", i, "data", "assetId"),
                        f"unknown audio asset id '{event.data.assetId}'; known audio asset ids: {known}",
                    )
                )
            if isinstance(event, TtsEvent):
                problems.extend((("timeline", i, "data", *p), m) for p, m in _tts_problems(event.data))
        if problems:
            raise _CrossFieldErrors(problems)
        return self

    @property
    def audio_assets(self) -> dict[str, AudioAsset]:
        return {a.id: a for a in self.assets.audio}


class _CrossFieldErrors(ValueError):
    """Carries several located problems out of a model validator (see ``spec.validation``)."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(m for _, m in problems))


def _tts_problems(data: TtsData) -> list[tuple[tuple[str, ...], str]]:
    problems: list[tuple[tuple[str, ...], str]] = []
    config = data.providerConfig
    if config.textType == "ssml":
        problem = ssml_problem(data.text)
        if problem:
            problems.append((("text",), problem))
    if data.provider == "aws-polly":
        voice = find_voice(config.voiceId)
        if voice is None:
            problems.append((("providerConfig", "voiceId"), unknown_voice_message(config.voiceId)))
        else:
            engine = engine_problem(voice, config.engine)
            if engine:
                problems.append((("providerConfig", "engine"), engine))
            language = language_problem(voice, config.languageCode)
            if language:
                problems.append((("providerConfig", "languageCode"), language))
    return problems


def parse_bitrate(text: str) -> int:
    """'2500k' -> 2_500_000, '5M' -> 5_000_000, '128000' -> 128_000 (bits per second)."""
    match = re.fullmatch(BITRATE_PATTERN, text)
    if not match:
        raise ValueError(f"invalid bitrate '{text}'")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    number = text[:-1] if scale != 1 else text
    return int(float(number) * scale)


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
