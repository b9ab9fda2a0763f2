"""AssetFetcher against a real HTTP(S) server on 127.0.0.1: retries, caps, redirects, the guard."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from autovid.adapters.http.asset_fetch import HttpsTransport
from autovid.assets import AssetFetcher, FetchPolicy, LocalFiles
from autovid.errors import AssetError, JobCancelledError, TransientAssetError
from autovid.spec.models import AudioAsset, VideoAsset

if TYPE_CHECKING:  # fixtures come from conftest.py (importlib mode: no imports at run time)
    from collections.abc import Callable

    from conftest import Certificates, RecordingServer

    Resolve = Callable[[dict[str, str]], Callable[[str, int], list[str]]]

BODY = os.urandom(40_000)
LOOPBACK_ONLY = ["127.0.0.1/32"]


def fetcher(**overrides: object) -> AssetFetcher:
    """Loopback is allowed through ``allowed_networks`` (not ``allow_private``), so every other
    private address stays refused, as in production."""
    settings: dict[str, object] = {
        "max_bytes": 1_000_000,
        "timeout_s": 2.0,
        "retries": 2,
        "allow_private": False,
        "allow_http": True,
        "allowed_networks": LOOPBACK_ONLY,
        "backoff_base_s": 0.01,
    }
    settings.update(overrides)
    policy = {
        name: settings.pop(name)
        for name in ("max_bytes", "retries", "backoff_base_s", "max_workers")
        if name in settings
    }
    return AssetFetcher(LocalFiles(), FetchPolicy(**policy), https=HttpsTransport(**settings))  # type: ignore[arg-type]


def audio(asset_id: str, source: str) -> AudioAsset:
    return AudioAsset(id=asset_id, source=source)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_downloads_a_file_keeping_its_extension(http_server: RecordingServer, tmp_path: Path) -> None:
    http_server.serve("/media/music.mp3", BODY)

    paths = fetcher().fetch_all([audio("music", http_server.url("/media/music.mp3"))], tmp_path)

    assert paths["music"].suffix == ".mp3"
    assert paths["music"].read_bytes() == BODY
    assert files_in(tmp_path) == [paths["music"].name]  # no .part left behind


def test_query_string_does_not_hide_the_extension(http_server: RecordingServer, tmp_path: Path) -> None:
    http_server.serve("/v.mov", BODY)

    source = http_server.url("/v.mov?X-Amz-Signature=abc&X-Amz-Expires=60")
    paths = fetcher().fetch_all([VideoAsset(id="video", source=source)], tmp_path)

    assert paths["video"].suffix == ".mov"


def test_extension_comes_from_content_type_when_the_url_has_none(
    http_server: RecordingServer, tmp_path: Path
) -> None:
    http_server.serve("/download", BODY, content_type="audio/mpeg")

    paths = fetcher().fetch_all([audio("a", http_server.url("/download"))], tmp_path)

    assert paths["a"].suffix == ".mp3"


def test_500_then_200_is_retried_and_succeeds(http_server: RecordingServer, tmp_path: Path) -> None:
    http_server.fail_then_serve("/flaky.wav", 500, failures=1, body=BODY)

    paths = fetcher(retries=2).fetch_all([audio("fx", http_server.url("/flaky.wav"))], tmp_path)

    assert paths["fx"].read_bytes() == BODY
    assert http_server.count("/flaky.wav") == 2


def test_503_forever_is_transient_after_every_attempt(http_server: RecordingServer, tmp_path: Path) -> None:
    http_server.always("/down.wav", 503)

    with pytest.raises(TransientAssetError) as caught:
        fetcher(retries=2).fetch_all([audio("fx", http_server.url("/down.wav"))], tmp_path)

    assert caught.value.asset_id == "fx"
    assert "503" in caught.value.reason and "3 attempts" in caught.value.reason
    assert caught.value.retryable
    assert http_server.count("/down.wav") == 3  # 1 attempt + 2 retries
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("status", [404, 403, 410, 400])
def test_4xx_is_permanent_with_exactly_one_request(
    http_server: RecordingServer, tmp_path: Path, status: int
) -> None:
    http_server.always("/gone.mp3", status)

    with pytest.raises(AssetError) as caught:
        fetcher(retries=3).fetch_all([audio("music", http_server.url("/gone.mp3"))], tmp_path)

    assert caught.value.asset_id == "music"
    assert str(status) in caught.value.reason
    assert http_server.count("/gone.mp3") == 1
    assert files_in(tmp_path) == []


def test_slow_answer_times_out_and_is_transient(http_server: RecordingServer, tmp_path: Path) -> None:
    http_server.slow("/slow.mp3", 3.0, BODY)

    started = time.monotonic()
    with pytest.raises(TransientAssetError) as caught:
        fetcher(timeout_s=0.3, retries=1).fetch_all([audio("m", http_server.url("/slow.mp3"))], tmp_path)
    elapsed_s = time.monotonic() - started

    assert "no answer within 0.3 s" in caught.value.reason
    assert http_server.count("/slow.mp3") == 2
    assert elapsed_s < 2.0
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("with_length", [True, False], ids=["content-length", "no-content-length"])
def test_oversize_body_is_refused_and_nothing_remains(
    http_server: RecordingServer, tmp_path: Path, with_length: bool
) -> None:
    http_server.serve("/huge.mp4", os.urandom(200_000), length=with_length)

    with pytest.raises(AssetError) as caught:
        fetcher(max_bytes=50_000).fetch_all(
            [VideoAsset(id="v", source=http_server.url("/huge.mp4"))], tmp_path
        )

    assert "too large" in caught.value.reason and "50000" in caught.value.reason
    if with_length:
        assert "200000 bytes" in caught.value.reason  # refused from the header, before the body
    assert http_server.count("/huge.mp4") == 1  # permanent: not retried
    assert files_in(tmp_path) == []


def test_redirects_are_followed_and_each_hop_is_checked(http_server: RecordingServer, tmp_path: Path) -> None:
    http_server.redirect("/start", "/middle", status=301)
    http_server.redirect("/middle", http_server.url("/final/track.flac"), status=307)
    http_server.serve("/final/track.flac", BODY)

    paths = fetcher().fetch_all([audio("t", http_server.url("/start"))], tmp_path)

    assert paths["t"].read_bytes() == BODY
    assert paths["t"].suffix == ".flac"  # from the final URL, since the first has none


def test_redirect_to_a_private_address_is_refused_before_any_request(
    http_server: RecordingServer, second_loopback_server: RecordingServer, tmp_path: Path
) -> None:
    second_loopback_server.serve("/secret", b"internal")
    http_server.redirect("/r", second_loopback_server.url("/secret"))

    with pytest.raises(AssetError) as caught:
        fetcher().fetch_all([audio("a", http_server.url("/r"))], tmp_path)

    assert "127.0.0.2 is a loopback address" in caught.value.reason
    assert second_loopback_server.count() == 0
    assert files_in(tmp_path) == []


def test_redirect_to_cloud_metadata_is_refused(http_server: RecordingServer, tmp_path: Path) -> None:
    http_server.redirect("/r", "http://169.254.169.254/latest/meta-data/iam/")

    with pytest.raises(AssetError) as caught:
        fetcher().fetch_all([audio("a", http_server.url("/r"))], tmp_path)

    assert "link-local/metadata addresses" in caught.value.reason


def test_redirect_loop_stops_after_five_redirects(http_server: RecordingServer, tmp_path: Path) -> None:
    http_server.redirect("/loop", "/loop")

    with pytest.raises(AssetError) as caught:
        fetcher().fetch_all([audio("a", http_server.url("/loop"))], tmp_path)

    assert "more than 5 redirects" in caught.value.reason
    assert http_server.count("/loop") == 6


def test_loopback_url_is_refused_without_any_request(http_server: RecordingServer, tmp_path: Path) -> None:
    http_server.serve("/a.mp3", BODY)
    strict = fetcher(allowed_networks=())

    with pytest.raises(AssetError) as caught:
        strict.fetch_all([audio("a", http_server.url("/a.mp3"))], tmp_path)

    assert caught.value.asset_id == "a"
    assert "loopback" in caught.value.reason
    assert http_server.count() == 0


def test_allow_private_development_setting_allows_loopback(
    http_server: RecordingServer, tmp_path: Path
) -> None:
    http_server.serve("/a.mp3", BODY)

    paths = fetcher(allowed_networks=(), allow_private=True).fetch_all(
        [audio("a", http_server.url("/a.mp3"))], tmp_path
    )

    assert paths["a"].read_bytes() == BODY


def test_plain_http_is_refused_unless_allowed(http_server: RecordingServer, tmp_path: Path) -> None:
    http_server.serve("/a.mp3", BODY)

    with pytest.raises(AssetError) as caught:
        fetcher(allow_http=False).fetch_all([audio("a", http_server.url("/a.mp3"))], tmp_path)

    assert "http://" in caught.value.reason and "https://" in caught.value.reason
    assert http_server.count() == 0


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local/metadata addresses"),
        ("http://10.0.0.1/x.mp3", "10.0.0.1 is a private address"),
        ("https://[::1]/x.mp3", "::1 is a loopback address"),
        ("https://localhost/x.mp3", "a loopback address"),
        ("ftp://example.com/x.mp3", "scheme 'ftp:' is not supported"),
        ("file:///etc/passwd", "scheme 'file:' is not supported"),
    ],
)
def test_dangerous_urls_are_refused(tmp_path: Path, source: str, expected: str) -> None:
    with pytest.raises(AssetError) as caught:
        fetcher(allowed_networks=()).fetch_all([audio("bad", source)], tmp_path)

    assert caught.value.asset_id == "bad"
    assert expected in caught.value.reason
    assert files_in(tmp_path) == []


def test_sources_are_fetched_concurrently(http_server: RecordingServer, tmp_path: Path) -> None:
    bodies = {f"/slow{i}.wav": os.urandom(1000) for i in range(4)}
    for path, body in bodies.items():
        http_server.slow(path, 0.3, body)
    assets = [audio(f"a{i}", http_server.url(path)) for i, path in enumerate(bodies)]

    started = time.monotonic()
    paths = fetcher(max_workers=4).fetch_all(assets, tmp_path)
    elapsed_s = time.monotonic() - started

    assert elapsed_s < 0.9, f"4 downloads of 0.3 s took {elapsed_s:.2f} s: not concurrent"
    for i, body in enumerate(bodies.values()):
        assert paths[f"a{i}"].read_bytes() == body


def test_a_shared_source_is_fetched_once(http_server: RecordingServer, tmp_path: Path) -> None:
    http_server.serve("/jingle.mp3", BODY)
    url = http_server.url("/jingle.mp3")

    paths = fetcher().fetch_all([audio("intro", url), audio("outro", url)], tmp_path)

    assert http_server.count("/jingle.mp3") == 1
    assert paths["intro"] == paths["outro"]
    assert paths["intro"].read_bytes() == BODY


def test_one_failure_removes_every_fetched_file(http_server: RecordingServer, tmp_path: Path) -> None:
    http_server.serve("/good.mp3", BODY)
    http_server.always("/missing.mp3", 404)
    http_server.always("/down.mp3", 503)
    assets = [
        audio("good", http_server.url("/good.mp3")),
        audio("missing", http_server.url("/missing.mp3")),
        audio("down", http_server.url("/down.mp3")),
    ]

    with pytest.raises(AssetError) as caught:  # the permanent problem wins over the transient one
        fetcher(retries=1).fetch_all(assets, tmp_path)

    assert caught.value.asset_id == "missing"
    assert files_in(tmp_path) == []


def test_https_connects_to_the_vetted_address_with_sni_and_verification(
    https_server: RecordingServer, certificates: Certificates, resolver_for: Resolve, tmp_path: Path
) -> None:
    https_server.serve("/voice.m4a", BODY)
    source = https_server.url("/voice.m4a", host=certificates.hostname)

    paths = fetcher(
        allow_http=False,
        resolver=resolver_for({certificates.hostname: "127.0.0.1"}),
        verify=certificates.client_context(),
    ).fetch_all([audio("voice", source)], tmp_path)

    assert paths["voice"].read_bytes() == BODY
    assert https_server.sni_names == [certificates.hostname]
    assert https_server.received()[0].headers["Host"] == f"{certificates.hostname}:{https_server.port}"


def test_https_certificate_for_another_name_is_a_failure(
    https_server: RecordingServer, certificates: Certificates, resolver_for: Resolve, tmp_path: Path
) -> None:
    https_server.serve("/voice.m4a", BODY)
    source = https_server.url("/voice.m4a", host="other.test")

    with pytest.raises(TransientAssetError) as caught:
        fetcher(
            allow_http=False,
            retries=0,
            resolver=resolver_for({"other.test": "127.0.0.1"}),
            verify=certificates.client_context(),
        ).fetch_all([audio("voice", source)], tmp_path)

    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.reason
    assert https_server.count() == 0


def test_checkpoint_stops_running_downloads_and_removes_every_file(
    http_server: RecordingServer, tmp_path: Path
) -> None:
    http_server.serve("/quick.mp3", BODY)
    http_server.drip("/long.mp4", b"x" * 1000, chunks=200, interval_s=0.05)  # 10 s in all
    started = time.monotonic()

    def checkpoint() -> None:
        if time.monotonic() - started > 0.5:
            raise JobCancelledError("job cancelled")

    with pytest.raises(JobCancelledError):
        fetcher().fetch_all(
            [
                audio("quick", http_server.url("/quick.mp3")),
                VideoAsset(id="v", source=http_server.url("/long.mp4")),
            ],
            tmp_path,
            checkpoint=checkpoint,
        )

    assert time.monotonic() - started < 2.0
    assert files_in(tmp_path) == []


def test_a_permanent_failure_stops_a_long_download(http_server: RecordingServer, tmp_path: Path) -> None:
    http_server.always("/missing.mp3", 404)
    http_server.drip("/long.mp4", b"x" * 1000, chunks=200, interval_s=0.05)  # 10 s in all
    assets = [
        VideoAsset(id="v", source=http_server.url("/long.mp4")),
        audio("m", http_server.url("/missing.mp3")),
    ]

    started = time.monotonic()
    with pytest.raises(AssetError) as caught:
        fetcher().fetch_all(assets, tmp_path)

    assert caught.value.asset_id == "m"
    assert time.monotonic() - started < 2.0
    assert files_in(tmp_path) == []
