"""Owner-scoped keys: the owner segment, and what a job of one owner may read and write."""

from __future__ import annotations

import pytest

from autovid.assets.ownership import SourceRules, output_key, owner_segment, owns, upload_key


def test_plain_key_ids_are_used_as_they_are_and_others_hashed_apart() -> None:
    assert owner_segment("key_0a1b2c3d4e5f") == "key_0a1b2c3d4e5f"
    assert owner_segment("a1b2c3d4e5") == "a1b2c3d4e5"  # an API Gateway apiKeyId
    odd = owner_segment("team/a")
    assert odd.startswith("h.") and "/" not in odd and odd != owner_segment("team/b")
    assert upload_key("team/a", "x.mp4").startswith(f"assets/{odd}/")


def test_an_owner_reaches_only_its_own_prefixes() -> None:
    assert owns("key_a", upload_key("key_a", "m.mp3"))
    assert owns("key_a", output_key("key_a", "job-1", "v.mp4"))
    for key in (
        "assets/key_b/x/m.mp3",
        "outputs/key_b/job/v.mp4",
        "assets/key_ab/x",
        "assets/x.mp3",
        "key_a/x",
    ):
        assert not owns("key_a", key), key


@pytest.mark.parametrize(
    ("source", "refusal", "key"),
    [
        ("assets/key_a/1/m.mp3", None, "assets/key_a/1/m.mp3"),
        ("assets/key_b/1/m.mp3", "no file 'assets/key_b/1/m.mp3' in managed storage", None),
        ("s3://managed/assets/key_a/1/m.mp3", None, "assets/key_a/1/m.mp3"),
        ("s3://managed/assets/key_b/1/m.mp3", "no file 'assets/key_b/1/m.mp3' in managed storage", None),
        ("s3://media/any/thing.mp3", None, None),
        ("s3://elsewhere/x.mp3", "bucket 'elsewhere' is not allowed for s3:// sources", None),
        ("https://example.com/m.mp3", None, None),
    ],
)
def test_source_rules(source: str, refusal: str | None, key: str | None) -> None:
    rules = SourceRules("key_a", frozenset({"managed", "media"}), managed_bucket="managed")
    found, named = rules.source_refusal(source)
    assert (found is None) == (refusal is None) and (refusal is None or refusal in found)
    assert named == key


def test_destinations_stay_among_the_owners_outputs() -> None:
    rules = SourceRules("key_a", frozenset({"managed"}), managed_bucket="managed")
    assert rules.destination_refusal("outputs/key_a/campaign/") is None
    assert rules.destination_refusal("s3://customer-bucket/renders/") is None  # IAM decides
    for bad in (
        "outputs/key_b/job/",
        "assets/",
        "outputs/key_a/../key_b/",
        "s3://managed/outputs/key_b/x.mp4",
    ):
        assert "is outside your outputs" in (rules.destination_refusal(bad) or ""), bad
