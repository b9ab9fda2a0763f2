"""``autovid templates …`` and ``autovid batch-submit`` against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from typer.testing import CliRunner

from autovid.entrypoints.cli import app
from autovid.jobs.worker import run_worker

runner = CliRunner()


def template(source: str) -> dict[str, Any]:
    return {
        "name": "greeting",
        "variables": {"firstName": {"type": "string", "required": True}},
        "spec": {
            "jobInfo": {"title": "Welcome, {{firstName}}"},
            "assets": {"video": {"id": "main", "source": source}},
            "timeline": [],
            "output": {"filename": "welcome-{{firstName}}.mp4"},
        },
    }


@pytest.fixture
def env(api: Any, tiny_video: Path, tmp_path: Path) -> tuple[dict[str, str], Path]:
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    path = tmp_path / "greeting.template.json"
    path.write_text(json.dumps(template(source)))
    return {"AUTOVID_URL": api.url, "AUTOVID_API_KEY": secret}, path


@pytest.fixture
def worker(api: Any) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(api.container, stop), kwargs={"wait_s": 0.1})
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


def test_templates_create_list_show_delete(env: tuple[dict[str, str], Path]) -> None:
    variables, path = env
    created = runner.invoke(app, ["templates", "create", str(path)], env=variables)
    template_id = created.stdout.strip().splitlines()[-1]
    listed = runner.invoke(app, ["templates", "list"], env=variables)
    shown = runner.invoke(app, ["templates", "show", template_id], env=variables)
    deleted = runner.invoke(app, ["templates", "delete", template_id], env=variables)
    missing = runner.invoke(app, ["templates", "show", template_id], env=variables)

    assert created.exit_code == 0, created.output
    assert listed.exit_code == 0 and template_id[:8] in listed.output
    assert shown.exit_code == 0 and json.loads(shown.stdout[shown.stdout.index("{") :]) == json.loads(
        path.read_text()
    )
    assert deleted.exit_code == 0
    assert missing.exit_code == 1 and "404" in missing.output


def test_batch_submit_waits_and_downloads_every_video(
    api: Any, env: tuple[dict[str, str], Path], worker: None, tmp_path: Path
) -> None:
    variables, path = env
    template_id = (
        runner.invoke(app, ["templates", "create", str(path)], env=variables).stdout.strip().splitlines()[-1]
    )
    rows = tmp_path / "rows.csv"
    rows.write_text("firstName\nAda\nGrace\nAlan\n")
    out = tmp_path / "out"

    result = runner.invoke(
        app,
        ["batch-submit", template_id, str(rows), "--wait", "-o", str(out), "--poll", "0.1"],
        env=variables,
    )

    assert result.exit_code == 0, result.output
    assert "3 completed, 0 failed" in result.output
    files = sorted(p.name for p in out.iterdir())
    assert files == ["welcome-Ada.mp4", "welcome-Alan.mp4", "welcome-Grace.mp4"]
    with av.open(str(out / "welcome-Ada.mp4")) as container:
        assert container.streams.video and float(container.duration or 0) / 1e6 == pytest.approx(
            1.0, abs=0.15
        )


def test_batch_submit_lists_the_failed_rows_and_exits_1(
    api: Any, env: tuple[dict[str, str], Path], worker: None, tmp_path: Path
) -> None:
    variables, path = env
    api.render.failing_titles = {"Welcome, Grace"}
    template_id = (
        runner.invoke(app, ["templates", "create", str(path)], env=variables).stdout.strip().splitlines()[-1]
    )
    rows = tmp_path / "rows.csv"
    rows.write_text("firstName\nAda\nGrace\n")

    result = runner.invoke(
        app, ["batch-submit", template_id, str(rows), "--wait", "--poll", "0.1"], env=variables
    )

    assert result.exit_code == 1
    assert "1 completed, 1 failed" in result.output
    assert "row 1: failed: render refused 'Welcome, Grace'" in result.output


def test_batch_submit_dry_run_names_each_bad_row(env: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    variables, path = env
    template_id = (
        runner.invoke(app, ["templates", "create", str(path)], env=variables).stdout.strip().splitlines()[-1]
    )
    rows = tmp_path / "rows.csv"
    rows.write_text("firstName\nAda\n\nGrace\n" + "x" * 300 + "\n")

    result = runner.invoke(app, ["batch-submit", template_id, str(rows), "--dry-run"], env=variables)

    assert result.exit_code == 1
    assert "2 of 3 rows are valid" in result.output
    assert "row 2: spec.jobInfo.title" in result.output
