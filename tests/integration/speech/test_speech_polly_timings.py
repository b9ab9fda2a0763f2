"""Polly's word timings through botocore's Stubber on a real client: the audio and speech-mark
requests of each part, UTF-8 byte offsets mapped to characters, SSML marks, and the per-phrase
fallback for engines without speech marks."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from autovid.adapters.aws.polly import PollyEngine
from autovid.ports import SpeechRequest
from autovid.speech.audio import mp3_duration_s


def stream(data: bytes, content_type: str) -> dict[str, Any]:
    return {"AudioStream": StreamingBody(io.BytesIO(data), len(data)), "ContentType": content_type}


def marks(*items: dict[str, Any]) -> dict[str, Any]:
    body = "\n".join(json.dumps(item, ensure_ascii=False) for item in items).encode()
    return stream(body, "application/x-json-stream")


def word(time_ms: int, text: str, start: int) -> dict[str, Any]:
    """A word mark as Polly writes it: byte offsets into the UTF-8 request text."""
    return {"time": time_ms, "type": "word", "start": start, "end": start + len(text.encode()), "value": text}


def request(text: str, **changes: Any) -> SpeechRequest:
    fields = {"text_type": "text", "voice_id": "Joanna", "engine": "neural", "language_code": None}
    return SpeechRequest(text=text, word_timings=True, **{**fields, **changes})


def test_word_marks_with_multibyte_text(client: Any, stubber: Stubber, mp3_tones: dict[float, bytes]) -> None:
    text = "Café naïve, 日本 façade."
    audio_params = {
        "Text": text, "TextType": "text", "VoiceId": "Joanna", "Engine": "neural",
        "OutputFormat": "mp3", "SampleRate": "24000",
    }  # fmt: skip
    stubber.add_response("synthesize_speech", stream(mp3_tones[2.0], "audio/mpeg"), audio_params)
    marks_params = {**audio_params, "OutputFormat": "json", "SpeechMarkTypes": ["word"]}
    del marks_params["SampleRate"]
    stubber.add_response(
        "synthesize_speech",
        marks(word(6, "Café", 0), word(420, "naïve", 6), word(900, "日本", 14), word(1400, "façade", 21)),
        marks_params,
    )
    audio = PollyEngine(client).synthesize(request(text))
    assert audio.data == mp3_tones[2.0]
    # The CJK word's second character has no mark of its own: it joins the first.
    assert [(w.text, w.start_s) for w in audio.words] == [
        ("Café", 0.006), ("naïve,", 0.42), ("日本", 0.9), ("façade.", 1.4)
    ]  # fmt: skip
    assert [w.start_char for w in audio.words] == [text.index(w) for w in ("Café", "naïve", "日本", "façade")]
    assert audio.words[-1].end_s == pytest.approx(mp3_duration_s(mp3_tones[2.0]))


def test_ssml_is_timed_by_marks_before_each_spoken_word(
    client: Any, stubber: Stubber, mp3_tones: dict[float, bytes]
) -> None:
    ssml = '<speak>Visit <sub alias="World Wide Web">WWW</sub> now.</speak>'
    stubber.add_response("synthesize_speech", stream(mp3_tones[1.5], "audio/mpeg"))
    stubber.add_response(
        "synthesize_speech",
        marks(
            {"time": 0, "type": "ssml", "start": 7, "end": 33, "value": "autovid-w0"},
            {"time": 10, "type": "word", "start": 33, "end": 38, "value": "Visit"},
            {"time": 400, "type": "ssml", "start": 45, "end": 71, "value": "autovid-w1"},
            {"time": 1100, "type": "ssml", "start": 120, "end": 146, "value": "autovid-w2"},
        ),
    )
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.polly.SynthesizeSpeech", lambda params, **_: sent.append(params)
    )
    audio = PollyEngine(client).synthesize(request(ssml, text_type="ssml"))
    assert [(w.text, w.start_s) for w in audio.words] == [
        ("Visit", 0.0),
        ("World Wide Web", 0.4),
        ("now.", 1.1),
    ]
    assert sent[1]["SpeechMarkTypes"] == ["ssml", "word"] and sent[0]["Text"] == sent[1]["Text"]
    assert '<mark name="autovid-w1"' in sent[0]["Text"]  # same document for audio and marks


def test_generative_voices_are_timed_phrase_by_phrase(
    client: Any, stubber: Stubber, mp3_tones: dict[float, bytes]
) -> None:
    first = "This first sentence is long enough that it fills most of one phrase on its own."
    second = "A second one follows."
    for seconds in (2.0, 1.0):
        stubber.add_response("synthesize_speech", stream(mp3_tones[seconds], "audio/mpeg"))
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.polly.SynthesizeSpeech", lambda params, **_: sent.append(params)
    )
    audio = PollyEngine(client).synthesize(request(f"{first} {second}", engine="generative"))
    assert [p["Text"] for p in sent] == [first, second]
    assert all(p["OutputFormat"] == "mp3" for p in sent)  # no speech-mark request: the engine has none
    assert [w.text for w in audio.words] == [first, second]
    assert audio.words[1].start_s == pytest.approx(mp3_duration_s(mp3_tones[2.0]))
    assert audio.words[1].end_s == pytest.approx(mp3_duration_s(audio.data), abs=0.01)
