"""Usage plans: a token bucket (requests per second with a burst) and a daily quota (UTC day).

Pure logic, like API Gateway's usage plans: ``admit(plan, usage, now_s)`` says whether one more
request may pass and returns the usage to store. A refused request consumes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

# The default plan: 2 requests/s, burst 5, 50 requests per day.
DEFAULT_RATE_PER_S = 2.0
DEFAULT_BURST = 5
DEFAULT_QUOTA_PER_DAY = 50


@dataclass(frozen=True)
class UsagePlan:
    rate_per_s: float = DEFAULT_RATE_PER_S
    burst: int = DEFAULT_BURST
    quota_per_day: int | None = DEFAULT_QUOTA_PER_DAY  # None: no daily quota

    def __post_init__(self) -> None:
        if not (self.rate_per_s > 0 and math.isfinite(self.rate_per_s)):
            raise ValueError(f"rate must be a positive number of requests per second, not {self.rate_per_s}")
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1 request, not {self.burst}")
        if self.quota_per_day is not None and self.quota_per_day < 1:
            raise ValueError(f"daily quota must be at least 1 request (or none), not {self.quota_per_day}")

    def describe(self) -> str:
        quota = "no daily quota" if self.quota_per_day is None else f"{self.quota_per_day}/day"
        return f"{self.rate_per_s:g}/s, burst {self.burst}, {quota}"


@dataclass(frozen=True)
class Usage:
    """What a key has used: the bucket's tokens at ``refilled_at_s`` and today's request count."""

    tokens: float
    refilled_at_s: float
    day: str  # UTC date, "2024-01-15"
    day_count: int

    @classmethod
    def fresh(cls, plan: UsagePlan, now_s: float) -> Usage:
        return cls(tokens=float(plan.burst), refilled_at_s=now_s, day=utc_day(now_s), day_count=0)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    usage: Usage  # the state to store, whatever the decision
    retry_after_s: float = 0.0
    reason: str | None = None  # "rate" or "quota" when refused


def admit(plan: UsagePlan, usage: Usage, now_s: float) -> Decision:
    """May one more request pass under ``plan``? Refill the bucket up to ``now_s`` first."""
    elapsed_s = max(0.0, now_s - usage.refilled_at_s)
    tokens = min(float(plan.burst), usage.tokens + elapsed_s * plan.rate_per_s)
    today = utc_day(now_s)
    day_count = usage.day_count if usage.day == today else 0
    refilled = Usage(
        tokens=tokens, refilled_at_s=max(now_s, usage.refilled_at_s), day=today, day_count=day_count
    )
    if plan.quota_per_day is not None and day_count >= plan.quota_per_day:
        return Decision(False, refilled, seconds_to_next_utc_day(now_s), "quota")
    if tokens < 1.0:
        return Decision(False, refilled, (1.0 - tokens) / plan.rate_per_s, "rate")
    return Decision(True, replace(refilled, tokens=tokens - 1.0, day_count=day_count + 1))


def retry_after_header(retry_after_s: float) -> str:
    """``Retry-After`` in whole seconds, rounded up: a client that waits that long gets through."""
    return str(max(1, math.ceil(retry_after_s - 1e-9)))


def utc_day(now_s: float) -> str:
    return datetime.fromtimestamp(now_s, UTC).date().isoformat()


def seconds_to_next_utc_day(now_s: float) -> float:
    moment = datetime.fromtimestamp(now_s, UTC)
    midnight = datetime(moment.year, moment.month, moment.day, tzinfo=UTC) + timedelta(days=1)
    return max(0.0, midnight.timestamp() - now_s)
