"""JobProcessor: claim, render, store, complete, webhook; errors, retries, timeout, cancel."""

from __future__ import annotations

import itertools
import threading
import time

from autovid.entrypoints.api.schemas import StatusDoc
from autovid.errors import MediaError, TransientAssetError
from autovid.jobs.holder import holder_prefix
from autovid.jobs.model import JobStatus, Progress, stage_rank
from autovid.jobs.processor import Outcome, ProcessorOptions
from autovid.render.media import probe


def test_a_job_renders_stores_completes_and_notifies(make, scripted, spec, webhook_receiver) -> None:
    env = make(scripted(duration_s=0.3))
    job = env.service.submit(spec(webhook_receiver.url("/hook")), owner="key-a")

    outcome = env.processor.process(env.receive())

    assert outcome == Outcome.COMPLETED
    done = env.service.get(job.job_id, owner="key-a")
    assert done.status == JobStatus.COMPLETED and done.attempts == 1 and done.error is None
    assert done.output.key == f"outputs/key-a/{job.job_id}/my-video.mp4"
    stored = env.container.blobs.path_for(done.output.key)
    info = probe(stored)
    assert info.video is not None and info.audio is not None
    assert abs(info.duration_s - 1.0) < 0.15
    assert done.output.size_bytes == stored.stat().st_size
    assert done.progress.stage == "done" and done.progress.percent == 100.0
    assert done.webhook_delivery["delivered"] is True and done.webhook_delivery["attempts"] == 1
    assert env.queue.counts() == {"visible": 0, "in_flight": 0, "dead": 0}
    assert len(webhook_receiver.received("/hook")) == 1


def test_progress_is_written_monotonically_through_every_stage(make, scripted, spec) -> None:
    env = make(scripted(duration_s=0.4))
    env.service.submit(spec(), owner="key-a")
    env.processor.process(env.receive())
    writes = env.store.progress_writes
    stages = [stage for stage, _ in writes]
    for stage in ("fetching", "speech", "mixing", "encoding", "storing", "done"):
        assert stage in stages
    ranks = [(stage_rank(s), p) for s, p in writes]
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in itertools.pairwise(ranks)), writes
    assert writes[-1] == ("done", 100.0)


def test_progress_within_a_stage_is_written_at_most_once_an_interval(make, scripted, spec) -> None:
    options = ProcessorOptions(cancel_poll_s=0.05, progress_interval_s=60.0)
    env = make(scripted(duration_s=0.4), options=options)
    env.service.submit(spec(), owner="key-a")
    env.processor.process(env.receive())
    assert len(env.render.progress_seen) > 10  # the render reported many steps
    stages = [stage for stage, _ in env.store.progress_writes]
    assert len(stages) == len(set(stages)), env.store.progress_writes  # one write a stage


def test_status_document_of_a_completed_job(make, scripted, spec) -> None:
    env = make(scripted())
    job = env.service.submit(spec(), owner="key-a")
    env.processor.process(env.receive())
    doc = env.service.status_document(env.service.get(job.job_id, owner="key-a"))
    assert set(doc) == set(StatusDoc.model_fields)
    assert doc["status"] == "completed" and doc["error"] is None
    assert doc["completedAt"].endswith("+00:00") and "." in doc["completedAt"]
    assert doc["processingTime"] == round(doc["processingTime"], 2) and doc["processingTime"] > 0
    assert doc["progress"] == {"stage": "done", "percent": 100.0}
    assert doc["jobInfo"] == {"projectId": "demo_project", "title": "Welcome Video"}
    output = doc["output"]
    assert output["s3Uri"] is None and output["duration"] == 1.0 and output["size"] > 0
    assert output["url"].startswith(
        f"http://autovid.test/files/outputs/key-a/{job.job_id}/my-video.mp4?expires="
    )
    assert output["urlExpiresAt"].endswith("+00:00")


def test_a_permanent_error_fails_at_once(make, scripted, spec, webhook_receiver) -> None:
    env = make(scripted(MediaError("base video: moov atom not found (corrupt file)")))
    job = env.service.submit(spec(webhook_receiver.url("/hook")), owner="key-a")

    assert env.processor.process(env.receive()) == Outcome.FAILED

    failed = env.service.get(job.job_id, owner="key-a")
    assert failed.status == JobStatus.FAILED and failed.attempts == 1
    assert failed.error == "base video: moov atom not found (corrupt file)"
    assert env.service.status_document(failed)["error"] == failed.error
    assert env.queue.counts() == {"visible": 0, "in_flight": 0, "dead": 0}
    (hook,) = webhook_receiver.received("/hook")
    assert hook.json()["status"] == "failed" and hook.json()["error"] == failed.error


