"""A batch on DynamoDB and SQS (moto in server mode): two processors, each with its own clients,
finish the rows of one batch side by side, duplicate deliveries included; the counters end exact."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from autovid import samples
from autovid.adapters.aws.emulator import Emulator, environment
from autovid.adapters.aws.provision import Resources
from autovid.bootstrap import Container, bootstrap
from autovid.config import Settings
from autovid.errors import MediaError
from autovid.jobs.batch_model import Counts, RowStatus
from autovid.jobs.batches import BatchRequest
from autovid.jobs.worker import run_worker
from autovid.render.pipeline import RenderResult

ROWS = 24
FAILING = {3, 10, 17, 22}


class TinyRender:
    """Writes a real 1 s MP4; rows named ``Bad…`` fail for good."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, spec: Any, *, output_path: Path, **_: Any) -> Any:
        with self._lock:
            self.calls += 1
        if spec.jobInfo.title.startswith("Bad"):
            raise MediaError(f"render refused '{spec.jobInfo.title}'")
        time.sleep(0.02)  # long enough for the two workers to interleave
        samples.make_video(output_path, duration_s=1.0, fps=10, audio=True)
        return RenderResult(output_path, 1.0, output_path.stat().st_size, timings_s={}, video_copied=False)


def processor_container(
    emulator: Emulator, resources: Resources, tmp_path: Path, render: TinyRender
) -> Container:
    settings = Settings(
        **environment(emulator, resources),  # the batches table included
        AUTOVID_DATA_DIR=tmp_path,
        AUTOVID_LEASE_SECONDS=30,
        AUTOVID_TTS_ENGINE="espeak",
    )
    return bootstrap(settings, render=render, assets=object(), speech=object())


def template(source: str) -> dict[str, Any]:
    return {
        "name": "greeting",
        "variables": {"firstName": {"type": "string", "required": True}},
        "spec": {
            "jobInfo": {"title": "{{firstName}}"},
            "assets": {"video": {"id": "main", "source": source}},
            "timeline": [],
            "output": {"filename": "welcome-{{firstName}}.mp4"},
        },
    }


def test_two_processors_finish_one_batch_and_the_counters_end_exact(
    emulator: Emulator,
    resources: Resources,
    tiny_video: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in environment(emulator, resources).items():
        monkeypatch.setenv(name, value)
    render = TinyRender()
    first, second = (processor_container(emulator, resources, tmp_path / name, render) for name in ("a", "b"))
    first.blobs.put_file("assets/key-1/base.mp4", tiny_video, content_type="video/mp4")
    service = first.batches
    assert service is not None
    names = [f"Bad{i}" if i in FAILING else f"Name{i}" for i in range(ROWS)]
    batch = service.submit(
        BatchRequest(template=template("assets/key-1/base.mp4"), rows=[{"firstName": n} for n in names]),
        owner="key-1",
    )
    # Every row delivered twice, as SQS may: the second delivery must not count again.
    first.queue.send_many([row.job_id for row in service.batches.rows(batch.batch_id, limit=ROWS)])

    stop = threading.Event()
    handled: dict[str, int] = {}
    every_delivery = threading.Semaphore(0)  # released once per message a worker handled

    def work(name: str, container: Container) -> None:
        handled[name] = run_worker(
            container, stop, wait_s=0.2, on_outcome=lambda *_: every_delivery.release()
        )

    workers = [threading.Thread(target=work, args=(n, c)) for n, c in (("a", first), ("b", second))]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 90
    while (current := service.get(batch.batch_id, owner="key-1")).counts.ended < ROWS:
        counts = current.counts
        assert counts.submitted + counts.processing + counts.ended == ROWS
        assert time.monotonic() < deadline, counts
        time.sleep(0.1)
    for _ in range(2 * ROWS):  # the duplicate deliveries are handled too
        assert every_delivery.acquire(timeout=max(0.1, deadline - time.monotonic())), "deliveries left"
    stop.set()
    for worker in workers:
        worker.join(timeout=30)

    final = service.get(batch.batch_id, owner="key-1")
    assert final.counts == Counts(total=ROWS, completed=ROWS - len(FAILING), failed=len(FAILING))
    assert final.status == "failed" and final.percent == 100.0
    rows = service.batches.rows(batch.batch_id, limit=ROWS)
    assert [r.row for r in rows if r.status == RowStatus.FAILED] == sorted(FAILING)
    assert render.calls == ROWS  # each row rendered once despite two deliveries
    assert handled["a"] > 0 and handled["b"] > 0 and handled["a"] + handled["b"] >= 2 * ROWS


def test_a_csv_batch_through_the_api_and_processor_lambdas(lambdas: Any, tiny_video: Path) -> None:
    from autovid.entrypoints.lambdas import container

    source = f"assets/{lambdas.owner}/base.mp4"  # the key's own upload
    container().blobs.put_file(source, tiny_video, content_type="video/mp4")
    created = lambdas.api("POST", "/templates", body=template(source))
    assert created["statusCode"] == 201, created["body"]
    template_id = json.loads(created["body"])["templateId"]
    csv_body = b"firstName\nAda\nGrace\nAlan\n"

    submitted = lambdas.api(
        "POST",
        "/batches",
        body=csv_body,
        query={"templateId": template_id},
        headers={"Content-Type": "text/csv"},
    )
    assert submitted["statusCode"] == 201, submitted["body"]
    batch_id = json.loads(submitted["body"])["batchId"]
    messages = lambdas.receive(count=3)
    assert lambdas.process(messages) == {"batchItemFailures": []}
    doc = lambdas.api_json("GET", f"/batches/{batch_id}")
    stranger = lambdas.api("GET", f"/batches/{batch_id}", owner="apikey-id-other")
    stranger_template = lambdas.api("GET", f"/templates/{template_id}", owner="apikey-id-other")

    assert doc["status"] == "completed" and doc["counts"]["completed"] == 3
    keys = sorted(row["output"]["s3Uri"].rsplit("/", 1)[1] for row in doc["rows"])
    assert keys == ["welcome-Ada.mp4", "welcome-Alan.mp4", "welcome-Grace.mp4"]
    assert stranger["statusCode"] == 404 and stranger_template["statusCode"] == 404


def test_rows_a_cancel_left_queued_are_cancelled_by_the_processor_lambda(
    lambdas: Any, tiny_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autovid.entrypoints.lambdas import container

    monkeypatch.setenv("AUTOVID_BATCH_CANCEL_SECONDS", "0")  # the API's cancel reaches no row itself
    source = f"assets/{lambdas.owner}/base.mp4"
    container().blobs.put_file(source, tiny_video, content_type="video/mp4")
    rows = [{"firstName": name} for name in ("Ada", "Grace", "Alan")]
    submitted = lambdas.api("POST", "/batches", body={"template": template(source), "rows": rows})
    assert submitted["statusCode"] == 201, submitted["body"]
    batch_id = json.loads(submitted["body"])["batchId"]

    cancelling = lambdas.api_json("POST", f"/batches/{batch_id}/cancel")
    assert lambdas.process(lambdas.receive(count=3)) == {"batchItemFailures": []}
    doc = lambdas.api_json("GET", f"/batches/{batch_id}")

    assert cancelling["status"] == "cancelling" and cancelling["counts"]["submitted"] == 3
    assert doc["status"] == "cancelled" and doc["counts"]["cancelled"] == 3
    assert all(row["output"] is None for row in doc["rows"])
    assert lambdas.receive(wait_s=1) == []  # every message deleted
