"""The wiring takes typed overrides by name and refuses names it does not know."""

from __future__ import annotations

from pathlib import Path

import pytest

from autovid.adapters.local.db import Database
from autovid.adapters.local.sqlite_jobs import SqliteJobStore
from autovid.bootstrap import bootstrap
from autovid.config import Settings
from autovid.jobs.processor import ProcessorOptions


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", secret_key="s" * 32, webhook_secret="w" * 32)


def test_a_mistyped_override_is_refused_not_swallowed(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="procesor_options"):
        bootstrap(_settings(tmp_path), procesor_options=ProcessorOptions())  # type: ignore[call-arg]


def test_the_parts_given_are_the_parts_used(tmp_path: Path) -> None:
    store = SqliteJobStore(Database(tmp_path / "other.db"))
    options = ProcessorOptions(shutdown_grace_s=7.0)
    container = bootstrap(
        _settings(tmp_path), store=store, processor_options=options, work_dir=tmp_path / "w"
    )
    assert container.store is store and container.service.store is store
    assert container.processor.options is options
    assert container.processor.work_dir == tmp_path / "w"
    assert not hasattr(container, "extras")


def test_the_built_parts_without_overrides(tmp_path: Path) -> None:
    container = bootstrap(_settings(tmp_path))
    assert container.processor.work_dir == tmp_path / "data" / "work"
    assert container.db is not None and container.keys is not None
    assert (tmp_path / "data" / "autovid.db").is_file()
