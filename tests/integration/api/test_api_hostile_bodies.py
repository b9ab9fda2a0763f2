"""Hostile JSON bodies over real HTTP: each is a 400 naming where the problem is, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def client(api: Any) -> Iterator[Any]:
    _, secret = api.new_key()
    with api.client(secret) as http:
        yield http


def submit_raw(client: Any, body: bytes) -> list[dict[str, str]]:
    response = client.post("/submit", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "Validation failed"
    details: list[dict[str, str]] = response.json()["details"]
    return details


@pytest.mark.parametrize("depth", [10_000, 200])
def test_deeply_nested_json_is_400_at_the_root(client: Any, depth: int) -> None:
    body = b'{"jobInfo": ' + b"[" * depth + b"]" * depth + b"}"

    (detail,) = submit_raw(client, body)

    assert detail["path"] == "$"
    assert "nested more than 64 levels" in detail["message"]


def test_an_integer_of_5001_digits_is_400_at_the_root(client: Any) -> None:
    (detail,) = submit_raw(client, b'{"jobInfo": {"n": ' + b"7" * 5001 + b"}}")

    assert detail == {"path": "$", "message": "a number has more than 4300 digits"}


@pytest.mark.parametrize(
    ("literal", "path"),
    [
        (b"NaN", "timeline[0].start"),
        (b"Infinity", "timeline[0].start"),
        (b"-Infinity", "timeline[0].start"),
        (b"1e999", "timeline[0].start"),  # too large for a float: decodes to infinity
    ],
)
def test_nan_and_infinity_are_refused_with_the_field_path(
    client: Any, minimal_spec: Any, literal: bytes, path: str
) -> None:
    body = (
        b'{"assets": {"video": {"id": "main", "source": "assets/x/base.mp4"}}, "output": {"filename": "v"},'
        b' "timeline": [{"start": ' + literal + b', "type": "tts", "data": {"text": "hi"}}]}'
    )

    (detail,) = submit_raw(client, body)

    assert detail["path"] == path
    assert "finite number" in detail["message"] and "86400" not in detail["message"]


def test_nan_in_webhook_metadata_is_refused_before_it_can_reach_a_receiver(client: Any) -> None:
    body = (
        b'{"assets": {"video": {"id": "main", "source": "assets/x/base.mp4"}}, "timeline": [],'
        b' "output": {"filename": "v"}, "notifications": {"webhook": {"url": "https://example.com/h",'
        b' "metadata": {"scores": [1, NaN]}}}}'
    )

    (detail,) = submit_raw(client, body)

    assert detail["path"] == "notifications.webhook.metadata.scores[1]"
