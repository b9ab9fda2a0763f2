"""The local engine: real espeak-ng renders text and Polly-flavoured SSML to real audio."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from autovid.adapters.local.espeak import EspeakEngine
from autovid.errors import SpeechError, TransientSpeechError
from autovid.ports import SpeechAudio, SpeechRequest
from autovid.speech.synthesizer import SpeechSynthesizer

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

SENTENCE = "The quick brown fox jumps over the lazy dog."


def request(text: str, *, text_type: str = "text", voice: str = "Joanna", language: str | None = None):
    return SpeechRequest(
        text=text, text_type=text_type, voice_id=voice, engine="neural", language_code=language
    )


@pytest.fixture(scope="module")
def engine() -> EspeakEngine:
    return EspeakEngine()


def test_plain_text_becomes_audible_speech(engine: EspeakEngine, media: SimpleNamespace) -> None:
    audio = engine.synthesize(request(SENTENCE))
    assert audio.extension == "wav"
    samples, rate = media.decode_mono(audio.data)
    assert 1.5 < len(samples) / rate < 6.0
    assert media.rms(samples) > 0.02


def test_wav_header_sizes_are_filled_in(engine: EspeakEngine) -> None:
    data = engine.synthesize(request("Hello.")).data
    assert int.from_bytes(data[4:8], "little") == len(data) - 8


def test_ssml_is_spoken_and_its_break_is_heard(engine: EspeakEngine, media: SimpleNamespace) -> None:
    plain = media.duration_s(engine.synthesize(request("<speak>Hello world.</speak>", text_type="ssml")).data)
    paused = engine.synthesize(
        request('<speak>Hello <break time="1500ms"/> world.</speak>', text_type="ssml")
    )
    assert 1.2 < media.duration_s(paused.data) - plain < 1.8
    assert media.rms(media.decode_mono(paused.data)[0]) > 0.01


def test_amazon_tags_are_never_read_aloud(engine: EspeakEngine, media: SimpleNamespace) -> None:
    tagged = (
        '<speak><amazon:domain name="news">Breaking news.</amazon:domain> '
        '<amazon:effect name="whispered">Quiet words.</amazon:effect><amazon:breath duration="long"/> '
        "<amazon:auto-breaths>And the end.</amazon:auto-breaths></speak>"
    )
    plain = "<speak>Breaking news. Quiet words. And the end.</speak>"
    read_as_text = engine.synthesize(request(tagged, text_type="text"))  # what reading the tags sounds like
    tagged_s = media.duration_s(engine.synthesize(request(tagged, text_type="ssml")).data)
    plain_s = media.duration_s(engine.synthesize(request(plain, text_type="ssml")).data)
    assert abs(tagged_s - plain_s) < 0.15
    assert media.duration_s(read_as_text.data) > plain_s + 2.0


def test_text_that_looks_like_an_option_is_spoken(engine: EspeakEngine, media: SimpleNamespace) -> None:
    audio = engine.synthesize(request("--version -v xx --stdout"))
    samples, rate = media.decode_mono(audio.data)
    assert len(samples) / rate > 1.0 and media.rms(samples) > 0.02


@pytest.mark.parametrize(
    ("voice", "language", "expected"),
    [
        ("Lea", "fr-FR", "fr+f3"),
        ("Pedro", "es-US", "es-419+m3"),
        ("Amy", None, "en+f3"),
        ("Brian", "en-GB", "en+m3"),
        ("Matthew", None, "en-us+m3"),
        ("Joanna", None, "en-us+f3"),
        ("Lucia", None, "es+f3"),
        ("Vicki", None, "de+f3"),
        ("Camila", None, "pt-br+f3"),
        ("Aditi", "hi-IN", "hi+f3"),
        ("Joanna", "de-CH", "de+f3"),  # languageCode wins over the voice's language
        ("NotAPollyVoice", "eo", "eo"),  # no gender known: espeak-ng's default variant
        ("NotAPollyVoice", "xx-YY", "en"),  # nothing matches: English
        ("en-us+f2", None, "en-us+f2"),  # an espeak-ng voice named directly
    ],
)
def test_voice_follows_language_and_gender(
    engine: EspeakEngine, voice: str, language: str | None, expected: str
) -> None:
    assert engine.voice_for(request("x", voice=voice, language=language)) == expected


@pytest.mark.parametrize(
    ("female", "male", "text"),
    [
        ("Joanna", "Matthew", SENTENCE),
        ("Lea", "Remi", "Il existe deux types d'état d'esprit qu'on peut cultiver."),
        ("Amy", "Brian", SENTENCE),
        ("Lupe", "Pedro", "Hay dos tipos de mentalidad que podemos cultivar."),
    ],
)
def test_female_voices_sound_higher_than_male_ones(
    engine: EspeakEngine, female: str, male: str, text: str, media: SimpleNamespace
) -> None:
    pitches = {}
    for voice in (female, male):
        samples, rate = media.decode_mono(engine.synthesize(request(text, voice=voice)).data)
        pitches[voice] = media.median_pitch_hz(samples, rate)
    assert pitches[female] > 1.5 * pitches[male], pitches


def test_malformed_ssml_is_a_speech_error(engine: EspeakEngine) -> None:
    with pytest.raises(SpeechError, match="malformed SSML"):
        engine.synthesize(request("<speak>Hello <break></speak>", text_type="ssml"))


def test_empty_text_is_a_speech_error(engine: EspeakEngine) -> None:
    with pytest.raises(SpeechError, match="nothing to speak"):
        engine.synthesize(request("   "))


def test_missing_espeak_says_how_to_install_it() -> None:
    with pytest.raises(SpeechError, match=r"not installed.*apt-get install espeak-ng"):
        EspeakEngine(binary="espeak-ng-definitely-missing").synthesize(request("Hello."))


def test_a_synthesis_over_the_time_limit_is_transient() -> None:
    with pytest.raises(TransientSpeechError, match="did not finish within"):
        EspeakEngine(timeout_s=0.001).synthesize(request(SENTENCE * 50))


def test_version_names_the_espeak_release(engine: EspeakEngine) -> None:
    assert "espeak-ng-1." in engine.version


class CountingEspeak(EspeakEngine):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def synthesize(self, request: SpeechRequest) -> SpeechAudio:
        self.calls += 1
        return super().synthesize(request)


def test_rerendering_the_same_script_synthesizes_nothing(tmp_path: Path, media: SimpleNamespace) -> None:
    engine = CountingEspeak()
    script = [
        request(SENTENCE),
        request("<speak>Second <break time='200ms'/> line.</speak>", text_type="ssml"),
    ]
    first = [SpeechSynthesizer(engine, tmp_path).synthesize(r) for r in script]
    second = [SpeechSynthesizer(engine, tmp_path).synthesize(r) for r in script]
    assert engine.calls == 2
    assert first == second
    assert all(media.duration_s(path) > 0.5 for path in first)
