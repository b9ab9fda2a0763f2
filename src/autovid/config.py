"""One settings object for every entrypoint, read from the environment (docs/SETTINGS.md).

The AWS deployment's variables keep their names (``S3_BUCKET_NAME``, ``LOG_LEVEL``, …); local settings use
the ``AUTOVID_`` prefix. Bad values are refused at start-up, not at the first job.

Every setting is a scalar under one or two variable names, so a plain pydantic model reads them:
values given to ``Settings(...)`` (by field or variable name) come first, then the environment
(names matched without regard to case), then the defaults. pydantic-settings did the same at the
price of ~40 ms of imports (asyncio, dotenv, cloud secret stores) in every process — a few per
cent of a one-minute ``autovid render``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from autovid.render.limits import RenderLimits
from autovid.spec.models import SpecLimits


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


def _variable_names(alias: object) -> list[str]:
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return [alias] if isinstance(alias, str) else []


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    # --- AWS names ------------------------------------------------------------------------------
    s3_bucket_name: str | None = Field(None, validation_alias=_env("S3_BUCKET_NAME"))
    aws_region: str = Field("us-east-1", validation_alias=AliasChoices("APP_AWS_REGION", "AWS_REGION"))
    webhook_max_headers_size: int = Field(1024, ge=0, validation_alias=_env("WEBHOOK_MAX_HEADERS_SIZE"))
    webhook_max_metadata_size: int = Field(1024, ge=0, validation_alias=_env("WEBHOOK_MAX_METADATA_SIZE"))
    presigned_url_expiration_s: int = Field(
        86_400, ge=1, le=604_800, validation_alias=_env("S3_PRESIGNED_URL_EXPIRATION")
    )
    jobs_ttl_s: int = Field(604_800, ge=60, validation_alias=_env("DYNAMODB_JOBS_TTL_SECONDS"))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=_env("LOG_LEVEL")
    )

    # --- deployment ----------------------------------------------------------------------------
    backend: Literal["embedded", "aws"] = Field("embedded", validation_alias=_env("AUTOVID_BACKEND"))
    speech_engine: Literal["espeak", "polly"] | None = Field(  # never None once validated
        None,
        validation_alias=_env("AUTOVID_TTS_ENGINE"),
        description="default: espeak embedded, polly on AWS",
    )
    data_dir: Path = Field(Path("./autovid-data"), validation_alias=_env("AUTOVID_DATA_DIR"))
    cache_dir: Path | None = Field(None, validation_alias=_env("AUTOVID_CACHE_DIR"))
    segment_cache_dir: Path | None = Field(
        None,
        validation_alias=_env("AUTOVID_SEGMENT_CACHE_DIR"),
        description="default: segments/ in the speech cache's folder",
    )
    segment_cache_bytes: int = Field(
        256 * 1024**2, ge=0, validation_alias=_env("AUTOVID_SEGMENT_CACHE_BYTES")
    )
    host: str = Field("127.0.0.1", validation_alias=_env("AUTOVID_HOST"))
    port: int = Field(8000, ge=0, le=65535, validation_alias=_env("AUTOVID_PORT"))
    public_url: str | None = Field(
        None, validation_alias=_env("AUTOVID_PUBLIC_URL"), description="base of signed output URLs"
    )
    workers: int | None = Field(None, ge=0, le=64, validation_alias=_env("AUTOVID_WORKERS"))
    render_threads: int | None = Field(
        None,
        ge=1,
        le=64,
        validation_alias=_env("AUTOVID_RENDER_THREADS"),
        description="AAC encoders a render runs at once; default: the cores, shared among a server's workers",
    )
    secret_key: SecretStr | None = Field(None, validation_alias=_env("AUTOVID_SECRET_KEY"))
    webhook_secret: SecretStr | None = Field(None, validation_alias=_env("AUTOVID_WEBHOOK_SECRET"))

    # --- jobs ----------------------------------------------------------------------------------
    job_timeout_s: float = Field(840.0, gt=0, validation_alias=_env("AUTOVID_JOB_TIMEOUT"))
    lease_s: float = Field(60.0, gt=0, validation_alias=_env("AUTOVID_LEASE_SECONDS"))
    max_receives: int = Field(3, ge=1, le=100, validation_alias=_env("AUTOVID_MAX_RECEIVES"))
    retry_base_delay_s: float = Field(5.0, ge=0, validation_alias=_env("AUTOVID_RETRY_BASE_DELAY"))
    max_body_bytes: int = Field(1_048_576, ge=1024, validation_alias=_env("AUTOVID_MAX_BODY_BYTES"))
    max_upload_bytes: int = Field(2 * 1024**3, ge=1024, validation_alias=_env("AUTOVID_MAX_UPLOAD_BYTES"))
    batch_max_rows: int = Field(10_000, ge=1, le=100_000, validation_alias=_env("AUTOVID_BATCH_MAX_ROWS"))
    batch_max_body_bytes: int = Field(
        10 * 1024**2, ge=1024, validation_alias=_env("AUTOVID_BATCH_MAX_BODY_BYTES")
    )
    # A cancel answers within API Gateway's 29 s; workers cancel the queued rows it left.
    batch_cancel_s: float = Field(10.0, ge=0, le=25, validation_alias=_env("AUTOVID_BATCH_CANCEL_SECONDS"))

    # --- fetching assets -----------------------------------------------------------------------
    max_asset_bytes: int = Field(2 * 1024**3, ge=1024, validation_alias=_env("AUTOVID_MAX_ASSET_BYTES"))
    fetch_timeout_s: float = Field(30.0, gt=0, validation_alias=_env("AUTOVID_FETCH_TIMEOUT"))
    fetch_retries: int = Field(3, ge=0, le=10, validation_alias=_env("AUTOVID_FETCH_RETRIES"))
    allow_private_urls: bool = Field(
        False,
        validation_alias=_env("AUTOVID_ALLOW_PRIVATE_URLS"),
        description="development only: allow fetching from and posting to loopback/private addresses",
    )
    allow_http: bool = Field(
        False,
        validation_alias=_env("AUTOVID_ALLOW_HTTP"),
        description="development only: allow plain http:// asset and webhook URLs",
    )

    s3_source_buckets: tuple[str, ...] = Field(
        (),
        validation_alias=_env("AUTOVID_S3_SOURCE_BUCKETS"),
        description="comma-separated buckets s3:// sources may name (on AWS besides the managed one); "
        "empty: embedded servers refuse s3:// sources",
    )

    # --- limits per job ------------------------------------------------------------------------
    max_frame_width: int = Field(8192, ge=16, validation_alias=_env("AUTOVID_MAX_FRAME_WIDTH"))
    max_frame_height: int = Field(8192, ge=16, validation_alias=_env("AUTOVID_MAX_FRAME_HEIGHT"))
    max_frame_pixels: int = Field(36_000_000, ge=256, validation_alias=_env("AUTOVID_MAX_FRAME_PIXELS"))
    max_video_duration_s: float = Field(4 * 3600.0, gt=0, validation_alias=_env("AUTOVID_MAX_VIDEO_DURATION"))
    max_speech_chars: int = Field(50_000, ge=1, validation_alias=_env("AUTOVID_MAX_SPEECH_CHARS"))
    max_sample_rate: int = Field(192_000, ge=8000, validation_alias=_env("AUTOVID_MAX_SAMPLE_RATE"))
    max_channels: int = Field(8, ge=1, le=64, validation_alias=_env("AUTOVID_MAX_CHANNELS"))
    max_streams: int = Field(16, ge=1, validation_alias=_env("AUTOVID_MAX_STREAMS"))
    speech_cache_bytes: int | None = Field(
        None,
        ge=0,
        validation_alias=_env("AUTOVID_SPEECH_CACHE_BYTES"),
        description="default: 2 GiB; under /tmp (Lambda) a quarter of /tmp, at most 2 GiB",
    )

    # --- AWS -----------------------------------------------------------------------------------
    aws_endpoint_url: str | None = Field(
        None, validation_alias=_env("AUTOVID_AWS_ENDPOINT_URL"), description="a local emulator (moto)"
    )
    jobs_table_name: str | None = Field(None, validation_alias=_env("DYNAMODB_JOBS_TABLE_NAME"))
    jobs_queue_url: str | None = Field(None, validation_alias=_env("SQS_JOBS_QUEUE_URL"))
    batches_table_name: str | None = Field(
        None,
        validation_alias=_env("DYNAMODB_BATCHES_TABLE_NAME"),
        description="templates and batches; without it the AWS backend serves no /templates or /batches",
    )

    @model_validator(mode="before")
    @classmethod
    def _environment(cls, values: Any) -> Any:
        """Fill every field not given explicitly from the first of its variables that is set."""
        if not isinstance(values, dict):
            return values
        environment = {name.upper(): value for name, value in os.environ.items()}
        merged = dict(values)
        for name, field in cls.model_fields.items():
            variables = _variable_names(field.validation_alias)
            if name in values or any(variable in values for variable in variables):
                continue
            for variable in variables:
                if variable.upper() in environment:
                    merged[variable] = environment[variable.upper()]
                    break
        return merged

    @field_validator("s3_source_buckets", mode="before")
    @classmethod
    def _bucket_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.speech_engine is None:  # not configured: the backend's own engine
            self.speech_engine = "polly" if self.backend == "aws" else "espeak"
        if self.backend == "aws":
            missing = [
                name
                for name, value in (
                    ("S3_BUCKET_NAME", self.s3_bucket_name),
                    ("DYNAMODB_JOBS_TABLE_NAME", self.jobs_table_name),
                    ("SQS_JOBS_QUEUE_URL", self.jobs_queue_url),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"AUTOVID_BACKEND=aws needs {', '.join(missing)}")
        return self

    @property
    def speech_cache_dir(self) -> Path:
        return self.cache_dir or (self.data_dir / "cache")

    @property
    def cli_cache_dir(self) -> Path:
        """Where ``autovid render`` keeps synthesized speech: ``AUTOVID_CACHE_DIR``, else the
        user's cache folder (``$XDG_CACHE_HOME/autovid``, ``~/.cache/autovid``) — never beside
        the user's files."""
        if self.cache_dir is not None:
            return self.cache_dir
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
        return base / "autovid"

    @property
    def spec_limits(self) -> SpecLimits:
        return SpecLimits(
            webhook_max_headers_size=self.webhook_max_headers_size,
            webhook_max_metadata_size=self.webhook_max_metadata_size,
            allow_http_webhooks=self.allow_http,
        )

    @property
    def managed_bucket(self) -> str | None:
        """The stack's bucket on AWS; None embedded (managed storage is a local folder)."""
        return self.s3_bucket_name if self.backend == "aws" else None

    @property
    def s3_buckets_readable(self) -> frozenset[str]:
        """Buckets ``s3://`` sources of a service job may name."""
        managed = {self.managed_bucket} if self.managed_bucket else set()
        return frozenset(self.s3_source_buckets) | managed

    @property
    def speech_cache_limit_bytes(self) -> int:
        if self.speech_cache_bytes is not None:
            return self.speech_cache_bytes
        if not self.speech_cache_dir.resolve().is_relative_to("/tmp"):
            return 2 * 1024**3
        # Lambda's /tmp (512 MB-10 GB) also holds the job's assets, speech and output.
        try:
            tmp_bytes = shutil.disk_usage("/tmp").total
        except OSError:
            tmp_bytes = 512 * 1024**2
        return min(2 * 1024**3, tmp_bytes // 4)

    @property
    def render_limits(self) -> RenderLimits:
        return RenderLimits(
            max_frame_width=self.max_frame_width,
            max_frame_height=self.max_frame_height,
            max_frame_pixels=self.max_frame_pixels,
            max_duration_s=self.max_video_duration_s,
            max_speech_chars=self.max_speech_chars,
            max_sample_rate=self.max_sample_rate,
            max_channels=self.max_channels,
            max_streams=self.max_streams,
        )