def test_a_transient_error_retries_with_backoff_then_succeeds(make, scripted, spec) -> None:
    env = make(scripted(TransientAssetError("music", "HTTP 503 from the origin"), None))
    job = env.service.submit(spec(), owner="key-a")

    assert env.processor.process(env.receive()) == Outcome.RETRYING
    retrying = env.service.get(job.job_id, owner="key-a")
    assert retrying.status == JobStatus.RETRYING
    assert retrying.error == "asset 'music': HTTP 503 from the origin"
    assert env.service.status_document(retrying)["error"] is None  # only failed jobs show an error
    assert env.queue.receive(wait_s=0) == []  # released with a backoff delay, not at once

    message = env.receive(wait_s=2.0)
    assert message.receive_count == 2
    assert env.processor.process(message) == Outcome.COMPLETED
    done = env.service.get(job.job_id, owner="key-a")
    assert done.status == JobStatus.COMPLETED and done.attempts == 2 and done.error is None


def test_transient_errors_on_every_receive_dead_letter_the_job(make, scripted, spec) -> None:
    env = make(scripted(*[TransientAssetError("music", "timed out after 30 s")] * 3))
    job = env.service.submit(spec(), owner="key-a")
    outcomes = [env.processor.process(env.receive(wait_s=3.0)) for _ in range(3)]
    assert outcomes == [Outcome.RETRYING, Outcome.RETRYING, Outcome.FAILED]
    failed = env.service.get(job.job_id, owner="key-a")
    assert failed.status == JobStatus.FAILED and failed.attempts == 3
    assert failed.error == "dead-lettered after 3 failed receives: asset 'music': timed out after 30 s"
    assert env.queue.receive(wait_s=0.2) == []  # the next receive moved it to the dead letters
    assert [d.job_id for d in env.queue.dead_letters()] == [job.job_id]
    listed, _ = env.service.list(owner="key-a", status=JobStatus.FAILED)
    assert [j.job_id for j in listed] == [job.job_id]


def test_a_render_past_the_job_timeout_is_stopped(make, scripted, spec) -> None:
    render = scripted(duration_s=30.0)
    env = make(render, job_timeout_s=0.5)
    job = env.service.submit(spec(), owner="key-a")
    started = time.monotonic()
    assert env.processor.process(env.receive()) == Outcome.FAILED
    assert time.monotonic() - started < 3.0
    failed = env.service.get(job.job_id, owner="key-a")
    assert failed.status == JobStatus.FAILED
    assert "AUTOVID_JOB_TIMEOUT (0.5 s)" in failed.error
    assert render.running == 0  # the checkpoint stopped the render thread


def test_a_render_that_ignores_its_checkpoint_is_abandoned_at_the_timeout(make, scripted, spec) -> None:
    hang = threading.Event()
    render = scripted(lambda: hang.wait(20), duration_s=0.1)
    env = make(render, job_timeout_s=0.5, options=ProcessorOptions(abandon_after_s=0.3, cancel_poll_s=0.05))
    job = env.service.submit(spec(), owner="key-a")
    started = time.monotonic()
    assert env.processor.process(env.receive()) == Outcome.FAILED
    assert time.monotonic() - started < 3.0
    assert "AUTOVID_JOB_TIMEOUT" in env.service.get(job.job_id, owner="key-a").error
    hang.set()


def test_cancelling_a_queued_job_means_it_never_renders(make, scripted, spec) -> None:
    render = scripted()
    env = make(render)
    job = env.service.submit(spec(), owner="key-a")
    cancelled = env.service.cancel(job.job_id, owner="key-a")
    assert cancelled.status == JobStatus.CANCELLED and cancelled.completed_at is not None
    assert env.processor.process(env.receive()) == Outcome.SKIPPED
    assert render.calls == 0
    assert env.queue.counts()["visible"] + env.queue.counts()["in_flight"] == 0


