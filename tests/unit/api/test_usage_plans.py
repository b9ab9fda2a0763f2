"""The usage plan's arithmetic: token bucket, daily quota (UTC day), Retry-After."""

from __future__ import annotations

import pytest

from autovid.auth.plans import (
    Usage,
    UsagePlan,
    admit,
    retry_after_header,
    seconds_to_next_utc_day,
    utc_day,
)

NOON_UTC = 1_736_942_400.0  # 2025-01-15 12:00:00 UTC


def run(plan: UsagePlan, times_s: list[float], usage: Usage | None = None) -> list[bool]:
    usage = usage or Usage.fresh(plan, times_s[0])
    allowed = []
    for now_s in times_s:
        decision = admit(plan, usage, now_s)
        usage = decision.usage
        allowed.append(decision.allowed)
    return allowed


def test_the_default_plan_is_the_seeds() -> None:
    plan = UsagePlan()
    assert (plan.rate_per_s, plan.burst, plan.quota_per_day) == (2.0, 5, 50)


def test_a_burst_of_five_passes_and_the_sixth_is_refused() -> None:
    assert run(UsagePlan(), [NOON_UTC] * 6) == [True] * 5 + [False]


def test_the_bucket_refills_at_the_rate() -> None:
    plan = UsagePlan()
    usage = Usage.fresh(plan, NOON_UTC)
    for _ in range(5):
        usage = admit(plan, usage, NOON_UTC).usage

    refused = admit(plan, usage, NOON_UTC + 0.25)
    assert not refused.allowed and refused.reason == "rate"
    assert refused.retry_after_s == pytest.approx(0.25)  # half a token is missing at 2/s
    assert admit(plan, refused.usage, NOON_UTC + 0.5).allowed


def test_a_steady_two_per_second_passes_forever_but_three_per_second_does_not() -> None:
    plan = UsagePlan(quota_per_day=None)
    two_per_s = [NOON_UTC + i * 0.5 for i in range(200)]
    assert all(run(plan, two_per_s))
    three_per_s = [NOON_UTC + i / 3 for i in range(60)]
    allowed = run(plan, three_per_s)
    # Over 20 s: the burst of 5 plus 2/s refill, and not one more.
    assert sum(allowed) == 5 + int(2 * three_per_s[-1] - 2 * three_per_s[0])


def test_the_bucket_never_holds_more_than_the_burst() -> None:
    plan = UsagePlan(quota_per_day=None)
    usage = Usage(tokens=0.0, refilled_at_s=NOON_UTC - 3600, day=utc_day(NOON_UTC), day_count=0)
    assert run(plan, [NOON_UTC] * 7, usage) == [True] * 5 + [False] * 2


def test_the_fifty_first_request_of_a_utc_day_is_refused_until_midnight() -> None:
    plan = UsagePlan(rate_per_s=100.0, burst=100)
    usage = Usage.fresh(plan, NOON_UTC)
    for i in range(50):
        decision = admit(plan, usage, NOON_UTC + i)
        assert decision.allowed
        usage = decision.usage
    refused = admit(plan, usage, NOON_UTC + 100)
    assert not refused.allowed and refused.reason == "quota"
    assert refused.retry_after_s == pytest.approx(12 * 3600 - 100)

    next_day = admit(plan, refused.usage, NOON_UTC + 12 * 3600)  # 00:00:00 UTC
    assert next_day.allowed and next_day.usage.day_count == 1 and next_day.usage.day == "2025-01-16"


def test_a_refused_request_consumes_nothing() -> None:
    plan = UsagePlan(rate_per_s=1.0, burst=1, quota_per_day=3)
    usage = admit(plan, Usage.fresh(plan, NOON_UTC), NOON_UTC).usage
    refused = admit(plan, usage, NOON_UTC)
    assert not refused.allowed
    assert refused.usage.day_count == 1 and refused.usage.tokens == pytest.approx(0.0)


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(1.0) == "1"
    assert retry_after_header(1.2) == "2"
    assert seconds_to_next_utc_day(NOON_UTC) == 12 * 3600


@pytest.mark.parametrize(
    ("rate", "burst", "quota"),
    [(0.0, 5, 50), (-1.0, 5, 50), (float("inf"), 5, 50), (2.0, 0, 50), (2.0, 5, 0)],
)
def test_impossible_plans_are_refused(rate: float, burst: int, quota: int) -> None:
    with pytest.raises(ValueError):
        UsagePlan(rate_per_s=rate, burst=burst, quota_per_day=quota)
