"""Text-to-speech with Amazon Polly (boto3), the AWS deployment's engine.

Polly refuses requests over 3,000 billed characters (speech, SSML tags excluded) or 6,000
characters in all; longer texts are cut at sentence boundaries (SSML into several complete
``<speak>`` documents), synthesized one by one, and the MP3 results joined.
"""

from __future__ import annotations

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
from autovid.spec.ssml import SsmlSyntaxError
from autovid.speech.text import split_ssml, split_text

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
        chunks = self.split(request)
        parts = [self._synthesize_chunk(request, chunk, i, len(chunks)) for i, chunk in enumerate(chunks)]
        # PyAV joins the parts; the API function wires this engine too and ships without PyAV.
        from autovid.speech.audio import join_mp3

        return SpeechAudio(data=join_mp3(parts), extension="mp3")

    def voice_used(self, request: SpeechRequest) -> tuple[str, str]:
        return (f"polly:{request.engine}", request.voice_id)

    def split(self, request: SpeechRequest) -> list[str]:
        """The texts of the requests Polly will get: one, or several cut at sentence boundaries."""
        if request.text_type == "ssml":
            try:
                chunks = split_ssml(
                    request.text, max_billed=self.max_billed_chars, max_total=self.max_total_chars
                )
            except SsmlSyntaxError as exc:
                raise SpeechError(str(exc)) from None
            except ValueError as exc:
                raise SpeechError(f"cannot split the SSML into Polly-sized requests: {exc}") from None
        else:
            chunks = split_text(request.text, min(self.max_billed_chars, self.max_total_chars))
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

    def _synthesize_chunk(self, request: SpeechRequest, text: str, index: int, count: int) -> bytes:
        where = f" (part {index + 1} of {count})" if count > 1 else ""
        try:
            response = self.client.synthesize_speech(**self.request_parameters(request, text))
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
