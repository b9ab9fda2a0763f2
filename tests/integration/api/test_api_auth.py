"""X-API-Key on every route but health; 403 and 429 exactly as API Gateway answers them."""

from __future__ import annotations

from typing import Any

import pytest

from autovid.auth.plans import UsagePlan

PROTECTED = [
    ("POST", "/submit"),
    ("GET", "/status/00000000-0000-0000-0000-000000000000"),
    ("GET", "/jobs"),
    ("POST", "/jobs/00000000-0000-0000-0000-000000000000/cancel"),
    ("POST", "/assets?filename=a.mp3"),
]


def test_health_needs_no_key(api: Any) -> None:
    response = api.http.get(f"{api.url}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("key", [None, "", "avk_not-a-real-key"])
def test_a_missing_or_unknown_key_gets_403(api: Any, method: str, path: str, key: str | None) -> None:
    headers = {} if key is None else {"X-API-Key": key}
    response = api.http.request(method, f"{api.url}{path}", headers=headers, content=b"{}")
    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}


def test_a_revoked_key_gets_403_from_its_next_request(api: Any) -> None:
    key_id, secret = api.new_key()
    with api.client(secret) as client:
        assert client.get("/jobs").status_code == 200
        api.keys.revoke(key_id)
        response = client.get("/jobs")
    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}


def test_five_quick_requests_pass_and_the_sixth_gets_429_with_retry_after(api: Any) -> None:
    _, secret = api.new_key(UsagePlan())  # the default plan: 2/s, burst 5, 50/day
    with api.client(secret) as client:
        statuses = [client.get("/jobs").status_code for _ in range(5)]
        refused = client.get("/jobs")
        api.clock.advance(0.5)  # one token back at 2/s
        again = client.get("/jobs")

    assert statuses == [200] * 5
    assert refused.status_code == 429
    assert refused.json() == {"message": "Too Many Requests"}
    assert refused.headers["Retry-After"] == "1"
    assert again.status_code == 200


def test_the_fifty_first_request_of_the_day_gets_429_until_midnight_utc(api: Any) -> None:
    _, secret = api.new_key(UsagePlan(rate_per_s=1000, burst=1000, quota_per_day=50))
    with api.client(secret) as client:
        statuses = [client.get("/jobs").status_code for _ in range(50)]
        refused = client.get("/jobs")
        api.clock.advance(12 * 3600)  # the fixture's clock starts at 12:00 UTC
        next_day = client.get("/jobs")

    assert statuses == [200] * 50
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(12 * 3600)
    assert next_day.status_code == 200


def test_each_key_has_its_own_plan_and_usage(api: Any) -> None:
    _, tight = api.new_key(UsagePlan(rate_per_s=0.01, burst=1, quota_per_day=None))
    _, roomy = api.new_key()
    with api.client(tight) as a, api.client(roomy) as b:
        assert a.get("/jobs").status_code == 200
        assert a.get("/jobs").status_code == 429
        assert [b.get("/jobs").status_code for _ in range(20)] == [200] * 20


def test_a_throttled_request_is_not_executed(api: Any, tiny_video: Any, minimal_spec: Any) -> None:
    _, setup = api.new_key()
    source = api.upload_video(setup, tiny_video)
    _, secret = api.new_key(UsagePlan(rate_per_s=0.01, burst=1, quota_per_day=None))
    with api.client(secret) as client:
        assert client.get("/jobs").status_code == 200
        refused = client.post("/submit", json=minimal_spec(source))
        api.clock.advance(200)
        listed = client.get("/jobs").json()

    assert refused.status_code == 429
    assert listed["jobs"] == []
