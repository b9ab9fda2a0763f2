"""Templates and batches over real HTTP: CSV and JSON rows, dry runs, progress, retry, cancel,
idempotency, owner isolation and the batch webhook."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from autovid.adapters.http.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from autovid.adapters.local.db import Database
from autovid.adapters.local.sqlite_queue import SqliteJobQueue
from autovid.auth.plans import UsagePlan
from autovid.errors import TransientStorageError
from autovid.jobs.worker import run_worker

COUNT_NAMES = {"total", "submitted", "processing", "completed", "failed", "cancelled"}


def greeting(source: str) -> dict[str, Any]:
    return {
        "name": "greeting",
        "variables": {
            "firstName": {"type": "string", "required": True, "maxLength": 40},
            "company": {"type": "string", "default": "your team"},
            "volume": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
        },
        "spec": {
            "jobInfo": {"title": "Welcome, {{firstName}}"},
            "assets": {"video": {"id": "main", "source": source}},
            "timeline": [
                {
                    "start": 0.1,
                    "type": "tts",
                    "data": {"text": "Hi {{firstName}} from {{company}}", "volume": "{{volume}}"},
                }
            ],
            "output": {"filename": "welcome-{{firstName}}.mp4"},
        },
    }


def drain(api: Any) -> int:
    return run_worker(api.container, threading.Event(), drain=True)


@pytest.fixture
def owner(api: Any, tiny_video: Any) -> tuple[str, str]:
    """(secret, template id) of a key with the greeting template stored."""
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    with api.client(secret) as client:
        created = client.post("/templates", json=greeting(source))
    assert created.status_code == 201, created.text
    return secret, created.json()["templateId"]


def names_csv(names: list[str]) -> str:
    return "firstName,company\n" + "".join(f"{name},Co {i}\n" for i, name in enumerate(names))


def check_consistent(doc: dict[str, Any]) -> int:
    counts = doc["counts"]
    assert set(counts) == COUNT_NAMES
    assert sum(counts[k] for k in COUNT_NAMES - {"total"}) == counts["total"], counts
    ended = counts["completed"] + counts["failed"] + counts["cancelled"]
    assert doc["progress"]["percent"] == round(100 * ended / counts["total"], 1), doc
    return ended


# --- templates ---------------------------------------------------------------------------------


def test_templates_are_created_versioned_listed_and_deleted(api: Any, tiny_video: Any) -> None:
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    document = greeting(source)
    changed = {
        **document,
        "variables": {**document["variables"], "company": {"type": "string", "default": "us"}},
    }
    with api.client(secret) as client:
        created = client.post("/templates", json=document)
        template_id = created.json()["templateId"]
        replaced = client.put(f"/templates/{template_id}", json=changed)
        latest = client.get(f"/templates/{template_id}").json()
        first = client.get(f"/templates/{template_id}", params={"version": 1}).json()
        listed = client.get("/templates").json()
        deleted = client.delete(f"/templates/{template_id}")
        gone = client.get(f"/templates/{template_id}")

    assert created.status_code == 201
    assert created.json()["version"] == 1 and created.json()["name"] == "greeting"
    assert replaced.status_code == 200 and replaced.json()["version"] == 2
    assert latest["version"] == 2 and latest["template"] == changed
    assert first["version"] == 1 and first["template"] == document
    assert [t["templateId"] for t in listed["templates"]] == [template_id] and listed["nextCursor"] is None
    assert deleted.status_code == 204 and gone.status_code == 404


def test_a_bad_template_is_refused_naming_the_spec_path_and_variable(api: Any) -> None:
    _, secret = api.new_key()
    document = greeting("assets/x/base.mp4")
    document["spec"]["timeline"][0]["data"]["text"] = "Hi {{firstName}} and {{nobody}}"
    with api.client(secret) as client:
        answer = client.post("/templates", json=document)
    assert answer.status_code == 400
    (detail,) = [d for d in answer.json()["details"] if "nobody" in d["message"]]
    assert detail["path"].startswith("spec.timeline[0].data.text")


def test_render_submits_one_job_and_is_idempotent(api: Any, owner: tuple[str, str]) -> None:
    secret, template_id = owner
    with api.client(secret) as client:
        first = client.post(
            f"/templates/{template_id}/render",
            json={"variables": {"firstName": "Ada"}},
            headers={"Idempotency-Key": "k1"},
        )
        again = client.post(
            f"/templates/{template_id}/render",
            json={"variables": {"firstName": "Ada"}},
            headers={"Idempotency-Key": "k1"},
        )
        missing = client.post(f"/templates/{template_id}/render", json={"variables": {"company": "X"}})
        drain(api)
        done = client.get(f"/status/{first.json()['jobId']}").json()

    assert first.status_code == 200 and first.json()["status"] == "submitted"
    assert first.json()["jobInfo"] == {"title": "Welcome, Ada"}
    assert again.json()["jobId"] == first.json()["jobId"]
    assert missing.status_code == 400
    assert {"path": "variables.firstName", "message": "is required", "variable": "firstName"}.items() <= (
        missing.json()["details"][0].items()
    )
    assert done["status"] == "completed" and done["output"]["url"].split("?")[0].endswith("/welcome-Ada.mp4")
    assert api.render.calls == 1


# --- batches -----------------------------------------------------------------------------------


def test_a_50_row_csv_batch_ends_with_50_completed_jobs_and_consistent_counts(
    api: Any, owner: tuple[str, str]
) -> None:
    secret, template_id = owner
    names = [f"Name{i}" for i in range(50)]
    with api.client(secret) as client:
        submitted = client.post(
            "/batches",
            params={"templateId": template_id},
            content=names_csv(names),
            headers={"Content-Type": "text/csv"},
        )
        assert submitted.status_code == 201, submitted.text
        batch_id = submitted.json()["batchId"]
        worker = threading.Thread(target=drain, args=(api,))
        worker.start()
        seen: list[int] = []
        while worker.is_alive():
            seen.append(check_consistent(client.get(f"/batches/{batch_id}", params={"limit": 5}).json()))
            time.sleep(0.02)
        worker.join()
        pages = [client.get(f"/batches/{batch_id}", params={"limit": 20}).json()]
        while pages[-1]["nextCursor"]:
            pages.append(
                client.get(
                    f"/batches/{batch_id}", params={"limit": 20, "cursor": pages[-1]["nextCursor"]}
                ).json()
            )
        job = client.get(f"/status/{pages[0]['rows'][7]['jobId']}").json()

    first = submitted.json()
    assert first["counts"] == {
        "total": 50,
        "submitted": 50,
        "processing": 0,
        "completed": 0,
        "failed": 0,
        "cancelled": 0,
    }
    assert first["status"] == "submitted" and first["templateId"] == template_id and first["version"] == 1
    assert seen == sorted(seen), "the ended count never goes back"
    final = pages[-1]
    assert final["status"] == "completed" and final["progress"]["percent"] == 100.0
    assert final["counts"]["completed"] == 50
    rows = [row for page in pages for row in page["rows"]]
    assert [len(p["rows"]) for p in pages] == [20, 20, 10]
    assert [r["row"] for r in rows] == list(range(50))
    assert all(r["status"] == "completed" and r["error"] is None for r in rows)
    urls = {r["output"]["url"].split("?")[0].rsplit("/", 1)[1] for r in rows}
    assert urls == {f"welcome-{name}.mp4" for name in names}
    assert len({r["jobId"] for r in rows}) == 50 and api.render.calls == 50
    assert job["status"] == "completed" and job["jobInfo"] == {"title": "Welcome, Name7"}


def test_a_dry_run_reports_exactly_the_bad_rows_and_stores_nothing(api: Any, owner: tuple[str, str]) -> None:
    secret, template_id = owner
    rows: list[dict[str, Any]] = [{"firstName": f"Row{i}"} for i in range(10)]
    rows[2] = {"company": "no name"}
    rows[5] = {"firstName": "x" * 41}
    rows[8] = {"firstName": "Eve", "volume": "loud"}
    body = {"templateId": template_id, "rows": rows, "dryRun": True}
    with api.client(secret) as client:
        dry = client.post("/batches", json=body)
        real = client.post("/batches", json={**body, "dryRun": False})
        jobs = client.get("/jobs").json()["jobs"]

    assert dry.status_code == 200
    doc = dry.json()
    assert (doc["total"], doc["valid"], doc["invalid"]) == (10, 7, 3)
    assert [(r["row"], [e["path"] for e in r["errors"]]) for r in doc["rows"]] == [
        (2, ["variables.firstName"]),
        (5, ["variables.firstName"]),
        (8, ["variables.volume"]),
    ]
    assert real.status_code == 400 and [r["row"] for r in real.json()["rows"]] == [2, 5, 8]
    assert real.json()["details"][0]["path"] == "rows[2].variables.firstName"
    assert jobs == [] and api.render.calls == 0


def test_retry_resubmits_only_the_failed_rows(api: Any, owner: tuple[str, str]) -> None:
    secret, template_id = owner
    api.render.failing_titles = {"Welcome, Bad1", "Welcome, Bad2"}
    names = ["Ok1", "Bad1", "Ok2", "Ok3", "Bad2", "Ok4"]
    with api.client(secret) as client:
        batch_id = client.post(
            "/batches", json={"templateId": template_id, "rows": [{"firstName": n} for n in names]}
        ).json()["batchId"]
        drain(api)
        failed = client.get(f"/batches/{batch_id}").json()
        api.render.failing_titles = set()
        calls_before = api.render.calls
        retried = client.post(f"/batches/{batch_id}/retry")
        drain(api)
        done = client.get(f"/batches/{batch_id}").json()
        again = client.post(f"/batches/{batch_id}/retry")

    assert failed["status"] == "failed"
    assert failed["counts"] | {} == {
        "total": 6,
        "submitted": 0,
        "processing": 0,
        "completed": 4,
        "failed": 2,
        "cancelled": 0,
    }
    assert [r["row"] for r in failed["rows"] if r["status"] == "failed"] == [1, 4]
    assert "render refused 'Welcome, Bad1'" in failed["rows"][1]["error"]
    assert retried.status_code == 200
    assert retried.json()["counts"]["submitted"] == 2 and retried.json()["counts"]["failed"] == 0
    assert api.render.calls - calls_before == 2
    assert done["status"] == "completed" and done["counts"]["completed"] == 6
    old_ids = {r["row"]: r["jobId"] for r in failed["rows"]}
    new_ids = {r["row"]: r["jobId"] for r in done["rows"]}
    assert {row for row in old_ids if old_ids[row] != new_ids[row]} == {1, 4}
    assert again.status_code == 409


def test_cancel_stops_the_queued_rows(api: Any, owner: tuple[str, str]) -> None:
    secret, template_id = owner
    with api.client(secret) as client:
        batch_id = client.post(
            "/batches", json={"templateId": template_id, "rows": [{"firstName": f"N{i}"} for i in range(5)]}
        ).json()["batchId"]
        cancelled = client.post(f"/batches/{batch_id}/cancel").json()
        drain(api)
        after = client.get(f"/batches/{batch_id}").json()
        job = client.get(f"/status/{after['rows'][0]['jobId']}").json()

    assert cancelled["status"] == "cancelled" and cancelled["counts"]["cancelled"] == 5
    assert after["counts"] == cancelled["counts"] and api.render.calls == 0
    assert job["status"] == "cancelled"


def test_rows_a_cancel_had_no_time_for_are_cancelled_by_workers(api_factory: Any, tiny_video: Any) -> None:
    # GIVEN a cancel with no time for queued rows (as when a batch has more than it can reach)
    api = api_factory(batch_cancel_s=0)
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    with api.client(secret) as client:
        body = {"template": greeting(source), "rows": [{"firstName": f"N{i}"} for i in range(4)]}
        batch_id = client.post("/batches", json=body).json()["batchId"]
        cancelling = client.post(f"/batches/{batch_id}/cancel").json()
        refused = client.post(f"/batches/{batch_id}/retry")
        handled = drain(api)
        after = client.get(f"/batches/{batch_id}").json()

    assert cancelling["status"] == "cancelling" and cancelling["counts"]["submitted"] == 4
    assert refused.status_code == 409 and "still cancelling" in refused.json()["message"]
    assert handled == 4 and api.render.calls == 0  # each worker cancelled its row, none rendered
    assert after["status"] == "cancelled" and after["counts"]["cancelled"] == 4
    assert {row["status"] for row in after["rows"]} == {"cancelled"}


def test_another_key_gets_404_on_the_template_the_batch_and_its_jobs(
    api: Any, owner: tuple[str, str]
) -> None:
    secret, template_id = owner
    _, stranger = api.new_key()
    with api.client(secret) as a, api.client(stranger) as b:
        batch = a.post("/batches", json={"templateId": template_id, "rows": [{"firstName": "Ada"}]}).json()
        job_id = batch["rows"][0]["jobId"]
        answers = {
            "GET template": b.get(f"/templates/{template_id}"),
            "PUT template": b.put(f"/templates/{template_id}", json=greeting("assets/x/base.mp4")),
            "DELETE template": b.delete(f"/templates/{template_id}"),
            "render": b.post(f"/templates/{template_id}/render", json={"variables": {"firstName": "Eve"}}),
            "batch of it": b.post(
                "/batches", json={"templateId": template_id, "rows": [{"firstName": "Eve"}]}
            ),
            "GET batch": b.get(f"/batches/{batch['batchId']}"),
            "cancel batch": b.post(f"/batches/{batch['batchId']}/cancel"),
            "retry batch": b.post(f"/batches/{batch['batchId']}/retry"),
            "job": b.get(f"/status/{job_id}"),
        }
        listed = b.get("/templates").json()
        still = a.get(f"/templates/{template_id}")

    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 404)
    assert listed["templates"] == [] and still.status_code == 200


def test_the_same_idempotency_key_returns_the_same_batch(api: Any, owner: tuple[str, str]) -> None:
    secret, template_id = owner
    body = {"templateId": template_id, "rows": [{"firstName": f"N{i}"} for i in range(3)]}
    with api.client(secret) as client:
        first = client.post("/batches", json=body, headers={"Idempotency-Key": "batch-1"})
        again = client.post("/batches", json=body, headers={"Idempotency-Key": "batch-1"})
        other = client.post(
            "/batches", json={**body, "rows": body["rows"][:2]}, headers={"Idempotency-Key": "batch-1"}
        )
        jobs = client.get("/jobs").json()["jobs"]

    assert first.status_code == 201 and again.status_code == 201
    assert again.json()["batchId"] == first.json()["batchId"]
    assert [r["jobId"] for r in again.json()["rows"]] == [r["jobId"] for r in first.json()["rows"]]
    assert other.status_code == 409 and "batch-1" in other.json()["message"]
    assert len(jobs) == 3
    assert api.container.queue.counts()["visible"] == 3  # queued once each


def test_rows_are_capped_per_batch(api_factory: Any, tiny_video: Any) -> None:
    api = api_factory(batch_max_rows=3)
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    with api.client(secret) as client:
        answer = client.post(
            "/batches",
            json={"template": greeting(source), "rows": [{"firstName": f"N{i}"} for i in range(4)]},
        )
    assert answer.status_code == 400
    assert answer.json()["details"] == [
        {"path": "rows", "message": "has 4 rows; at most 3 per batch (AUTOVID_BATCH_MAX_ROWS)"}
    ]


def test_one_signed_batch_webhook_when_the_last_row_ends(api_factory: Any, tiny_video: Any) -> None:
    api = api_factory(allow_private_urls=True, allow_http=True)
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(
                (dict(self.headers.items()), self.rfile.read(int(self.headers["Content-Length"])))
            )
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/batch-done"
    try:
        with api.client(secret) as client:
            body = {
                "template": greeting(source),
                "rows": [{"firstName": f"N{i}"} for i in range(4)],
                "notifications": {"webhook": {"url": url, "metadata": {"campaign": "spring"}}},
            }
            batch_id = client.post("/batches", json=body).json()["batchId"]
            drain(api)
            drain(api)  # nothing left: no second webhook
    finally:
        server.shutdown()
        server.server_close()

    (headers, payload), *more = received
    assert more == []
    assert verify_signature(b"w" * 32, headers[TIMESTAMP_HEADER], payload, headers[SIGNATURE_HEADER])
    doc = json.loads(payload)
    assert doc["batchId"] == batch_id and doc["status"] == "completed" and doc["templateId"] is None
    assert doc["counts"]["completed"] == 4 and doc["metadata"] == {"campaign": "spring"}


class FlakyQueue(SqliteJobQueue):
    """A queue whose bulk send fails while ``down`` (the process died, the queue was unreachable)."""

    down = True

    def send_many(self, job_ids: Any) -> None:
        if self.down:
            raise TransientStorageError("queue unreachable")
        super().send_many(job_ids)


def test_a_repeat_with_the_same_key_finishes_an_acceptance_cut_short(
    api_factory: Any, tiny_video: Any, tmp_path: Any
) -> None:
    queue = FlakyQueue(Database(tmp_path / "queue.db"), lease_s=2.0)
    api = api_factory(overrides={"queue": queue})
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    body = {"template": greeting(source), "rows": [{"firstName": f"N{i}"} for i in range(4)]}
    with api.client(secret) as client:
        cut_short = client.post("/batches", json=body, headers={"Idempotency-Key": "k"})
        queue.down = False
        repeated = client.post("/batches", json=body, headers={"Idempotency-Key": "k"})
        again = client.post("/batches", json=body, headers={"Idempotency-Key": "k"})
        handled = drain(api)
        done = client.get(f"/batches/{repeated.json()['batchId']}").json()

    assert cut_short.status_code == 503
    assert repeated.status_code == 201 and again.json()["batchId"] == repeated.json()["batchId"]
    assert handled == 4 and api.render.calls == 4  # queued once each, by the repeat only
    assert done["status"] == "completed" and done["counts"]["completed"] == 4


def test_a_cancelled_batch_is_announced_once_by_the_worker(api_factory: Any, tiny_video: Any) -> None:
    api = api_factory(allow_private_urls=True, allow_http=True)
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with api.client(secret) as client:
            body = {
                "template": greeting(source),
                "rows": [{"firstName": f"N{i}"} for i in range(3)],
                "notifications": {"webhook": {"url": f"http://127.0.0.1:{server.server_address[1]}/b"}},
            }
            batch_id = client.post("/batches", json=body).json()["batchId"]
            client.post(f"/batches/{batch_id}/cancel")
            assert received == []  # the API holds no webhook secret on AWS: workers announce
            drain(api)
    finally:
        server.shutdown()
        server.server_close()

    (payload,) = received
    doc = json.loads(payload)
    assert doc["status"] == "cancelled" and doc["counts"]["cancelled"] == 3 and api.render.calls == 0


def test_a_batch_of_many_rows_counts_as_one_request_on_the_plan(api: Any, tiny_video: Any) -> None:
    _, uploader = api.new_key()
    source = api.upload_video(uploader, tiny_video)
    _, secret = api.new_key(plan=UsagePlan(rate_per_s=1000.0, burst=1000, quota_per_day=2))
    with api.client(secret) as client:
        answers = [
            client.post(
                "/batches",
                json={"template": greeting(source), "rows": [{"firstName": f"R{r}N{i}"} for i in range(30)]},
            )
            for r in range(3)
        ]

    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[0].json()["counts"]["total"] == 30


def test_hostile_values_are_row_errors_or_stay_literal(api: Any, tiny_video: Any) -> None:
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    document = greeting(source)
    document["variables"]["clip"] = {"type": "asset", "required": True}
    document["spec"]["assets"]["audio"] = [{"id": "clip", "source": "{{clip}}"}]
    clip = "https://media.example.com/clip.mp3"
    rows = [
        {"firstName": "{{volume}}", "clip": clip},
        {"firstName": "<b>\"'& co", "clip": clip},
        {"firstName": "Nan", "clip": clip, "volume": "NaN-here"},
        {"firstName": "Priv", "clip": "http://127.0.0.1:8000/secret.mp3"},
        {"firstName": "x" * 2_000_000, "clip": clip},
        {"firstName": "</speak><speak>", "clip": clip},  # a '/' cannot be in the file name
    ]
    # A bare NaN token (which Python's decoder would accept) is refused for the whole body, with
    # the row's path; the rest of the rows then go as a dry run.
    body = json.dumps({"template": document, "rows": rows, "dryRun": True}).replace('"NaN-here"', "NaN")
    with api.client(secret) as client:
        nan = client.post("/batches", content=body, headers={"Content-Type": "application/json"})
        dry = client.post("/batches", json={"template": document, "rows": rows, "dryRun": True})
        good = client.post("/batches", json={"template": document, "rows": rows[:2]})
        assert good.status_code == 201, good.text
        titles = [
            client.get(f"/status/{row['jobId']}").json()["jobInfo"]["title"] for row in good.json()["rows"]
        ]

    assert nan.status_code == 400
    assert (
        nan.json()["details"][0]["path"] == "rows[2].volume" and "NaN" in nan.json()["details"][0]["message"]
    )
    assert dry.status_code == 200, dry.text
    problems = {r["row"]: [e["path"] for e in r["errors"]] for r in dry.json()["rows"]}
    assert problems == {
        2: ["variables.volume"],
        3: ["variables.clip"],
        4: ["variables.firstName"],
        5: ["spec.output.filename"],
    }
    assert good.status_code == 201
    assert titles == ["Welcome, {{volume}}", "Welcome, <b>\"'& co"]


def test_a_row_whose_job_ended_out_of_band_is_caught_up_on_read(api: Any, owner: tuple[str, str]) -> None:
    secret, template_id = owner
    with api.client(secret) as client:
        batch = client.post(
            "/batches", json={"templateId": template_id, "rows": [{"firstName": "A"}, {"firstName": "B"}]}
        )
        job_id = batch.json()["rows"][0]["jobId"]
        client.post(f"/jobs/{job_id}/cancel")  # the job alone, not through the batch
        doc = client.get(f"/batches/{batch.json()['batchId']}").json()
        again = client.get(f"/batches/{batch.json()['batchId']}").json()

    assert doc["rows"][0]["status"] == "cancelled" and doc["rows"][0]["error"] == "cancelled by the client"
    assert doc["counts"]["cancelled"] == 1 and doc["counts"]["submitted"] == 1
    assert again["counts"] == doc["counts"]