def test_cancelling_a_running_job_stops_it_at_a_checkpoint(make, scripted, spec) -> None:
    render = scripted(duration_s=20.0)
    env = make(render)
    job = env.service.submit(spec(), owner="key-a")
    result: list[Outcome] = []
    worker = threading.Thread(target=lambda: result.append(env.processor.process(env.receive())))
    worker.start()
    assert render.started.wait(5)
    requested = env.service.cancel(job.job_id, owner="key-a")
    assert requested.status == JobStatus.PROCESSING and requested.cancel_requested
    worker.join(5)
    assert result == [Outcome.CANCELLED]
    final = env.service.get(job.job_id, owner="key-a")
    assert final.status == JobStatus.CANCELLED and final.output is None
    assert render.running == 0
    assert not env.container.blobs.exists(f"outputs/key-a/{job.job_id}/my-video.mp4")


def test_a_duplicate_delivery_never_renders_the_job_twice_at_once(make, scripted, spec) -> None:
    render = scripted(duration_s=1.0)
    env = make(render)
    job = env.service.submit(spec(), owner="key-a")
    env.queue.send(job.job_id)  # at-least-once: the same job arrives twice
    first, second = env.receive(), env.receive()
    outcomes: dict[str, Outcome] = {}
    worker = threading.Thread(target=lambda: outcomes.update(a=env.processor.process(first)))
    worker.start()
    assert render.started.wait(5)
    outcomes["b"] = env.processor.process(second)
    worker.join(10)
    assert outcomes == {"a": Outcome.COMPLETED, "b": Outcome.DEFERRED}
    assert render.calls == 1 and render.max_running == 1
    # The deferred copy comes back once the claim has lapsed and finds the job done.
    late = env.receive(wait_s=env.container.settings.lease_s + 2)
    assert env.processor.process(late) == Outcome.SKIPPED
    assert render.calls == 1


def test_shutdown_gives_a_long_job_back_to_the_queue(make, scripted, spec) -> None:
    render = scripted(duration_s=20.0)
    env = make(render, options=ProcessorOptions(shutdown_grace_s=0.2, cancel_poll_s=0.05))
    job = env.service.submit(spec(), owner="key-a")
    stop = threading.Event()
    stop.set()
    assert env.processor.process(env.receive(), stop=stop) == Outcome.RELEASED
    released = env.service.get(job.job_id, owner="key-a")
    assert released.status == JobStatus.RETRYING and released.claim_token is None
    doc = env.service.status_document(released)
    assert doc["status"] == "retrying" and doc["error"] is None  # not a failure, and it says why
    assert "shut down" in doc["statusReason"]
    render.duration_s = 0.1
    assert env.processor.process(env.receive()) == Outcome.COMPLETED


def test_shutdown_lets_a_short_job_finish(make, scripted, spec) -> None:
    env = make(scripted(duration_s=0.3), options=ProcessorOptions(shutdown_grace_s=5.0))
    env.service.submit(spec(), owner="key-a")
    stop = threading.Event()
    stop.set()
    assert env.processor.process(env.receive(), stop=stop) == Outcome.COMPLETED


def test_a_job_whose_worker_died_is_dead_lettered_with_a_clear_error(make, scripted, spec) -> None:
    """GIVEN a job whose message was received 3 times by workers that died mid-render."""
    env = make(scripted(), lease_s=0.3)
    job = env.service.submit(spec(), owner="key-a")
    for _ in range(3):
        message = env.receive(wait_s=5.0)  # each comes back once the last lease has run out
        env.processor._claim(env.service.get(job.job_id, owner="key-a"), message)  # then "crash"
    # WHEN the next receive happens (watched well past the last lease) THEN the queue
    # dead-letters it and the job fails.
    assert env.queue.receive(wait_s=1.5) == []
    failed = env.service.get(job.job_id, owner="key-a")
    assert failed.status == JobStatus.FAILED
    assert failed.error.startswith("dead-lettered after 3 failed receives: the worker stopped")
    assert env.render.calls == 0


def test_a_missed_webhook_is_sent_when_the_message_comes_back(make, scripted, spec, webhook_receiver) -> None:
    env = make(scripted())
    job = env.service.submit(spec(webhook_receiver.url("/late")), owner="key-a")
    message = env.receive()
    env.processor.webhooks, sender = None, env.processor.webhooks  # the worker dies before sending
    env.processor.process(message)
    env.store.update(job.job_id, {"webhook_delivery": None})
    env.queue.send(job.job_id)
    env.processor.webhooks = sender
    assert env.processor.process(env.receive()) == Outcome.SKIPPED
    assert len(webhook_receiver.received("/late")) == 1
    assert env.service.get(job.job_id, owner="key-a").webhook_delivery["delivered"] is True


