"""The cached synthesizer: keyed by everything that changes the audio, atomic, thread-safe."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from autovid.errors import SpeechError
from autovid.ports import SpeechAudio, SpeechEngine, SpeechRequest
from autovid.spec.validation import parse_spec
from autovid.speech.synthesizer import SpeechSynthesizer, speech_request

REQUEST = SpeechRequest(
    text="Hello there.", text_type="text", voice_id="Joanna", engine="neural", language_code=None
)


class CountingEngine(SpeechEngine):
    """A fake engine that records each call and returns bytes derived from the request."""

    name = "counting"

    def __init__(self, *, delay_s: float = 0.0, extension: str = "wav", version: str = "1") -> None:
        self.calls: list[SpeechRequest] = []
        self.delay_s = delay_s
        self.extension = extension
        self.version = version
        self._lock = threading.Lock()

    def synthesize(self, request: SpeechRequest) -> SpeechAudio:
        with self._lock:
            self.calls.append(request)
        time.sleep(self.delay_s)
        return SpeechAudio(data=f"audio:{request.text}:{request.voice_id}".encode(), extension=self.extension)


class FailingEngine(CountingEngine):
    def synthesize(self, request: SpeechRequest) -> SpeechAudio:
        super().synthesize(request)
        raise SpeechError("refused")


def test_second_synthesis_of_the_same_request_does_not_call_the_engine(tmp_path: Path) -> None:
    engine = CountingEngine()
    synthesizer = SpeechSynthesizer(engine, tmp_path)
    first = synthesizer.synthesize(REQUEST)
    second = synthesizer.synthesize(replace(REQUEST))
    assert first == second and first.read_bytes() == b"audio:Hello there.:Joanna"
    assert first.suffix == ".wav" and first.is_relative_to(tmp_path)
    assert len(engine.calls) == 1


def test_cache_survives_a_new_synthesizer(tmp_path: Path) -> None:
    SpeechSynthesizer(CountingEngine(), tmp_path).synthesize(REQUEST)
    engine = CountingEngine()
    SpeechSynthesizer(engine, tmp_path).synthesize(REQUEST)
    assert engine.calls == []


@pytest.mark.parametrize(
    "change",
    [
        {"text": "Hello there!"},
        {"text_type": "ssml", "text": "<speak>Hello there.</speak>"},
        {"voice_id": "Matthew"},
        {"engine": "generative"},
        {"language_code": "en-US"},
    ],
)
def test_any_changed_field_synthesizes_again(tmp_path: Path, change: dict[str, str]) -> None:
    engine = CountingEngine()
    synthesizer = SpeechSynthesizer(engine, tmp_path)
    first = synthesizer.synthesize(REQUEST)
    second = synthesizer.synthesize(replace(REQUEST, **change))
    assert first != second
    assert len(engine.calls) == 2


def test_engine_name_and_version_enter_the_key(tmp_path: Path) -> None:
    keys = {
        SpeechSynthesizer(CountingEngine(version="1"), tmp_path).cache_key(REQUEST),
        SpeechSynthesizer(CountingEngine(version="2"), tmp_path).cache_key(REQUEST),
    }

    class OtherEngine(CountingEngine):
        name = "other"

    keys.add(SpeechSynthesizer(OtherEngine(), tmp_path).cache_key(REQUEST))
    assert len(keys) == 3


def test_concurrent_requests_for_one_key_synthesize_once(tmp_path: Path) -> None:
    engine = CountingEngine(delay_s=0.2)
    synthesizer = SpeechSynthesizer(engine, tmp_path)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(synthesizer.synthesize(REQUEST))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(engine.calls) == 1
    assert len(set(results)) == 1 and len(results) == 8


def test_failures_leave_nothing_in_the_cache(tmp_path: Path) -> None:
    engine = FailingEngine()
    synthesizer = SpeechSynthesizer(engine, tmp_path)
    for _ in range(2):
        with pytest.raises(SpeechError, match="refused"):
            synthesizer.synthesize(REQUEST)
    assert len(engine.calls) == 2  # a failure is not cached
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    synthesizer = SpeechSynthesizer(CountingEngine(extension="mp3"), tmp_path)
    path = synthesizer.synthesize(REQUEST)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [path]
    assert path.suffix == ".mp3"


def test_unknown_audio_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpeechError, match="unknown audio type 'exe'"):
        SpeechSynthesizer(CountingEngine(extension="exe"), tmp_path).synthesize(REQUEST)


def test_speech_request_from_a_spec_event() -> None:
    spec = parse_spec(
        {
            "assets": {"video": {"id": "v", "source": "v.mp4"}},
            "timeline": [
                {
                    "start": 1,
                    "type": "tts",
                    "data": {
                        "text": "Bonjour.",
                        "providerConfig": {"voiceId": "Lea", "engine": "generative", "languageCode": "fr-FR"},
                    },
                },
                {"start": 2, "type": "tts", "data": {"text": "Hi."}},
            ],
            "output": {"filename": "out"},
        }
    )
    requests = [speech_request(event.data) for event in spec.timeline]  # type: ignore[arg-type]
    assert requests == [
        SpeechRequest("Bonjour.", "text", "Lea", "generative", "fr-FR"),
        SpeechRequest("Hi.", "text", "Joanna", "neural", None),
    ]


class SizedEngine(CountingEngine):
    """Returns ``size`` bytes per request, so the cache's size is known exactly."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def synthesize(self, request: SpeechRequest) -> SpeechAudio:
        super().synthesize(request)
        return SpeechAudio(data=b"x" * self.size, extension="wav")


