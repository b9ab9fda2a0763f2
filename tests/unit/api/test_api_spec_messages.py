"""The service words a bad spec exactly as ``autovid validate`` does: same paths, same messages,
same suggestions (one formatter), and its other 400s speak the same language."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from autovid.entrypoints.cli import app

NEWCOMER_SPEC: dict[str, Any] = {
    "assets": {
        "video": {"id": "main", "source": "assets/base.mp4"},
        "audio": [{"id": "music", "source": "assets/m.mp3"}],
    },
    "backgroundMusic": {"playlist": ["musik"], "volume": "0.3"},
    "timeline": [
        {"start": "1.5", "type": "audio", "data": {"assetId": "sfx", "duckinglevel": 0.2}},
        {"start": 2, "type": "tts", "data": {"text": "Hi", "providerConfig": {"voiceId": "Joana"}}},
    ],
    "output": {"filename": ".mp4", "encoding": {"bitrate": "2500", "audio_bitrate": "192"}},
}


@pytest.fixture
def client(api: Any) -> Any:
    _, secret = api.new_key()
    with api.client(secret) as http:
        yield http


def test_the_service_and_the_cli_report_the_same_problems(client: Any, tmp_path: Path) -> None:
    response = client.post("/submit", json=NEWCOMER_SPEC)
    assert response.status_code == 400, response.text
    details = response.json()["details"]
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(NEWCOMER_SPEC))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    cli_lines = [line.strip() for line in result.output.splitlines()[1:]]
    assert cli_lines == [f"{d['path']}: {d['message']}" for d in details]
    by_path = {d["path"]: d["message"] for d in details}
    assert set(by_path) == {
        "backgroundMusic.volume",
        "backgroundMusic.playlist[0]",
        "timeline[0].start",
        "timeline[0].data.duckinglevel",
        "timeline[0].data.assetId",
        "timeline[1].data.providerConfig.voiceId",
        "output.filename",
        "output.encoding.bitrate",
        "output.encoding.audio_bitrate",
    }
    assert "did you mean 'duckingLevel'?" in by_path["timeline[0].data.duckinglevel"]
    assert "did you mean 'Joanna'?" in by_path["timeline[1].data.providerConfig.voiceId"]
    assert not any("Input should" in message for message in by_path.values())


def test_a_bad_query_parameter_is_worded_like_a_spec_field(client: Any) -> None:
    response = client.get("/jobs", params={"limit": "many"})
    assert response.status_code == 400
    assert response.json()["details"] == [
        {"path": "query.limit", "message": 'must be a whole number, not the string "many"'}
    ]
    too_big = client.get("/jobs", params={"limit": "500"}).json()["details"]
    assert too_big == [{"path": "query.limit", "message": "must be at most 100"}]
