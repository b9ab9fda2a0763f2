"""One contract for every TemplateStore / BatchStore (SQLite, DynamoDB on a moto server), plus the
bulk calls batches use: ``JobStore.create_many`` and ``JobQueue.send_many``."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from autovid.adapters.local.db import Database
from autovid.adapters.local.sqlite_batches import SqliteBatchStore, SqliteTemplateStore
from autovid.errors import BatchNotFoundError, ConflictError, TemplateNotFoundError
from autovid.jobs.batch_model import Batch, BatchRow, Counts, RowStatus, StoredTemplate
from autovid.jobs.model import Job
from autovid.ports import BatchStore, JobStore, TemplateStore


def _sqlite(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[TemplateStore, BatchStore]:
    db = Database(tmp_path / "batches.db")
    return SqliteTemplateStore(db), SqliteBatchStore(db)


def _dynamo(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[TemplateStore, BatchStore]:
    from autovid.adapters.aws.dynamo_batches import DynamoBatchStore, DynamoTemplateStore
    from autovid.adapters.aws.provision import create_batches_table

    client = request.getfixturevalue("aws_emulator").clients().dynamodb
    table = f"batches-{uuid.uuid4().hex[:12]}"
    create_batches_table(client, table)
    return DynamoTemplateStore(client, table), DynamoBatchStore(client, table)


@pytest.fixture(params=[_sqlite, _dynamo], ids=["sqlite", "dynamodb"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[TemplateStore, BatchStore]:
    return request.param(tmp_path, request)


def template(owner: str = "alice", template_id: str = "t1", name: str = "greeting") -> StoredTemplate:
    return StoredTemplate(template_id, owner, 1, {"name": name, "variables": {}, "spec": {"n": 1.5}})


def batch(total: int = 3, *, owner: str = "alice", key: str | None = None) -> tuple[Batch, list[BatchRow]]:
    batch_id = str(uuid.uuid4())
    record = Batch(batch_id, owner, "t1", 1, Counts(total=total, submitted=total), idempotency_key=key)
    return record, [BatchRow(i, f"{batch_id}-job-{i}") for i in range(total)]


# --- templates ---------------------------------------------------------------------------------


def test_templates_keep_every_version_and_are_owner_scoped(stores: Any) -> None:
    templates, _ = stores
    templates.create(template())
    second = templates.put_version("alice", "t1", {"name": "greeting", "variables": {}, "spec": {"n": 2}})

    assert second.version == 2
    assert templates.get("alice", "t1").document["spec"] == {"n": 2}
    assert templates.get("alice", "t1", version=1).document["spec"] == {"n": 1.5}
    assert templates.get("alice", "t1", version=3) is None
    assert templates.get("bob", "t1") is None
    with pytest.raises(TemplateNotFoundError):
        templates.put_version("bob", "t1", {"name": "x", "spec": {}})


def test_templates_list_the_latest_versions_in_pages(stores: Any) -> None:
    templates, _ = stores
    for template_id in ("a", "b", "c"):
        templates.create(template(template_id=template_id))
    templates.put_version("alice", "b", {"name": "b2", "spec": {}})
    templates.create(template(owner="bob", template_id="z"))

    first, cursor = templates.list("alice", limit=2)
    rest, end = templates.list("alice", limit=2, cursor=cursor)

    assert [(t.template_id, t.version) for t in first + rest] == [("a", 1), ("b", 2), ("c", 1)]
    assert end is None


def test_a_deleted_template_is_gone_with_its_versions(stores: Any) -> None:
    templates, _ = stores
    templates.create(template())
    templates.put_version("alice", "t1", {"name": "x", "spec": {}})

    assert templates.delete("bob", "t1") is False
    assert templates.delete("alice", "t1") is True
    assert templates.get("alice", "t1") is None and templates.get("alice", "t1", version=1) is None
    assert templates.list("alice")[0] == []
    assert templates.delete("alice", "t1") is False


# --- batches -----------------------------------------------------------------------------------


def test_a_batch_and_its_rows_read_back(stores: Any) -> None:
    _, batches = stores
    record, rows = batch(5)
    batches.create(record, rows)

    stored = batches.get(record.batch_id)
    assert stored is not None and stored.counts == Counts(total=5, submitted=5)
    assert stored.owner == "alice" and stored.template_version == 1 and not stored.accepted
    assert batches.rows(record.batch_id) == rows
    assert batches.rows(record.batch_id, start=3, limit=1) == rows[3:4]
    assert batches.get(str(uuid.uuid4())) is None


def test_the_same_idempotency_key_returns_the_first_batch(stores: Any) -> None:
    _, batches = stores
    first, rows = batch(2, key="k")
    again, again_rows = batch(2, key="k")
    other_owner, other_rows = batch(2, owner="bob", key="k")

    assert batches.create(first, rows).batch_id == first.batch_id
    assert batches.create(again, again_rows).batch_id == first.batch_id
    assert batches.create(other_owner, other_rows).batch_id == other_owner.batch_id
    assert batches.get(again.batch_id) is None


def test_rows_move_forward_only_and_the_counters_follow(stores: Any) -> None:
    _, batches = stores
    record, rows = batch(3)
    batches.create(record, rows)
    bid = record.batch_id

    assert batches.move_row(bid, 0, job_id=rows[0].job_id, to=RowStatus.PROCESSING) is not None
    done = batches.move_row(bid, 0, job_id=rows[0].job_id, to=RowStatus.COMPLETED)
    assert batches.move_row(bid, 0, job_id=rows[0].job_id, to=RowStatus.FAILED) is None  # ended
    assert batches.move_row(bid, 1, job_id="someone-else", to=RowStatus.FAILED) is None  # not its job
    assert batches.move_row(bid, 1, job_id=rows[1].job_id, to=RowStatus.SUBMITTED) is None  # not failed
    failed = batches.move_row(bid, 2, job_id=rows[2].job_id, to=RowStatus.FAILED)

    assert done is not None and done.counts == Counts(total=3, submitted=2, completed=1)
    assert failed is not None and failed.counts == Counts(total=3, submitted=1, completed=1, failed=1)
    assert [r.row for r in batches.rows(bid, status=RowStatus.FAILED)] == [2]


def test_a_retried_row_gets_a_new_job_and_the_old_one_no_longer_moves_it(stores: Any) -> None:
    _, batches = stores
    record, rows = batch(1)
    batches.create(record, rows)
    bid, old = record.batch_id, rows[0].job_id
    batches.move_row(bid, 0, job_id=old, to=RowStatus.FAILED)

    retried = batches.move_row(bid, 0, job_id=old, to=RowStatus.SUBMITTED, new_job_id="new-job")
    late = batches.move_row(bid, 0, job_id=old, to=RowStatus.COMPLETED)

    assert retried is not None and retried.counts == Counts(total=1, submitted=1)
    assert late is None
    assert batches.rows(bid) == [BatchRow(0, "new-job", RowStatus.SUBMITTED, 2)]


def test_concurrent_moves_lose_no_increment(stores: Any) -> None:
    _, batches = stores
    record, rows = batch(40)
    batches.create(record, rows)
    barrier = threading.Barrier(4)

    def finish(part: int) -> None:
        barrier.wait()
        for row in rows[part::4]:
            for _ in range(2):  # a duplicate report of the same ending counts once
                batches.move_row(record.batch_id, row.row, job_id=row.job_id, to=RowStatus.COMPLETED)

    threads = [threading.Thread(target=finish, args=(part,)) for part in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stored = batches.get(record.batch_id)
    assert stored is not None and stored.counts == Counts(total=40, completed=40)


def test_update_checks_expectations_and_leaves_the_counters_alone(stores: Any) -> None:
    _, batches = stores
    record, rows = batch(2)
    batches.create(record, rows)
    batches.move_row(record.batch_id, 0, job_id=rows[0].job_id, to=RowStatus.COMPLETED)

    updated = batches.update(record.batch_id, {"notified_round": 1}, expect={"notified_round": 0})
    with pytest.raises(ConflictError):
        batches.update(record.batch_id, {"notified_round": 1}, expect={"notified_round": 0})
    with pytest.raises(BatchNotFoundError):
        batches.update(str(uuid.uuid4()), {"accepted": True})

    assert updated.notified_round == 1 and updated.counts == Counts(total=2, submitted=1, completed=1)


# --- bulk job calls ----------------------------------------------------------------------------


def test_create_many_stores_only_the_jobs_whose_id_is_free(job_store: JobStore) -> None:
    jobs = [
        Job(job_id=str(uuid.uuid4()), owner="alice", spec={"i": i}, batch_id="b", batch_row=i)
        for i in range(30)
    ]
    first = job_store.create_many(jobs[:20])
    second = job_store.create_many(jobs)

    assert [j.job_id for j in first] == [j.job_id for j in jobs[:20]]
    assert sorted(j.job_id for j in second) == sorted(j.job_id for j in jobs[20:])
    stored = job_store.get(jobs[7].job_id)
    assert stored is not None and (stored.batch_id, stored.batch_row, stored.spec) == ("b", 7, {"i": 7})


def test_send_many_queues_every_job_once(queue_harness: Any) -> None:
    job_ids = [f"job-{i}" for i in range(25)]
    queue_harness.queue.send_many(job_ids)
    received: list[str] = []
    for _ in range(50):
        messages = queue_harness.queue.receive(max_messages=10, wait_s=0.2)
        for message in messages:
            received.append(message.job_id)
            queue_harness.queue.delete(message)
        if len(received) >= 25 and not messages:
            break
    assert sorted(received) == sorted(job_ids)
