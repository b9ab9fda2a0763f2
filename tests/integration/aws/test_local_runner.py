"""``python -m autovid.entrypoints.lambdas.local``: the Lambdas behind a local HTTP stand-in for
API Gateway and an SQS poller standing in for the event source mapping, on moto."""

from __future__ import annotations

import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from autovid.entrypoints.lambdas.local import _GatewayHandler, key_id, poll_queue

if TYPE_CHECKING:  # fixtures come from conftest.py (importlib mode: no imports at run time)
    from conftest import Lambdas

pytestmark = pytest.mark.slow


def test_http_requests_reach_the_lambdas_and_jobs_render(lambdas: Lambdas, tiny_video: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _GatewayHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    poller = threading.Thread(target=poll_queue, args=(stop,), kwargs={"wait_s": 1}, daemon=True)
    poller.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            assert http.get("/health").json()["backend"] == "aws"
            assert http.get("/jobs").status_code == 403  # no key: API Gateway refuses
            key = {"X-API-Key": "dev-key"}
            uploaded = http.post(
                "/assets", params={"filename": "v.mp4"}, content=tiny_video.read_bytes(), headers=key
            )
            assert uploaded.status_code == 201, uploaded.text
            spec = {
                "assets": {"video": {"id": "main", "source": uploaded.json()["source"]}},
                "timeline": [],
                "output": {"filename": "o.mp4", "encoding": {"preset": "ultrafast"}},
            }
            submitted = http.post("/submit", json=spec, headers=key)
            assert submitted.status_code == 200, submitted.text
            job = submitted.json()
            deadline = time.monotonic() + 30
            while (status := http.get(f"/status/{job['jobId']}", headers=key).json())[
                "status"
            ] != "completed":
                assert status["status"] in ("submitted", "processing"), status
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert http.get(f"/status/{job['jobId']}", headers={"X-API-Key": "other"}).status_code == 404
        stored = lambdas.clients.dynamodb.get_item(
            TableName=lambdas.resources.table, Key={"jobId": {"S": job["jobId"]}}
        )["Item"]
        assert stored["owner"]["S"] == key_id("dev-key") != "dev-key"
        assert httpx.get(status["output"]["url"], timeout=10).content[4:8] == b"ftyp"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        poller.join(timeout=5)
