"""The AWS branch of ``autovid.bootstrap``: DynamoDB, SQS, S3 and Polly adapters over boto3
clients made here (so at bootstrap time, never at import)."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable

from autovid.adapters.aws.clients import make_clients
from autovid.adapters.aws.dynamo_jobs import DynamoJobStore
from autovid.adapters.aws.s3_blobs import S3BlobStore
from autovid.adapters.aws.sqs_queue import SqsJobQueue
from autovid.bootstrap import MANAGED_PREFIXES, Adapters
from autovid.config import Settings
from autovid.ports import SpeechAudio, SpeechEngine, SpeechRequest

log = logging.getLogger(__name__)


def aws_adapters(settings: Settings) -> Adapters:
    # Settings refuse backend=aws without these three; the asserts only narrow the types.
    assert settings.jobs_table_name and settings.jobs_queue_url and settings.s3_bucket_name
    clients = make_clients(settings)
    return Adapters(
        store=DynamoJobStore(clients.dynamodb, settings.jobs_table_name),
        queue=SqsJobQueue(clients.sqs, settings.jobs_queue_url, lease_s=settings.lease_s),
        blobs=S3BlobStore(clients.s3, settings.s3_bucket_name, prefixes=MANAGED_PREFIXES),
        speech_engine=_speech_engine(settings, clients.polly),
        webhook_secret=_webhook_secret(settings),
        s3_client=clients.s3,  # s3:// asset sources use the same endpoint and region
    )


def _speech_engine(settings: Settings, polly_client: object) -> SpeechEngine:
    if settings.speech_engine == "polly":

        def build() -> SpeechEngine:
            from autovid.adapters.aws.polly import PollyEngine

            return PollyEngine(polly_client)

    else:

        def build() -> SpeechEngine:
            from autovid.adapters.local.espeak import EspeakEngine

            return EspeakEngine()

    return LazySpeechEngine(build)


class LazySpeechEngine(SpeechEngine):
    """The configured engine, built when first used. The API function never speaks, and its
    package has no PyAV, which the engines' audio handling imports."""

    def __init__(self, build: Callable[[], SpeechEngine]) -> None:
        self._build = build
        self._engine: SpeechEngine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> SpeechEngine:
        with self._lock:
            if self._engine is None:
                self._engine = self._build()
            return self._engine

    @property  # type: ignore[override]
    def name(self) -> str:
        return self.engine.name

    @property  # type: ignore[override]
    def version(self) -> str:
        return self.engine.version

    def synthesize(self, request: SpeechRequest) -> SpeechAudio:
        return self.engine.synthesize(request)

    def voice_used(self, request: SpeechRequest) -> tuple[str, str]:
        return self.engine.voice_used(request)


def _webhook_secret(settings: Settings) -> bytes:
    if settings.webhook_secret is not None and settings.webhook_secret.get_secret_value():
        return settings.webhook_secret.get_secret_value().encode()
    # Lambdas share no disk to keep a generated secret on, so without the setting nobody could
    # verify a signature. The API function sends no webhooks and runs without it; the processor
    # handler refuses to start (``require_webhook_secret``).
    log.info("AUTOVID_WEBHOOK_SECRET is not set: webhooks from this process cannot be verified")
    return secrets.token_bytes(32)
