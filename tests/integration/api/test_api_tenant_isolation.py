"""One API key cannot reach another key's files: uploads and outputs are stored under the owner's
own prefix, and a spec naming anything else is refused at submit exactly as a missing file is —
over real HTTP on 127.0.0.1, with real SQLite and real files."""

from __future__ import annotations

import threading
from typing import Any

from autovid.jobs.worker import run_worker


def validation_details(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "Validation failed"
    return {d["path"]: d["message"] for d in body["details"]}


def missing_file_message(key: str) -> str:
    return f"no file '{key}' in managed storage; upload it first (POST /assets)"


def test_an_upload_is_stored_under_its_owners_key_id(api: Any, tiny_video: Any) -> None:
    key_id, secret = api.new_key()

    source = api.upload_video(secret, tiny_video)

    assert source.startswith(f"assets/{key_id}/") and source.endswith("/base.mp4")


def test_another_keys_upload_reads_as_a_missing_file(api: Any, tiny_video: Any, minimal_spec: Any) -> None:
    # GIVEN key A's upload, and a key of A's layout that does not exist
    _, alice = api.new_key()
    _, bob = api.new_key()
    theirs = api.upload_video(alice, tiny_video)
    never_uploaded = theirs.rsplit("/", 2)[0] + "/0123456789abcdef0123456789abcdef/base.mp4"

    # WHEN key B names each in a spec
    with api.client(bob) as client:
        refused = validation_details(client.post("/submit", json=minimal_spec(theirs)))
        missing = validation_details(client.post("/submit", json=minimal_spec(never_uploaded)))
    with api.client(alice) as client:
        accepted = client.post("/submit", json=minimal_spec(theirs))

    # THEN both answers say the same thing (nothing tells B that A's file exists); A may use it
    assert refused == {"assets.video.source": missing_file_message(theirs)}
    assert missing == {"assets.video.source": missing_file_message(never_uploaded)}
    assert accepted.status_code == 200, accepted.text
    assert api.render.calls == 0 and api.container.queue.counts()["visible"] == 1


def test_another_keys_output_cannot_be_rendered_nor_overwritten(
    api: Any, tiny_video: Any, minimal_spec: Any
) -> None:
    # GIVEN a job of key A that completed
    alice_id, alice = api.new_key()
    _, bob = api.new_key()
    with api.client(alice) as client:
        job_id = client.post("/submit", json=minimal_spec(api.upload_video(alice, tiny_video))).json()[
            "jobId"
        ]
        run_worker(api.container, threading.Event(), drain=True)
        output_url = client.get(f"/status/{job_id}").json()["output"]["url"]
    output_key = f"outputs/{alice_id}/{job_id}/my-video.mp4"
    assert output_url.startswith(f"{api.url}/files/{output_key}?")

    # WHEN key B reads A's output as a source, or writes its own job over A's files
    spec_b = minimal_spec(api.upload_video(bob, tiny_video))
    reading = minimal_spec(output_key)
    overwriting = {
        **spec_b,
        "output": {"filename": "my-video", "destination": f"outputs/{alice_id}/{job_id}/"},
    }
    into_assets = {**spec_b, "output": {"filename": "x", "destination": "assets/"}}
    with api.client(bob) as client:
        read = validation_details(client.post("/submit", json=reading))
        written = validation_details(client.post("/submit", json=overwriting))
        dropped = validation_details(client.post("/submit", json=into_assets))
    with api.client(alice) as client:
        again = client.post("/submit", json=minimal_spec(output_key))

    # THEN every one is refused at submit, while A may render its own output again
    assert read == {"assets.video.source": missing_file_message(output_key)}
    assert "is outside your outputs" in written["output.destination"]
    assert "is outside your outputs" in dropped["output.destination"]
    assert again.status_code == 200, again.text
    assert api.render.calls == 1


def test_a_destination_among_the_owners_outputs_is_accepted(
    api: Any, tiny_video: Any, minimal_spec: Any
) -> None:
    key_id, secret = api.new_key()
    spec = minimal_spec(api.upload_video(secret, tiny_video))
    spec["output"]["destination"] = f"outputs/{key_id}/campaign/"
    with api.client(secret) as client:
        job_id = client.post("/submit", json=spec).json()["jobId"]
        run_worker(api.container, threading.Event(), drain=True)
        doc = client.get(f"/status/{job_id}").json()

    assert doc["status"] == "completed", doc["error"]
    assert api.container.blobs.exists(f"outputs/{key_id}/campaign/my-video.mp4")


def test_an_s3_source_is_refused_unless_the_operator_names_its_bucket(
    api_factory: Any, tiny_video: Any, minimal_spec: Any
) -> None:
    # GIVEN a server with s3:// sources off (the default) and one that allows a single bucket
    closed = api_factory()
    opened = api_factory(s3_source_buckets="team-media")

    def submit(server: Any, bucket: str) -> Any:
        _, secret = server.new_key()
        spec = minimal_spec(server.upload_video(secret, tiny_video))
        spec["assets"]["audio"] = [{"id": "music", "source": f"s3://{bucket}/music.mp3"}]
        with server.client(secret) as client:
            return client.post("/submit", json=spec)

    # WHEN specs name buckets: THEN only the named bucket passes, on the server that names it
    off = validation_details(submit(closed, "team-media"))["assets.audio[0].source"]
    other = validation_details(submit(opened, "host-role-bucket"))["assets.audio[0].source"]
    allowed = submit(opened, "team-media")

    assert "s3:// sources are off on this server (bucket 'team-media')" in off
    assert other == "bucket 'host-role-bucket' is not allowed for s3:// sources; allowed: team-media"
    assert allowed.status_code == 200, allowed.text
