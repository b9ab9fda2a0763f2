"""Settings from the environment: explicit values first, then variables, then defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from autovid.config import Settings


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AUTOVID_PORT", "AUTOVID_BACKEND", "APP_AWS_REGION", "AWS_REGION", "AUTOVID_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert (settings.port, settings.backend, settings.aws_region) == (8000, "embedded", "us-east-1")
    assert settings.speech_cache_dir == Path("./autovid-data") / "cache"


def test_variables_are_read_and_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOVID_PORT", "9001")
    monkeypatch.setenv("AUTOVID_ALLOW_HTTP", "true")
    monkeypatch.setenv("AUTOVID_DATA_DIR", "/srv/autovid")
    monkeypatch.setenv("autovid_workers", "3")  # names match without regard to case
    monkeypatch.setenv("AUTOVID_SECRET_KEY", "s3cret")
    settings = Settings()
    assert (settings.port, settings.allow_http, settings.workers) == (9001, True, 3)
    assert settings.data_dir == Path("/srv/autovid")
    assert settings.secret_key is not None and settings.secret_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_first_of_several_variable_names_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert Settings().aws_region == "eu-west-1"
    monkeypatch.setenv("APP_AWS_REGION", "ap-south-1")
    assert Settings().aws_region == "ap-south-1"


def test_explicit_values_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOVID_PORT", "9001")
    assert Settings(port=7000).port == 7000  # by field name
    assert Settings(AUTOVID_PORT="7001").port == 7001  # by variable name


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOVID_PORT", "eighty")
    with pytest.raises(ValidationError, match="AUTOVID_PORT"):
        Settings()
    monkeypatch.delenv("AUTOVID_PORT")
    monkeypatch.setenv("AUTOVID_BACKEND", "aws")
    with pytest.raises(ValidationError, match="S3_BUCKET_NAME"):
        Settings()


def test_the_speech_engine_is_the_configured_one_or_the_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOVID_TTS_ENGINE", raising=False)
    assert Settings().speech_engine == "espeak"
    aws = {"s3_bucket_name": "b", "jobs_table_name": "t", "jobs_queue_url": "http://q"}
    assert Settings(backend="aws", **aws).speech_engine == "polly"
    monkeypatch.setenv("AUTOVID_TTS_ENGINE", "polly")
    assert Settings().speech_engine == "polly"
    assert Settings(speech_engine="espeak").speech_engine == "espeak"


def test_each_worker_process_renders_with_its_share_of_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    from autovid.entrypoints.workers import with_core_share

    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert with_core_share(Settings(), 2).render_threads == 4
    assert with_core_share(Settings(), 3).render_threads == 2
    assert with_core_share(Settings(), 16).render_threads == 1
    assert with_core_share(Settings(render_threads=6), 2).render_threads == 6  # said outright
