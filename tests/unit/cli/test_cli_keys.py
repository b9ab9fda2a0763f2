"""``autovid keys create`` without plan options gives the key the default usage plan."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from autovid.adapters.local.db import Database
from autovid.adapters.local.sqlite_keys import SqliteKeyStore
from autovid.auth.plans import UsagePlan
from autovid.bootstrap import DB_FILE
from autovid.entrypoints.cli import app


def test_a_key_created_without_plan_options_has_the_default_plan(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["keys", "create", "--name", "ci", "--data-dir", str(tmp_path)])
    assert done.exit_code == 0, done.output
    (key,) = SqliteKeyStore(Database(tmp_path / DB_FILE)).list()
    assert (key.name, key.plan) == ("ci", UsagePlan())
