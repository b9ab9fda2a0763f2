"""Text-to-speech with Amazon Polly (boto3), the AWS deployment's engine.

Polly refuses requests over 3,000 billed characters (speech, SSML tags excluded) or 6,000
characters in all; longer texts are cut at sentence boundaries (SSML into several complete
``<speak>`` documents), synthesized one by one, and the MP3 results joined.
"""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from autovid.errors import SpeechError, TransientSpeechError
from autovid.ports import SpeechAudio, SpeechEngine, SpeechRequest
from autovid.spec.ssml import SsmlSyntaxError, mark_index, marked_ssml
from autovid.speech.text import split_ssml, split_text
from autovid.speech.timing import Anchor, timed_words

MAX_BILLED_CHARS = 3_000
MAX_TOTAL_CHARS = 6_000
SAMPLE_RATE_HZ = 24_000
_TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "ServiceFailureException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# Engines without speech marks: each phrase is synthesized alone, so its start in the audio is known.
ENGINES_WITHOUT_SPEECH_MARKS = frozenset({"generative"})
PHRASE_CHARS = 80  # a phrase fits two caption lines
_OWN_MARK = re.compile(r'<mark name="autovid-w(\d+)" ?/>')
_NETWORK_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)


class PollyEngine(SpeechEngine):
    """``ports.SpeechEngine`` over ``polly.synthesize_speech``; returns MP3 at 24 kHz."""

    name = "aws-polly"
    version = "1"  # bump when request parameters change the audio (enters the cache key)

    def __init__(
        self,
        client: Any,
        *,
        max_billed_chars: int = MAX_BILLED_CHARS,
        max_total_chars: int = MAX_TOTAL_CHARS,
    ) -> None:
        self.client = client
        self.max_billed_chars = max_billed_chars
        self.max_total_chars = max_total_chars

    def synthesize(self, request: SpeechRequest) -> SpeechAudio:
        if request.word_timings:
            return self._synthesize_timed(request)
        chunks = self.split(request)
        parts = [self._synthesize_chunk(request, chunk, i, len(chunks)) for i, chunk in enumerate(chunks)]
        # PyAV joins the parts; the API function wires this engine too and ships without PyAV.
        from autovid.speech.audio import join_mp3

        return SpeechAudio(data=join_mp3(parts), extension="mp3")

    def voice_used(self, request: SpeechRequest) -> tuple[str, str]:
        return (f"polly:{request.engine}", request.voice_id)

    def split(self, request: SpeechRequest, max_billed: int | None = None) -> list[str]:
        """The texts of the requests Polly will get: one, or several cut at sentence boundaries
        (into phrases of at most ``max_billed`` characters when given)."""
        billed = min(self.max_billed_chars, max_billed or self.max_billed_chars)
        if request.text_type == "ssml":
            try:
                chunks = split_ssml(request.text, max_billed=billed, max_total=self.max_total_chars)
            except SsmlSyntaxError as exc:
                raise SpeechError(str(exc)) from None
            except ValueError as exc:
                raise SpeechError(f"cannot split the SSML into Polly-sized requests: {exc}") from None
        else:
            chunks = split_text(request.text, min(billed, self.max_total_chars))
        if not chunks:
            raise SpeechError("nothing to speak: the text is empty")
        return chunks

    def request_parameters(self, request: SpeechRequest, text: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "Text": text,
            "TextType": request.text_type,
            "VoiceId": request.voice_id,
            "Engine": request.engine,
            "OutputFormat": "mp3",
            "SampleRate": str(SAMPLE_RATE_HZ),
        }
        if request.language_code:
            params["LanguageCode"] = request.language_code
        return params

    def _synthesize_timed(self, request: SpeechRequest) -> SpeechAudio:
        """Audio and word timings: speech marks fetched with each part's audio, their UTF-8 byte
        offsets (plain text) or mark names (SSML, a mark before each word) turned into positions in
        the spoken text; for engines without speech marks, one request per phrase."""
        # PyAV joins and measures the parts; the API function wires this engine and has no PyAV.
        from autovid.speech.audio import join_mp3, mp3_duration_s

        ssml = request.text_type == "ssml"
        try:
            text, spoken, positions = marked_ssml(request.text) if ssml else (request.text, request.text, [])
        except SsmlSyntaxError as exc:
            raise SpeechError(str(exc)) from None
        phrases = request.engine in ENGINES_WITHOUT_SPEECH_MARKS
        limit = PHRASE_CHARS if phrases else None
        chunks = self.split(
            SpeechRequest(text, request.text_type, request.voice_id, request.engine, request.language_code),
            limit,
        )

        parts: list[bytes] = []
        anchors: list[Anchor] = []
        offset_s, cursor = 0.0, 0
        for index, chunk in enumerate(chunks):
            sent = _OWN_MARK.sub("", chunk) if phrases else chunk
            audio = self._synthesize_chunk(request, sent, index, len(chunks))
            if phrases:
                at = _phrase_start(chunk, positions, spoken, cursor, ssml)
                anchors.append(Anchor(at, offset_s))
                cursor = max(cursor, at)
            else:
                marks = self._speech_marks(request, chunk, index, len(chunks))
                chunk_at = 0 if ssml else spoken.find(chunk, cursor)
                cursor = max(cursor, chunk_at)
                anchors += _mark_anchors(marks, chunk, chunk_at, positions, offset_s, ssml)
            parts.append(audio)
            offset_s += mp3_duration_s(audio)
        return SpeechAudio(
            data=join_mp3(parts), extension="mp3", words=timed_words(spoken, anchors, offset_s)
        )

    def _speech_marks(
        self, request: SpeechRequest, text: str, index: int, count: int
    ) -> list[dict[str, Any]]:
        params = self.request_parameters(request, text)
        params.update(
            OutputFormat="json", SpeechMarkTypes=["ssml", "word"] if request.text_type == "ssml" else ["word"]
        )
        params.pop("SampleRate", None)
        data = self._call(request, params, index, count)
        try:
            return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
        except ValueError as exc:
            raise TransientSpeechError(f"Amazon Polly returned unreadable speech marks: {exc}") from None

    def _synthesize_chunk(self, request: SpeechRequest, text: str, index: int, count: int) -> bytes:
        return self._call(request, self.request_parameters(request, text), index, count)

    def _call(self, request: SpeechRequest, params: dict[str, Any], index: int, count: int) -> bytes:
        where = f" (part {index + 1} of {count})" if count > 1 else ""
        try:
            response = self.client.synthesize_speech(**params)
            stream = response["AudioStream"]
            try:
                audio = stream.read()
            finally:
                stream.close()
        except ClientError as exc:
            raise _translate(exc, request, where) from None
        except _NETWORK_ERRORS as exc:
            raise TransientSpeechError(f"Amazon Polly could not be reached{where}: {exc}") from None
        except BotoCoreError as exc:
            raise SpeechError(f"Amazon Polly request failed{where}: {exc}") from None
        if not audio:
            raise TransientSpeechError(f"Amazon Polly returned no audio{where}")
        return bytes(audio)