def test_a_record_naming_another_owners_file_fails_in_the_worker_without_rendering(
    make, scripted, spec
) -> None:
    # GIVEN a job record of key-b whose spec names key-a's upload (as a record written before
    # the check existed, or by anything but submit, would)
    from autovid.jobs.model import Job

    env = make(scripted())
    record = Job(job_id="job-of-b", owner="key-b", spec=spec())
    env.store.create(record)
    env.queue.send(record.job_id)

    # WHEN a worker takes it
    outcome = env.processor.process(env.receive())

    # THEN it fails at once, told what a missing file gets, and nothing renders
    failed = env.service.get("job-of-b", owner="key-b")
    assert outcome == Outcome.FAILED and failed.status == JobStatus.FAILED
    assert failed.error == (
        "asset 'main': no file 'assets/key-a/base.mp4' in managed storage; upload it first (POST /assets)"
    )
    assert env.render.calls == 0


def test_a_job_held_by_a_dead_process_is_taken_over_at_once(make, scripted, spec) -> None:
    """GIVEN a job claimed (lease and claim still running) by a process that has since ended."""
    env = make(scripted(), lease_s=60.0)
    job = env.service.submit(spec(), owner="key-a")
    env.processor._claim(env.service.get(job.job_id, owner="key-a"), env.receive())
    gone = f"{holder_prefix()}{2**31 - 1}/1"  # this machine, a pid above any pid_max
    env.store.update(job.job_id, {"claim_holder": gone, "progress": Progress("encoding", 60.0)})
    stale = env.service.get(job.job_id, owner="key-a")

    doc = env.service.status_document(stale)
    env.queue.send(job.job_id)  # a worker asks again (the queue's own release is tested elsewhere)
    outcome = env.processor.process(env.receive())

    assert doc["status"] == "retrying" and doc["progress"] == {"stage": "queued", "percent": 0.0}
    assert "worker stopped" in doc["statusReason"]
    assert outcome == Outcome.COMPLETED


def test_a_record_writing_into_another_owners_outputs_fails_in_the_worker(make, scripted, spec) -> None:
    from autovid.jobs.model import Job

    env = make(scripted())
    over_a = {**spec(), "output": {"filename": "my-video.mp4", "destination": "outputs/key-a/job-1/"}}
    env.container.blobs.put_file(
        "assets/key-b/base.mp4", env.container.blobs.path_for("assets/key-a/base.mp4")
    )
    over_a["assets"] = {"video": {"id": "main", "source": "assets/key-b/base.mp4"}}
    env.store.create(Job(job_id="job-of-b", owner="key-b", spec=over_a))
    env.queue.send("job-of-b")

    assert env.processor.process(env.receive()) == Outcome.FAILED
    failed = env.service.get("job-of-b", owner="key-b")
    assert failed.error.startswith("output.destination: 'outputs/key-a/job-1/' is outside your outputs")
    assert env.render.calls == 0 and not env.container.blobs.exists("outputs/key-a/job-1/my-video.mp4")


def test_a_message_is_deleted_only_once_its_job_has_ended(make, scripted, spec) -> None:
    """So a receipt from an earlier delivery that deletes it (moto does; SQS ignores such a
    receipt) never loses a job another worker still holds."""
    render = scripted(TransientAssetError("music", "HTTP 503"), None, None, duration_s=0.3)
    env = make(render)
    seen: list[str] = []
    delete = env.queue.delete

    def recording_delete(message) -> None:
        job = env.store.get(message.job_id)
        seen.append(job.status.value if job else "gone")
        delete(message)

    env.queue.delete = recording_delete
    retried = env.service.submit(spec(), owner="key-a")
    assert env.processor.process(env.receive()) == Outcome.RETRYING
    assert env.processor.process(env.receive(wait_s=2.0)) == Outcome.COMPLETED
    doubled = env.service.submit(spec(), owner="key-a")
    env.queue.send(doubled.job_id)
    first, second = env.receive(), env.receive()
    render.started.clear()
    holder = threading.Thread(target=env.processor.process, args=(first,))
    holder.start()
    assert render.started.wait(5)
    assert env.processor.process(second) == Outcome.DEFERRED  # the holder's job: not deleted
    holder.join(10)
    cancelled = env.service.submit(spec(), owner="key-a")
    env.service.cancel(cancelled.job_id, owner="key-a")
    assert env.processor.process(env.receive()) == Outcome.SKIPPED

    assert seen == ["completed", "completed", "cancelled"]
    ended = {env.service.get(job.job_id, owner="key-a").status for job in (retried, doubled)}
    assert ended == {JobStatus.COMPLETED}
