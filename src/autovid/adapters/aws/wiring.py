"""The AWS branch of ``autovid.bootstrap``: DynamoDB, SQS, S3 and Polly adapters over boto3
clients made here (so at bootstrap time, never at import)."""

from __future__ import annotations

from autovid.adapters.aws.clients import make_clients
from autovid.adapters.aws.dynamo_jobs import DynamoJobStore
from autovid.adapters.aws.s3_blobs import S3BlobStore
from autovid.adapters.aws.sqs_queue import SqsJobQueue
from autovid.bootstrap import MANAGED_PREFIXES, Adapters
from autovid.config import Settings
from autovid.errors import ConfigError
from autovid.ports import SpeechEngine


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
        **_s3_client_field(clients.s3),
    )


def _s3_client_field(s3_client: object) -> dict[str, object]:
    # The asset fetcher reads s3:// sources through the same configured client (emulator endpoint,
    # region) once ``Adapters`` carries it.
    fields = Adapters.__dataclass_fields__
    return {"s3_client": s3_client} if "s3_client" in fields else {}


def _speech_engine(settings: Settings, polly_client: object) -> SpeechEngine:
    if settings.speech_engine == "polly":
        from autovid.adapters.aws.polly import PollyEngine

        return PollyEngine(polly_client)
    from autovid.adapters.local.espeak import EspeakEngine

    return EspeakEngine()


def _webhook_secret(settings: Settings) -> bytes:
    # Lambdas share no disk, so the secret cannot be generated on first use as it is locally.
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if not secret:
        raise ConfigError(
            "AUTOVID_WEBHOOK_SECRET is required with AUTOVID_BACKEND=aws: receivers verify "
            "webhook signatures with it (set it from a NoEcho parameter or Secrets Manager)"
        )
    return secret.encode()
