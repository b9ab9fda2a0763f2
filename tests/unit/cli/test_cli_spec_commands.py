"""`autovid validate` and `autovid schema` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from autovid.entrypoints.cli import app

REPO_ROOT = Path(__file__).resolve().parents[3]

runner = CliRunner()


def test_schema_in_docs_is_current() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    committed = json.loads((REPO_ROOT / "docs" / "spec.schema.json").read_text())
    assert json.loads(result.stdout) == committed, "regenerate: autovid schema > docs/spec.schema.json"


def test_validate_accepts_the_examples() -> None:
    for spec in sorted((REPO_ROOT / "examples").glob("*.spec.json")):
        result = runner.invoke(app, ["validate", str(spec)])
        assert result.exit_code == 0, result.output


def test_validate_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    spec = {
        "assets": {"video": {"id": "v", "source": "v.mp4"}, "audio": [{"id": "a", "source": "a.mp3"}]},
        "timeline": [{"start": 0, "type": "audio", "data": {"assetId": "zzz"}}],
        "output": {"filename": "x"},
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spec))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "timeline[0].data.assetId" in result.output and "'a'" in result.output


def test_validate_unreadable_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "missing.json")])
    assert result.exit_code == 2


def test_validate_prints_values_that_look_like_markup_literally(tmp_path: Path) -> None:
    spec = {
        "assets": {"video": {"id": "v", "source": "v.mp4"}},
        "timeline": [{"start": 0, "type": "audio", "data": {"assetId": "[/bold]"}}],
        "output": {"filename": "x"},
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spec))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "unknown audio asset id '[/bold]'" in result.output
