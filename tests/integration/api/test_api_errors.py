"""Every bad request gets its specific answer: 400 with details, 413, 500 without internals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from autovid.adapters.local.sqlite_jobs import SqliteJobStore
from autovid.errors import TransientStorageError


@pytest.fixture
def client(api: Any) -> Iterator[Any]:
    _, secret = api.new_key()
    with api.client(secret) as http:
        yield http


def details(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "Validation failed"
    found: list[dict[str, str]] = body["details"]
    return found


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"assets": {',
            "malformed JSON: Expecting property name enclosed in double quotes at line 1 column 13",
        ),
        (b"", "the request body is empty"),
        (b"[1, 2]", "must be a JSON object, not an array"),
        (b"\xff\xfe{}", "must be UTF-8"),
    ],
)
def test_a_malformed_body_is_400_saying_what_is_wrong(client: Any, body: bytes, message: str) -> None:
    (detail,) = details(client.post("/submit", content=body, headers={"Content-Type": "application/json"}))
    assert detail["path"] == "$"
    assert message in detail["message"]


def test_an_invalid_spec_names_each_field(client: Any, minimal_spec: Any) -> None:
    spec = minimal_spec("assets/x/base.mp4")
    spec["timeline"] = [{"start": -1, "type": "tts", "data": {"text": "hi", "volume": 3}}]
    spec["output"] = {"filename": "a/b.mp4"}
    unknown_asset = minimal_spec("assets/x/base.mp4")
    unknown_asset["timeline"] = [{"start": 1, "type": "audio", "data": {"assetId": "ghost"}}]

    paths = {d["path"] for d in details(client.post("/submit", json=spec))}
    (ghost,) = details(client.post("/submit", json=unknown_asset))

    assert {"timeline[0].start", "timeline[0].data.volume", "output.filename"} <= paths
    assert ghost["path"] == "timeline[0].data.assetId" and "ghost" in ghost["message"]


def test_a_source_missing_from_managed_storage_is_400(client: Any, minimal_spec: Any) -> None:
    (detail,) = details(client.post("/submit", json=minimal_spec("assets/nope/missing.mp4")))
    assert detail["path"] == "assets.video.source"
    assert "upload it first" in detail["message"]


def test_a_body_declared_over_the_limit_is_413(api_factory: Any) -> None:
    api = api_factory(max_body_bytes=2048)
    _, secret = api.new_key()
    with api.client(secret) as client:
        response = client.post("/submit", content=b"{" + b" " * 4096 + b"}")
    assert response.status_code == 413
    assert response.json()["error"] == "Payload too large"
    assert response.json()["limit"] == 2048


def test_a_streamed_body_over_the_limit_is_413(api_factory: Any) -> None:
    api = api_factory(max_body_bytes=2048)
    _, secret = api.new_key()

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer, counted as it comes
        yield b'{"padding": "'
        for _ in range(64):
            yield b"x" * 1024
        yield b'"}'

    with api.client(secret) as client:
        response = client.post("/submit", content=chunks())
    assert response.status_code == 413


def test_a_huge_body_with_the_default_limit_is_413(client: Any) -> None:
    response = client.post("/submit", content=b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert response.status_code == 413


def test_an_unknown_route_is_a_json_404(client: Any) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}


class BrokenStore(SqliteJobStore):
    """Fails reads of one job id: with an internal error or with a transient one."""

    def get(self, job_id: str) -> Any:
        if job_id == "boom":
            raise RuntimeError("database file /secret/path/autovid.db is corrupt")
        if job_id == "busy":
            raise TransientStorageError("store throttled")
        return super().get(job_id)


def test_an_internal_error_is_500_with_a_request_id_and_no_internals(
    api_factory: Any, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from autovid.adapters.local.db import Database

    api = api_factory(overrides={"store": BrokenStore(Database(tmp_path / "broken.db"))})
    _, secret = api.new_key()
    with api.client(secret) as client:
        response = client.get("/status/boom")
        busy = client.get("/status/busy")

    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"error", "requestId"} and body["error"] == "Internal server error"
    assert "secret" not in response.text and "corrupt" not in response.text
    assert any(body["requestId"] in r.getMessage() for r in caplog.records)  # the log has the details
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"


def test_openapi_and_interactive_docs_are_served(api: Any) -> None:
    document = api.http.get(f"{api.url}/openapi.json").json()
    docs = api.http.get(f"{api.url}/docs")

    assert {"/submit", "/status/{jobId}", "/jobs", "/jobs/{jobId}/cancel", "/assets", "/health"} <= set(
        document["paths"]
    )
    schemas = document["components"]["schemas"]
    assert "JobSpec" in schemas and "timeline" in schemas["JobSpec"]["properties"]
    body = document["paths"]["/submit"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/JobSpec"}
    assert document["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
