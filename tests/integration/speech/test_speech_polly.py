"""The AWS engine: request shapes checked with botocore's Stubber on a real Polly client, with real
MP3 audio in the responses."""

from __future__ import annotations

import io
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from autovid.adapters.aws.polly import PollyEngine
from autovid.errors import SpeechError, TransientSpeechError
from autovid.ports import SpeechRequest
from autovid.spec.ssml import ssml_problem, ssml_text
from autovid.speech.synthesizer import SpeechSynthesizer


@pytest.fixture
def sent(client: Any) -> list[dict[str, Any]]:
    """Every SynthesizeSpeech parameter set the client was asked to send."""
    calls: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.polly.SynthesizeSpeech", lambda params, **_: calls.append(dict(params))
    )
    return calls


def audio_response(mp3: bytes) -> dict[str, Any]:
    return {"AudioStream": StreamingBody(io.BytesIO(mp3), len(mp3)), "ContentType": "audio/mpeg"}


def request(text: str, **changes: Any) -> SpeechRequest:
    fields = {"text_type": "text", "voice_id": "Joanna", "engine": "neural", "language_code": None, **changes}
    return SpeechRequest(text=text, **fields)


def test_text_request_parameters(client: Any, stubber: Stubber, mp3_tones: dict[float, bytes]) -> None:
    stubber.add_response(
        "synthesize_speech",
        audio_response(mp3_tones[1.0]),
        expected_params={
            "Text": "Hello there.",
            "TextType": "text",
            "VoiceId": "Joanna",
            "Engine": "neural",
            "OutputFormat": "mp3",
            "SampleRate": "24000",
        },
    )
    audio = PollyEngine(client).synthesize(request("Hello there."))
    assert audio.extension == "mp3"
    assert audio.data == mp3_tones[1.0]


def test_ssml_engine_and_language_are_sent(
    client: Any, stubber: Stubber, mp3_tones: dict[float, bytes]
) -> None:
    ssml = (
        '<speak>Bonjour <break time="300ms"/> '
        '<amazon:effect name="drc">tout le monde</amazon:effect>.</speak>'
    )
    stubber.add_response(
        "synthesize_speech",
        audio_response(mp3_tones[0.5]),
        expected_params={
            "Text": ssml,
            "TextType": "ssml",
            "VoiceId": "Lea",
            "Engine": "generative",
            "LanguageCode": "fr-FR",
            "OutputFormat": "mp3",
            "SampleRate": "24000",
        },
    )
    audio = PollyEngine(client).synthesize(
        request(ssml, text_type="ssml", voice_id="Lea", engine="generative", language_code="fr-FR")
    )
    assert audio.data == mp3_tones[0.5]


def long_text(total_chars: int) -> str:
    sentences = ["Polly speaks this sentence clearly.", "Does it split well?", "It does!"]
    text, i = "", 0
    while len(text) < total_chars:
        text += sentences[i % 3] + " "
        i += 1
    return text.strip()


def test_long_text_is_split_at_sentences_and_the_audio_joined(
    client: Any,
    stubber: Stubber,
    sent: list[dict[str, Any]],
    mp3_tones: dict[float, bytes],
    media: SimpleNamespace,
) -> None:
    text = long_text(7000)
    parts = [mp3_tones[1.0], mp3_tones[1.5], mp3_tones[2.0]]
    for mp3 in parts:
        stubber.add_response("synthesize_speech", audio_response(mp3))
    audio = PollyEngine(client).synthesize(request(text, engine="long-form", voice_id="Danielle"))

    assert len(sent) == 3
    assert all(len(call["Text"]) <= 3000 for call in sent)
    assert all(re.search(r"[.!?]$", call["Text"]) for call in sent)
    assert " ".join(call["Text"] for call in sent) == text
    assert {(c["VoiceId"], c["Engine"], c["TextType"]) for c in sent} == {("Danielle", "long-form", "text")}
    # The joined file decodes to the parts one after the other (MP3 frame rounding aside).
    assert media.duration_s(audio.data) == pytest.approx(4.5, abs=0.15)


def test_long_ssml_is_split_into_valid_documents(
    client: Any, stubber: Stubber, sent: list[dict[str, Any]], mp3_tones: dict[float, bytes]
) -> None:
    ssml = (
        "<speak>"
        + "".join(f'<p><prosody rate="slow">{long_text(900)}</prosody></p>' for _ in range(8))
        + "</speak>"
    )
    for _ in range(3):
        stubber.add_response("synthesize_speech", audio_response(mp3_tones[0.5]))
    PollyEngine(client).synthesize(request(ssml, text_type="ssml"))
    assert len(sent) == 3
    for call in sent:
        assert call["TextType"] == "ssml"
        assert ssml_problem(call["Text"]) is None
        assert len(ssml_text(call["Text"])) <= 3000 and len(call["Text"]) <= 6000
    assert "".join(ssml_text(call["Text"]) for call in sent) == ssml_text(ssml)


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("ThrottlingException", 400, TransientSpeechError),
        ("ServiceFailureException", 500, TransientSpeechError),
        ("SomethingNew", 503, TransientSpeechError),
        ("InvalidSsmlException", 400, SpeechError),
        ("TextLengthExceededException", 400, SpeechError),
        ("EngineNotSupportedException", 400, SpeechError),
        ("LanguageNotSupportedException", 400, SpeechError),
        ("InvalidSampleRateException", 400, SpeechError),
    ],
)
def test_service_errors_are_translated(
    client: Any, stubber: Stubber, code: str, status: int, error: type[Exception]
) -> None:
    stubber.add_client_error(
        "synthesize_speech", service_error_code=code, service_message="it said no", http_status_code=status
    )
    with pytest.raises(error) as info:
        PollyEngine(client).synthesize(request("Hello."))
    assert type(info.value) is error
    assert code in str(info.value) and "it said no" in str(info.value)


def test_invalid_ssml_error_names_the_problem(client: Any, stubber: Stubber) -> None:
    stubber.add_client_error(
        "synthesize_speech",
        service_error_code="InvalidSsmlException",
        service_message="Invalid SSML request",
        http_status_code=400,
    )
    with pytest.raises(
        SpeechError, match=r"InvalidSsmlException: Invalid SSML request \(check the SSML tags"
    ):
        PollyEngine(client).synthesize(request("<speak>Hi</speak>", text_type="ssml"))


def test_a_failure_in_a_later_part_names_the_part(
    client: Any, stubber: Stubber, mp3_tones: dict[float, bytes]
) -> None:
    stubber.add_response("synthesize_speech", audio_response(mp3_tones[0.5]))
    stubber.add_client_error(
        "synthesize_speech", service_error_code="ThrottlingException", http_status_code=400
    )
    with pytest.raises(TransientSpeechError, match="part 2 of 3"):
        PollyEngine(client).synthesize(request(long_text(7000)))
    # (the stubber fixture checks that no third request was queued or made)


def test_malformed_ssml_is_refused_before_any_request(client: Any, stubber: Stubber) -> None:
    with pytest.raises(SpeechError, match="malformed SSML"):
        PollyEngine(client).synthesize(request("<speak>" + "Hello. " * 1000, text_type="ssml"))


def test_the_voice_used_is_the_requested_polly_voice(client: Any) -> None:
    engine = PollyEngine(client)
    assert engine.voice_used(request("Hi.", voice_id="Matthew", engine="standard")) == (
        "polly:standard",
        "Matthew",
    )
    synthesizer = SpeechSynthesizer(engine, Path("unused-cache"))
    assert synthesizer.voice_used(request("Hi.")) == ("polly:neural", "Joanna")