class Clock:
    def __init__(self) -> None:
        self.now_s = 1_000_000.0

    def __call__(self) -> float:
        return self.now_s


def said(text: str) -> SpeechRequest:
    return replace(REQUEST, text=text)


def cache_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_the_cache_evicts_the_least_recently_used_files_past_its_limit(tmp_path: Path) -> None:
    # GIVEN a 1000-byte cache holding A, B and C (300 bytes each, used in that order), A used again
    engine, clock = SizedEngine(300), Clock()
    synthesizer = SpeechSynthesizer(engine, tmp_path, max_bytes=1000, in_use_s=0.5, clock=clock)
    paths = {}
    for text in ("A", "B", "C"):
        paths[text] = synthesizer.synthesize(said(text))
        clock.now_s += 1
    synthesizer.synthesize(said("A"))
    clock.now_s += 1

    # WHEN D does not fit
    paths["D"] = synthesizer.synthesize(said("D"))

    # THEN B, the least recently used, is gone (down to 90 % of the limit); A, C and D stay
    assert {t for t, p in paths.items() if p.exists()} == {"A", "C", "D"}
    assert cache_bytes(tmp_path) == 900
    synthesizer.synthesize(said("B"))
    assert [r.text for r in engine.calls] == ["A", "B", "C", "D", "B"]  # B is synthesized anew


def test_files_a_render_may_still_read_are_never_evicted(tmp_path: Path) -> None:
    clock = Clock()
    synthesizer = SpeechSynthesizer(SizedEngine(400), tmp_path, max_bytes=1000, in_use_s=60, clock=clock)
    for text in ("A", "B", "C"):
        synthesizer.synthesize(said(text))
        clock.now_s += 10

    assert cache_bytes(tmp_path) == 1200  # over the limit, but every file was used under a minute ago
    clock.now_s += 60
    assert synthesizer.evict() == 400 and cache_bytes(tmp_path) == 800  # the oldest goes first


def test_the_cache_limit_is_a_setting_and_smaller_under_tmp(tmp_path: Path) -> None:
    from autovid.bootstrap import bootstrap
    from autovid.config import Settings

    assert Settings(cache_dir=Path("/var/cache/autovid")).speech_cache_limit_bytes == 2 * 1024**3
    assert Settings(cache_dir=Path("/tmp/autovid/cache")).speech_cache_limit_bytes <= 2 * 1024**3
    tmp_total = __import__("shutil").disk_usage("/tmp").total
    assert Settings(cache_dir=Path("/tmp/x")).speech_cache_limit_bytes == min(2 * 1024**3, tmp_total // 4)
    settings = Settings(
        data_dir=tmp_path, speech_cache_bytes=12_345, secret_key="s" * 32, webhook_secret="w" * 32
    )
    assert bootstrap(settings).processor.speech.max_bytes == 12_345


def test_folders_beside_the_shards_are_neither_counted_nor_evicted(tmp_path: Path) -> None:
    """The AAC segment cache lives in ``segments/`` of the same folder by default, bounded by a
    limit of its own: the speech cache must not count its files or delete them."""
    segments = tmp_path / "segments"
    segments.mkdir()
    (segments / "ab12.seg").write_bytes(b"s" * 5000)
    clock = Clock()
    synthesizer = SpeechSynthesizer(SizedEngine(300), tmp_path, max_bytes=1000, in_use_s=0.5, clock=clock)
    for text in ("A", "B"):
        synthesizer.synthesize(said(text))
        clock.now_s += 1
    clock.now_s += 10

    assert synthesizer.evict() == 0  # 600 bytes of speech: within the limit
    assert (segments / "ab12.seg").stat().st_size == 5000
