"""Wire the object graph in one place, for the API, the workers, the CLI and every Lambda.

``bootstrap(settings, **overrides)`` picks the adapters for ``settings.backend`` and builds the
service and the processor on top. Tests and other entrypoints replace any part by keyword
(``store=…``, ``queue=…``, ``blobs=…``, ``speech_engine=…``, ``render=…``, ``webhooks=…``,
``assets=…``, ``speech=…``, ``processor_options=…``, ``keys=…``, ``webhook_retry_delays_s=…``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autovid.config import Settings
from autovid.errors import ConfigError
from autovid.ports import BlobStore, JobQueue, JobStore, SpeechEngine

if TYPE_CHECKING:  # imported in bootstrap(), so `autovid render` does not load the job machinery
    from autovid.jobs.processor import JobProcessor
    from autovid.jobs.service import JobService
    from autovid.jobs.webhooks import WebhookSender

log = logging.getLogger(__name__)

DB_FILE = "autovid.db"
FILES_DIR = "files"  # managed storage: files/assets/…, files/outputs/…
WORK_DIR = "work"
MANAGED_PREFIXES = ("assets", "outputs")


@dataclass
class Adapters:
    store: JobStore
    queue: JobQueue
    blobs: BlobStore
    speech_engine: SpeechEngine | None
    webhook_secret: bytes
    db: Any = None  # the local Database (shared with API keys and rate limits); None on AWS
    s3_client: Any = None  # for s3:// asset sources (the AWS adapters' configured client)


@dataclass
class Container:
    settings: Settings
    store: JobStore
    queue: JobQueue
    blobs: BlobStore
    speech_engine: SpeechEngine | None
    service: JobService
    processor: JobProcessor
    webhooks: WebhookSender
    db: Any = None  # autovid.adapters.local.db.Database when embedded
    keys: Any = None  # the API engineer's Authenticator / key store
    extras: dict[str, Any] = field(default_factory=dict)


def bootstrap(settings: Settings | None = None, **overrides: Any) -> Container:
    from autovid.jobs.processor import JobProcessor, ProcessorOptions
    from autovid.jobs.service import JobService
    from autovid.jobs.webhooks import WebhookSender

    settings = settings or Settings()
    adapters = _aws_adapters(settings) if settings.backend == "aws" else _local_adapters(settings, overrides)
    store = overrides.pop("store", None) or adapters.store
    queue = overrides.pop("queue", None) or adapters.queue
    blobs = overrides.pop("blobs", None) or adapters.blobs
    speech_engine = overrides.pop("speech_engine", None) or adapters.speech_engine
    webhooks = overrides.pop("webhooks", None) or WebhookSender(
        adapters.webhook_secret,
        retry_delays_s=overrides.pop("webhook_retry_delays_s", (1.0, 2.0, 4.0)),
        allow_private=settings.allow_private_urls,
        allow_http=settings.allow_http,
    )
    service = JobService(store, queue, blobs, settings)
    processor = JobProcessor(
        service,
        assets=overrides.pop("assets", None) or _asset_fetcher(settings, blobs, adapters.s3_client),
        speech=overrides.pop("speech", None) or _synthesizer(settings, speech_engine),
        webhooks=webhooks,
        work_dir=overrides.pop("work_dir", None) or settings.data_dir / WORK_DIR,
        render=overrides.pop("render", None) or _reusing_render(settings),
        options=overrides.pop("processor_options", None) or ProcessorOptions(),
    )
    _wire_dead_letters(queue, processor)
    keys = overrides.pop("keys", None) or _local_keys(adapters.db)
    return Container(
        settings=settings,
        store=store,
        queue=queue,
        blobs=blobs,
        speech_engine=speech_engine,
        service=service,
        processor=processor,
        webhooks=webhooks,
        db=adapters.db,
        keys=keys,
        extras=overrides,
    )


def _local_adapters(settings: Settings, overrides: dict[str, Any]) -> Adapters:
    from autovid.adapters.local.db import Database
    from autovid.adapters.local.local_blobs import LocalBlobStore
    from autovid.adapters.local.signing import Signer, load_or_create_secret
    from autovid.adapters.local.sqlite_jobs import SqliteJobStore
    from autovid.adapters.local.sqlite_queue import SqliteJobQueue

    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(data_dir / DB_FILE)
    secret = _secret(settings.secret_key, data_dir / "secret.key", load_or_create_secret)
    webhook_secret = _secret(settings.webhook_secret, data_dir / "webhook-secret.key", load_or_create_secret)
    public_url = settings.public_url or f"http://{settings.host}:{settings.port}"
    return Adapters(
        store=overrides.get("store") or SqliteJobStore(db),
        queue=overrides.get("queue")
        or SqliteJobQueue(db, lease_s=settings.lease_s, max_receives=settings.max_receives),
        blobs=overrides.get("blobs")
        or LocalBlobStore(data_dir / FILES_DIR, Signer(secret), public_url, prefixes=MANAGED_PREFIXES),
        speech_engine=overrides.get("speech_engine") or _local_speech_engine(settings),
        webhook_secret=webhook_secret,
        db=db,
    )


def _aws_adapters(settings: Settings) -> Adapters:
    """The AWS engineer's adapters: ``autovid.adapters.aws.wiring.aws_adapters(settings)``
    returns an ``Adapters`` (DynamoJobStore, SqsJobQueue, S3BlobStore, PollyEngine, secret)."""
    try:
        from autovid.adapters.aws.wiring import aws_adapters  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ConfigError(f"AUTOVID_BACKEND=aws but the AWS adapters are not available: {exc}") from exc
    adapters: Adapters = aws_adapters(settings)
    return adapters


def _secret(configured: Any, path: Path, load_or_create: Any) -> bytes:
    if configured is not None and configured.get_secret_value():
        return str(configured.get_secret_value()).encode()
    secret: bytes = load_or_create(path)
    return secret


def _local_speech_engine(settings: Settings) -> SpeechEngine:
    if settings.speech_engine == "polly":  # embedded service or CLI with Polly voices
        from autovid.adapters.aws.clients import make_clients
        from autovid.adapters.aws.polly import PollyEngine

        return PollyEngine(make_clients(settings).polly)
    from autovid.adapters.local.espeak import EspeakEngine

    return EspeakEngine()


def _synthesizer(settings: Settings, engine: SpeechEngine | None) -> Any:
    if engine is None:
        return None
    from autovid.speech.synthesizer import SpeechSynthesizer

    return SpeechSynthesizer(engine, settings.speech_cache_dir)


def _asset_fetcher(settings: Settings, blobs: BlobStore, s3_client: Any = None) -> Any:
    from autovid.assets.fetcher import AssetFetcher

    return AssetFetcher(
        blob_store=blobs,
        s3_client=s3_client,
        max_bytes=settings.max_asset_bytes,
        timeout_s=settings.fetch_timeout_s,
        retries=settings.fetch_retries,
        allow_private=settings.allow_private_urls,
        allow_http=settings.allow_http,
    )


def build_renderer(
    settings: Settings,
    *,
    base_dir: Path,
    allowed_roots: Sequence[Path],
    reuse: Any = None,
) -> Callable[..., Any]:
    """The CLI's renderer: ``renderer(spec, output_path=…, workdir=…, progress=…, checkpoint=…)``
    with paths read relative to ``base_dir`` (inside ``allowed_roots``) and local speech.
    ``reuse`` (a ``render.pipeline.Reuse``; default: ``render_reuse(settings)``) is what its
    renders share — one instance serves a whole batch."""
    from autovid.assets.fetcher import AssetFetcher
    from autovid.render.pipeline import render

    assets = AssetFetcher(
        base_dir=base_dir,
        allowed_roots=list(allowed_roots),
        s3_client_factory=functools.partial(_cli_s3_client, settings),
        max_bytes=settings.max_asset_bytes,
        timeout_s=settings.fetch_timeout_s,
        retries=settings.fetch_retries,
        allow_private=settings.allow_private_urls,
        allow_http=settings.allow_http,
    )
    speech = _synthesizer(settings, _local_speech_engine(settings))
    shared = reuse if reuse is not None else render_reuse(settings)
    return functools.partial(render, assets=assets, speech=speech, reuse=shared)


def render_reuse(settings: Settings) -> Any:
    """What the renders of this process share: the machine's segment cache and a decoded-source
    cache in memory (a ``render.pipeline.Reuse``)."""
    from autovid.render.media import DecodedSources
    from autovid.render.pipeline import Reuse

    return Reuse(segments=machine_segment_cache(settings), decoded=DecodedSources())


def machine_segment_cache(settings: Settings) -> Any:
    """The machine's cache of encoded AAC segments (``AUTOVID_SEGMENT_CACHE_DIR``, bounded by
    ``AUTOVID_SEGMENT_CACHE_BYTES``); None when that is 0."""
    if settings.segment_cache_bytes <= 0:
        return None
    from autovid.adapters.local.segment_cache import DiskSegmentCache

    return DiskSegmentCache(settings.segment_cache_folder, settings.segment_cache_bytes)


def _reusing_render(settings: Settings) -> Callable[..., Any]:
    """The worker's render function, sharing ``render_reuse(settings)`` across its jobs. The
    render engine is imported at the first job, not here."""
    shared: list[Any] = []

    def render(*args: Any, **kwargs: Any) -> Any:
        from autovid.render.pipeline import render as render_job

        if not shared:
            shared.append(render_reuse(settings))
        return render_job(*args, reuse=shared[0], **kwargs)

    return render


def _cli_s3_client(settings: Settings) -> Any:
    # s3:// sources in a CLI render use the ambient AWS credentials; boto3 is imported lazily.
    from autovid.adapters.aws.clients import make_clients

    return make_clients(settings).s3


def _local_keys(db: Any) -> Any:
    """The embedded API-key store (hashed keys, usage plans); None on AWS, where API Gateway
    holds keys and plans."""
    if db is None:
        return None
    from autovid.adapters.local.sqlite_keys import SqliteKeyStore

    return SqliteKeyStore(db)


def _wire_dead_letters(queue: JobQueue, processor: JobProcessor) -> None:
    # Queues that dead-letter on their own (the SQLite one) tell the processor, which fails the job.
    if hasattr(queue, "on_dead_letter") and queue.on_dead_letter is None:
        queue.on_dead_letter = processor.dead_lettered
