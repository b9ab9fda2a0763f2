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
