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

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from autovid.spec.filenames import FILENAME_PATTERN, MAX_FILENAME_CHARS, output_filename_problem
from autovid.spec.rules import cross_field_problems

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
# A bitrate carries its unit (a bare '2500' was once read as 2.5 kbit/s). The ranges are in the
# patterns themselves, so the published schema refuses exactly what validation refuses:
# video at least 100k (or 0.1M); AAC audio 32k-512k (or 0.032M-0.512M).
VIDEO_BITRATE_PATTERN = r"^([1-9][0-9]{2,}(\.[0-9]+)?[kK]|([1-9][0-9]*(\.[0-9]+)?|0\.[1-9][0-9]*)M)$"
AUDIO_BITRATE_PATTERN = (
    r"^(((3[2-9]|[4-9][0-9]|[1-4][0-9]{2}|50[0-9]|51[01])(\.[0-9]+)?|512(\.0+)?)[kK]"
    r"|0\.(03[2-9][0-9]*|0[4-9][0-9]*|[1-4][0-9]*|5(0[0-9]*|1([01][0-9]*|20*)?)?)M)$"
)
BITRATE_PATTERN = r"^[0-9]+(\.[0-9]+)?[kKM]$"
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
    """Every spec model: unknown fields refused, and JSON types taken as the published schema
    states them (strict: no '1.5' or true for a number; no NaN or Infinity anywhere)."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, str_strip_whitespace=True, strict=True, allow_inf_nan=False
    )


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
    bitrate: Annotated[str, Field(pattern=VIDEO_BITRATE_PATTERN, max_length=16)] | None = None
    audio_bitrate: Annotated[str, Field(pattern=AUDIO_BITRATE_PATTERN, max_length=16)] | None = None
    fps: Annotated[float, Field(gt=0, le=120)] | None = None

    def video_bitrate_bps(self) -> int | None:
        return parse_bitrate(self.bitrate) if self.bitrate else None

    def audio_bitrate_bps(self) -> int | None:
        return parse_bitrate(self.audio_bitrate) if self.audio_bitrate else None


LOUDNESS_PRESETS = {"web": -14.0, "podcast": -16.0, "broadcast": -23.0}
_TARGET_RULE = "must be an integrated loudness in LUFS from -40 to -5, or one of " + ", ".join(
    f"'{name}' ({lufs:g})" for name, lufs in LOUDNESS_PRESETS.items()
)
_TRUE_PEAK_RULE = "must be a true-peak ceiling in dBTP from -10 to 0 (the default is -1)"


class Loudness(_Model):
    """Normalise the whole mix to an integrated loudness (ITU-R BS.1770), peaks under a ceiling."""

    target: Annotated[float, Field(ge=-40.0, le=-5.0)] | Literal["web", "podcast", "broadcast"] = Field(
        description="LUFS (-40 to -5), or 'web' (-14), 'podcast' (-16), 'broadcast' (-23, EBU R128)"
    )
    truePeak: Annotated[float, Field(ge=-10.0, le=0.0)] = Field(
        default=-1.0, description="the highest true peak allowed, dBTP"
    )

    @field_validator("target", mode="wrap")
    @classmethod
    def _target_rule(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, bool):
            raise ValueError(_TARGET_RULE)
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(_TARGET_RULE) from None

    @field_validator("truePeak", mode="wrap")
    @classmethod
    def _true_peak_rule(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, bool):
            raise ValueError(_TRUE_PEAK_RULE)
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(_TRUE_PEAK_RULE) from None

    @property
    def target_lufs(self) -> float:
        return LOUDNESS_PRESETS[self.target] if isinstance(self.target, str) else float(self.target)


class Output(_Model):
    filename: Annotated[
        str,
        Field(min_length=1, max_length=MAX_FILENAME_CHARS, json_schema_extra={"pattern": FILENAME_PATTERN}),
    ]
    destination: Annotated[str, Field(max_length=2048)] | None = None
    encoding: Encoding = Encoding()
    loudness: Loudness | None = None

    @field_validator("filename")
    @classmethod
    def _plain_mp4_name(cls, value: str) -> str:
        problem = output_filename_problem(value)
        if problem:
            raise ValueError(problem)
        if not value.lower().endswith(".mp4"):
            value += ".mp4"
        return value

    @field_validator("destination")
    @classmethod
    def _named_destination(cls, value: str | None) -> str | None:
        # A destination ending in .mp4 names the file itself: the same rule as ``filename``.
        if value is not None and value.lower().endswith(".mp4"):
            problem = output_filename_problem(value.rsplit("/", 1)[-1])
            if problem:
                raise ValueError(f"its file name {problem}")
        return value


MetadataValue = str | int | float | bool
HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"


class Webhook(_Model):
    # The schema admits http:// too: a deployment may allow it (AUTOVID_ALLOW_HTTP).
    url: Annotated[
        str, Field(min_length=1, max_length=2048, json_schema_extra={"pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"})
    ]
    method: Literal["POST", "PUT"] = "POST"
    headers: Annotated[
        dict[str, str], Field(json_schema_extra={"propertyNames": {"pattern": HEADER_NAME}})
    ] = {}
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
            if not re.fullmatch(HEADER_NAME, name):
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
        # The same rules run on the raw document when a schema error stops pydantic before this
        # point (spec.validation), so one pass reports both kinds of problem.
        problems = cross_field_problems(self.model_dump(by_alias=True))
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


def parse_bitrate(text: str) -> int:
    """'2500k' -> 2_500_000, '5M' -> 5_000_000 (bits per second); the unit is required."""
    if not re.fullmatch(BITRATE_PATTERN, text):
        raise ValueError(f"invalid bitrate '{text}'; give a number with a unit, such as '2500k' or '5M'")
    scale = 1_000_000 if text.endswith("M") else 1_000
    return round(float(text[:-1]) * scale)


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
