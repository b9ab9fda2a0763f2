"""The processor tells its ``events`` collaborator (a batch's counters) of every job it claims
or ends, and a failing collaborator never changes the job's outcome."""

from __future__ import annotations

from autovid.errors import MediaError, TransientAssetError, TransientStorageError
from autovid.jobs.model import Job, JobStatus
from autovid.jobs.processor import Outcome


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.seen: list[tuple[str, JobStatus]] = []
        self.fail = fail

    def job_changed(self, job: Job) -> bool:
        self.seen.append((job.job_id, job.status))
        if self.fail:
            raise TransientStorageError("the batch table is unreachable")
        return False


def test_a_claim_and_the_ending_are_told(make, scripted, spec) -> None:
    env = make(scripted(None, MediaError("corrupt")))
    env.processor.events = recorder = Recorder()
    ok = env.service.submit(spec(), owner="key-a")
    assert env.processor.process(env.receive()) == Outcome.COMPLETED
    bad = env.service.submit(spec(), owner="key-a")
    assert env.processor.process(env.receive()) == Outcome.FAILED

    assert recorder.seen == [
        (ok.job_id, JobStatus.PROCESSING),
        (ok.job_id, JobStatus.COMPLETED),
        (bad.job_id, JobStatus.PROCESSING),
        (bad.job_id, JobStatus.FAILED),
    ]


def test_a_retry_is_told_as_a_second_claim_and_a_redelivery_of_an_ended_job_again(
    make, scripted, spec
) -> None:
    env = make(scripted(TransientAssetError("music", "HTTP 503"), None))
    env.processor.events = recorder = Recorder()
    job = env.service.submit(spec(), owner="key-a")
    assert env.processor.process(env.receive()) == Outcome.RETRYING
    assert env.processor.process(env.receive(wait_s=2.0)) == Outcome.COMPLETED
    env.queue.send(job.job_id)  # a duplicate delivery after the end
    assert env.processor.process(env.receive()) == Outcome.SKIPPED

    statuses = [status for _, status in recorder.seen]
    assert statuses == [JobStatus.PROCESSING, JobStatus.PROCESSING, JobStatus.COMPLETED, JobStatus.COMPLETED]


def test_a_failing_collaborator_does_not_change_the_outcome(make, scripted, spec) -> None:
    env = make(scripted())
    env.processor.events = Recorder(fail=True)
    job = env.service.submit(spec(), owner="key-a")

    assert env.processor.process(env.receive()) == Outcome.COMPLETED
    assert env.service.get(job.job_id, owner="key-a").status == JobStatus.COMPLETED
