"""The SQLite key store: keys hashed, shown once, revocable; usage plans enforced atomically,
also across processes sharing the data folder."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autovid.adapters.local.db import Database
from autovid.adapters.local.sqlite_keys import SqliteKeyStore
from autovid.auth.authenticators import ApiGatewayAuthenticator, LocalAuthenticator
from autovid.auth.keys import ForbiddenError, KeyNotFoundError, RateLimitedError, hash_key
from autovid.auth.plans import UsagePlan

NOON_UTC = 1_736_942_400.0


class Clock:
    def __init__(self) -> None:
        self.now_s = NOON_UTC

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> SqliteKeyStore:
    return SqliteKeyStore(Database(tmp_path / "autovid.db"), clock=clock)


def test_a_key_is_long_random_and_stored_only_as_a_hash(tmp_path: Path, store: SqliteKeyStore) -> None:
    key, secret = store.create(name="ci")
    other_key, other_secret = store.create(name="ci")

    assert secret.startswith("avk_") and len(secret) >= 4 + 43
    assert secret != other_secret and key.key_id != other_key.key_id
    raw_db = b"".join(p.read_bytes() for p in tmp_path.glob("autovid.db*"))
    assert secret.encode() not in raw_db
    assert hash_key(secret).encode() in raw_db
    assert store.admit(secret) == key.key_id


def test_keys_are_listed_with_plans_and_use_but_never_their_secret(store: SqliteKeyStore) -> None:
    key, secret = store.create(name="web", plan=UsagePlan(rate_per_s=10, burst=20, quota_per_day=None))
    store.admit(secret)
    store.admit(secret)

    (listed,) = store.list()
    assert listed.key_id == key.key_id and listed.name == "web"
    assert listed.plan == UsagePlan(rate_per_s=10, burst=20, quota_per_day=None)
    assert listed.requests_today == 2 and listed.last_used_at is not None and listed.active
    assert secret not in repr(listed)


def test_unknown_and_revoked_keys_are_forbidden(store: SqliteKeyStore) -> None:
    key, secret = store.create(name="gone")
    with pytest.raises(ForbiddenError):
        store.admit("avk_" + "x" * 43)

    store.revoke(key.key_id)
    with pytest.raises(ForbiddenError):
        store.admit(secret)
    assert not store.get(key.key_id).active
    with pytest.raises(KeyNotFoundError):
        store.revoke("key_missing")


def test_the_default_plan_admits_a_burst_of_five(store: SqliteKeyStore, clock: Clock) -> None:
    _, secret = store.create(name="default")
    for _ in range(5):
        store.admit(secret)
    with pytest.raises(RateLimitedError) as refused:
        store.admit(secret)
    assert refused.value.retry_after_s == pytest.approx(0.5)

    clock.now_s += 0.5
    store.admit(secret)


def test_the_daily_quota_holds_until_the_next_utc_day(store: SqliteKeyStore, clock: Clock) -> None:
    _, secret = store.create(name="quota", plan=UsagePlan(rate_per_s=100, burst=100, quota_per_day=50))
    for _ in range(50):
        store.admit(secret)
    with pytest.raises(RateLimitedError) as refused:
        store.admit(secret)
    assert refused.value.retry_after_s == pytest.approx(12 * 3600)

    clock.now_s += 12 * 3600
    store.admit(secret)


def test_a_new_plan_applies_at_once(store: SqliteKeyStore) -> None:
    key, secret = store.create(name="grow", plan=UsagePlan(rate_per_s=0.001, burst=1, quota_per_day=None))
    store.admit(secret)
    with pytest.raises(RateLimitedError):
        store.admit(secret)

    store.set_plan(key.key_id, UsagePlan(rate_per_s=1000, burst=1000, quota_per_day=None))
    store.admit(secret)
    assert store.get(key.key_id).plan.burst == 1000


def test_processes_sharing_the_folder_never_admit_more_than_the_plan(tmp_path: Path) -> None:
    store = SqliteKeyStore(Database(tmp_path / "autovid.db"))
    _, secret = store.create(name="shared", plan=UsagePlan(rate_per_s=1e-6, burst=20, quota_per_day=None))
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from autovid.adapters.local.db import Database
        from autovid.adapters.local.sqlite_keys import SqliteKeyStore
        from autovid.auth.keys import RateLimitedError
        store = SqliteKeyStore(Database(Path({str(tmp_path / "autovid.db")!r})))
        allowed = 0
        for _ in range(15):
            try:
                store.admit({secret!r})
                allowed += 1
            except RateLimitedError:
                pass
        print(allowed)
        """
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(3)
    ]
    counts = [int(p.communicate(timeout=60)[0]) for p in processes]

    assert sum(counts) == 20  # 45 attempts, exactly the burst got through


def test_the_local_authenticator_needs_a_header(store: SqliteKeyStore) -> None:
    auth = LocalAuthenticator(store)
    key, secret = store.create(name="h")
    assert auth.authenticate(secret, {}) == key.key_id
    for bad in (None, "", "x" * 1000):
        with pytest.raises(ForbiddenError):
            auth.authenticate(bad, {})


def test_the_api_gateway_authenticator_reads_the_key_id_from_the_event() -> None:
    auth = ApiGatewayAuthenticator()
    scope = {"aws.event": {"requestContext": {"identity": {"apiKeyId": "abc123xyz"}}}}
    assert auth.authenticate(None, scope) == "abc123xyz"
    for scope in ({}, {"aws.event": {}}, {"aws.event": {"requestContext": {"identity": {"apiKeyId": None}}}}):
        with pytest.raises(ForbiddenError):
            auth.authenticate("ignored", scope)