def _mark_anchors(
    marks: list[dict[str, Any]], chunk: str, chunk_at: int, positions: list[int], offset_s: float, ssml: bool
) -> list[Anchor]:
    """Plain text: each word mark's byte offset into the part, as a character position in the
    whole text. SSML: each of our marks' position (the word marks' offsets point into markup)."""
    encoded = chunk.encode("utf-8")
    anchors: list[Anchor] = []
    for mark in marks:
        time_s = offset_s + float(mark.get("time", 0)) / 1000
        if ssml and mark.get("type") == "ssml":
            index = mark_index(str(mark.get("value", "")))
            if index is not None and index < len(positions):
                anchors.append(Anchor(positions[index], time_s))
        elif not ssml and mark.get("type") == "word":
            chars = len(encoded[: int(mark.get("start", 0))].decode("utf-8", errors="ignore"))
            anchors.append(Anchor(chunk_at + chars, time_s))
    return anchors


def _phrase_start(chunk: str, positions: list[int], spoken: str, cursor: int, ssml: bool) -> int:
    """Where a separately synthesized phrase starts in the spoken text."""
    if ssml:
        found = _OWN_MARK.search(chunk)
        return positions[int(found.group(1))] if found else cursor
    at = spoken.find(chunk, cursor)
    return at if at >= 0 else cursor


def _translate(exc: ClientError, request: SpeechRequest, where: str) -> SpeechError | TransientSpeechError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = str(error.get("Message", "")) or str(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    text = f"Amazon Polly {code}{where}: {message}"
    if code in _TRANSIENT_CODES or status >= 500 or status == 429:
        return TransientSpeechError(text)
    hints = {
        "EngineNotSupportedException": f" (voice '{request.voice_id}', engine '{request.engine}')",
        "LanguageNotSupportedException": f" (voice '{request.voice_id}', language '{request.language_code}')",
        "InvalidSsmlException": " (check the SSML tags against Polly's supported tags)",
    }
    return SpeechError(text + hints.get(code, ""))
