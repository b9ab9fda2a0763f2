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


def _body(**output: Any) -> dict[str, Any]:
    return {
        "assets": {"video": {"id": "main", "source": "assets/base.mp4"}},
        "timeline": [],
        "output": {"filename": "out.mp4", **output},
    }


@pytest.mark.parametrize(
    ("spec_text", "path", "words"),
    [
        (
            json.dumps(
                {
                    **_body(),
                    "notifications": {"webhook": {"url": "https://example.com/h", "metadata": {"n": 1}}},
                }
            ).replace('"n": 1', '"n": NaN'),
            "notifications.webhook.metadata.n",
            "finite number",
        ),
        (
            json.dumps(_body()).replace(
                '"timeline": []', '"timeline": [{"start": Infinity, "type": "tts", "data": {"text": "a"}}]'
            ),
            "timeline[0].start",
            "finite",
        ),
        (json.dumps(_body(filename=".hidden.mp4")), "output.filename", "must not start with '.'"),
        (json.dumps(_body(filename="a" * 200)), "output.filename", "at most 120 characters"),
        (json.dumps(_body(filename="clip\u202egnp.mp4")), "output.filename", "U+202E"),
    ],
)
def test_refused_at_submit_with_the_fields_path(client: Any, spec_text: str, path: str, words: str) -> None:
    response = client.post("/submit", content=spec_text, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    details = {d["path"]: d["message"] for d in response.json()["details"]}
    assert words in details[path] and "86400" not in details[path]


def test_deeply_nested_ssml_is_refused_at_submit(client: Any) -> None:
    text = "<speak>" + "<p>" * 5000 + "deep" + "</p>" * 5000 + "</speak>"
    tts = {"start": 0, "type": "tts", "data": {"text": text, "providerConfig": {"textType": "ssml"}}}
    response = client.post("/submit", json={**_body(), "timeline": [tts]})
    assert response.status_code == 400, response.text
    details = {d["path"]: d["message"] for d in response.json()["details"]}
    assert details["timeline[0].data.text"] == "SSML nests elements more than 100 levels deep"
