"""The JobQueue contract (SQS semantics), run against every implementation in ``QUEUE_BACKENDS``."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter

import pytest

from autovid.errors import ConflictError
from autovid.ports import JobQueue


def test_receive_delivers_and_hides_for_the_lease(queue_harness) -> None:
    queue_harness.queue.send("job-1")
    message = queue_harness.receive_one()
    assert message.job_id == "job-1" and message.receive_count == 1 and message.receipt
    queue_harness.receive_none()


def test_lease_expiry_redelivers_with_a_new_receipt(queue_harness) -> None:
    queue_harness.queue.send("job-1")
    first = queue_harness.receive_one()
    second = queue_harness.receive_one(wait_s=queue_harness.lease_s + 3)  # polls past the lease
    assert second.job_id == "job-1"
    assert second.receive_count == 2
    assert second.receipt != first.receipt


def test_a_stale_receipt_cannot_delete_the_redelivered_message(fencing_queue_harness) -> None:
    queue_harness = fencing_queue_harness
    queue = queue_harness.queue
    queue.send("job-1")
    stale = queue_harness.receive_one()
    current = queue_harness.receive_one(wait_s=queue_harness.lease_s + 3)
    with contextlib.suppress(ConflictError):  # refusing is allowed; deleting the new holder's is not
        queue.delete(stale)
    queue.release(current, delay_s=0)  # still there: the current receipt works
    again = queue_harness.receive_one()
    assert again.job_id == "job-1"
    queue.delete(again)
    queue_harness.receive_none(wait_s=queue_harness.lease_s + 1.5)  # watched past the lease's end


def test_extend_lease_keeps_the_message_hidden(queue_harness) -> None:
    queue = queue_harness.queue
    queue.send("job-1")
    message = queue_harness.receive_one()
    queue.extend_lease(message, queue_harness.lease_s + 4)
    # watched from before the first lease ends until well before the extended one does
    queue_harness.receive_none(wait_s=queue_harness.lease_s + 1.5)
    queue.delete(message)


def test_release_with_delay_makes_it_visible_later(queue_harness) -> None:
    queue = queue_harness.queue
    queue.send("job-1")
    message = queue_harness.receive_one()
    queue.release(message, delay_s=3)
    queue_harness.receive_none(wait_s=1.5)
    again = queue_harness.receive_one(wait_s=5)
    assert again.job_id == "job-1" and again.receive_count == 2


def test_send_with_delay(queue_harness) -> None:
    queue_harness.queue.send("job-1", delay_s=3)
    queue_harness.receive_none(wait_s=1.5)
    assert queue_harness.receive_one(wait_s=5).job_id == "job-1"


def test_delete_removes_the_message_for_good(queue_harness) -> None:
    queue = queue_harness.queue
    queue.send("job-1")
    queue.delete(queue_harness.receive_one())
    queue_harness.receive_none(wait_s=queue_harness.lease_s + 1.5)  # watched past the lease's end


def test_dead_letter_after_max_receives(queue_harness) -> None:
    queue = queue_harness.queue
    queue.send("poison")
    counts: list[int] = []
    for _ in range(queue_harness.max_receives):
        message = _receive_job(queue_harness, "poison")
        counts.append(message.receive_count)
        queue.release(message, delay_s=0)
    assert counts == list(range(1, queue_harness.max_receives + 1))
    queue.send("fine")
    # The next receive moves it to the dead-letter queue instead of delivering it.
    deadline = time.monotonic() + 5
    while "poison" not in queue_harness.dead_letter_job_ids():
        for message in queue.receive(max_messages=10, wait_s=0.2):
            assert message.job_id != "poison"
            queue.release(message, delay_s=0)
        assert time.monotonic() < deadline, "poison message was not dead-lettered"
    assert queue_harness.dead_letter_job_ids().count("poison") == 1
    assert "fine" not in queue_harness.dead_letter_job_ids()


def test_concurrent_consumers_never_share_a_message(queue_harness) -> None:
    job_ids = [f"job-{i}" for i in range(24)]
    for job_id in job_ids:
        queue_harness.queue.send(job_id)
    consumers: list[JobQueue] = [queue_harness.queue] + [queue_harness.make_twin() for _ in range(3)]
    received: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(consumers))

    def consume(queue: JobQueue) -> None:
        barrier.wait()
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < 1.0:
            messages = queue.receive(max_messages=2, wait_s=0.1)
            if messages:
                idle_since = time.monotonic()
            for message in messages:
                with lock:
                    received.append(message.job_id)
                queue.delete(message)

    threads = [threading.Thread(target=consume, args=(q,)) for q in consumers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    duplicates = [job for job, n in Counter(received).items() if n > 1]
    assert duplicates == []
    assert sorted(received) == sorted(job_ids)


def _receive_job(queue_harness, job_id: str):
    """Receive until the message for ``job_id`` comes (other messages go straight back)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for message in queue_harness.queue.receive(max_messages=1, wait_s=0.5):
            if message.job_id == job_id:
                return message
            queue_harness.queue.release(message, delay_s=0)
    pytest.fail(f"no message for {job_id}")


# --- optional capabilities: declared by the port, so a renamed method fails here --------------


def test_receive_returns_at_once_when_asked_to_stop(queue_harness) -> None:
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    assert queue_harness.queue.receive(max_messages=1, wait_s=5.0, stop=stop) == []
    assert time.monotonic() - started < 2.0


def test_a_queue_that_dead_letters_itself_tells_the_handler(queue_harness) -> None:
    told: list[tuple[str, int]] = []
    accepted = queue_harness.queue.set_dead_letter_handler(lambda job_id, count: told.append((job_id, count)))
    assert accepted is queue_harness.dead_letters_itself
    if not accepted:
        return  # SQS redrives to its dead-letter queue; the handler is never called
    queue = queue_harness.queue
    queue.send("poison")
    for _ in range(queue_harness.max_receives):
        queue.release(_receive_job(queue_harness, "poison"), delay_s=0)
    queue_harness.receive_none()
    assert told == [("poison", queue_harness.max_receives)]
