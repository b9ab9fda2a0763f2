"""Wire the object graph in one place, for the API, the workers, the CLI and every Lambda.

``bootstrap(settings, …)`` picks the adapters for ``settings.backend`` and builds the service and
the processor on top. Tests and other entrypoints replace any part by keyword (``store=…``,
``queue=…``, ``blobs=…``, ``speech_engine=…``, ``render=…``, ``webhooks=…``, ``assets=…``,
``speech=…``, ``processor_options=…``, ``keys=…``, ``webhook_retry_delays_s=…``); an unknown
keyword is a ``TypeError``, so a mistyped override cannot be silently ignored.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autovid.config import Settings
from autovid.errors import ConfigError
from autovid.ports import (
    BatchStore,
    BlobStore,
    JobQueue,
    JobStore,
    SpeechEngine,
    TemplateStore,
    WebhookSender,
)

if TYPE_CHECKING:  # imported in bootstrap(), so `autovid render` does not load the job machinery
    from pydantic import SecretStr

    from autovid.adapters.local.db import Database
    from autovid.adapters.local.sqlite_keys import SqliteKeyStore
    from autovid.assets.check import SourceChecker
    from autovid.assets.fetcher import AssetFetcher
    from autovid.auth.authenticators import Authenticator
    from autovid.auth.keys import KeyStore
    from autovid.jobs.batches import BatchService
    from autovid.jobs.processor import JobProcessor, ProcessorOptions, RenderFn
    from autovid.jobs.service import JobService
    from autovid.render.aac import SegmentStore
    from autovid.render.pipeline import AssetSource, RenderResult, Reuse, Synthesizer
    from autovid.spec.models import AudioAsset, VideoAsset

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
    db: Database | None = None  # shared with API keys and rate limits; None on AWS
    s3_client: Any = None  # boto3 S3 client for s3:// asset sources (the AWS adapters' own)
    template_store: TemplateStore | None = None  # None: this deployment serves no templates
    batch_store: BatchStore | None = None


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
    db: Database | None = None  # when embedded
    keys: Authenticator | KeyStore | None = None  # the API's authenticator or key store
    batches: BatchService | None = None  # with ``batches.templates``; None without their stores


def bootstrap(
    settings: Settings | None = None,
    *,
    store: JobStore | None = None,
    queue: JobQueue | None = None,
    blobs: BlobStore | None = None,
    speech_engine: SpeechEngine | None = None,
    webhooks: WebhookSender | None = None,
    webhook_retry_delays_s: Sequence[float] = (1.0, 2.0, 4.0),
    assets: AssetSource | None = None,
    speech: Synthesizer | None = None,
    work_dir: Path | None = None,
    render: RenderFn | None = None,
    processor_options: ProcessorOptions | None = None,
    keys: Authenticator | KeyStore | None = None,
    template_store: TemplateStore | None = None,
    batch_store: BatchStore | None = None,
) -> Container:
    from autovid.jobs.processor import JobProcessor, ProcessorOptions
    from autovid.jobs.service import JobService

    settings = settings or Settings()
    adapters = (
        _aws_adapters(settings)
        if settings.backend == "aws"
        else _local_adapters(settings, store=store, queue=queue, blobs=blobs, speech_engine=speech_engine)
    )
    store = store or adapters.store
    queue = queue or adapters.queue
    blobs = blobs or adapters.blobs
    speech_engine = speech_engine or adapters.speech_engine
    webhooks = webhooks or _webhook_sender(settings, adapters.webhook_secret, webhook_retry_delays_s)
    service = JobService(store, queue, blobs, settings)
    processor = JobProcessor(
        service,
        assets=assets or _asset_fetcher(settings, blobs, adapters.s3_client),
        speech=speech or _synthesizer(settings, speech_engine),
        webhooks=webhooks,
        work_dir=work_dir or settings.data_dir / WORK_DIR,
        render=render or _reusing_render(settings),
        options=processor_options or ProcessorOptions(),
    )
    _wire_dead_letters(queue, processor)
    stores = (template_store or adapters.template_store, batch_store or adapters.batch_store)
    processor.events = batches = _batch_service(settings, service, webhooks, *stores)
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
        keys=keys or _local_keys(adapters.db),
        batches=batches,
    )


def _batch_service(
    settings: Settings,
    service: JobService,
    webhooks: WebhookSender,
    template_store: TemplateStore | None,
    batch_store: BatchStore | None,
) -> BatchService | None:
    from autovid.jobs.batches import BatchService
    from autovid.jobs.template_service import TemplateService

    if template_store is None or batch_store is None:
        return None
    return BatchService(batch_store, TemplateService(template_store, service), service, settings, webhooks)


def _webhook_sender(settings: Settings, secret: bytes, retry_delays_s: Sequence[float]) -> WebhookSender:
    from autovid.adapters.http.webhooks import HttpWebhookSender

    return HttpWebhookSender(
        secret,
        retry_delays_s=retry_delays_s,
        allow_private=settings.allow_private_urls,
        allow_http=settings.allow_http,
    )


def _local_adapters(
    settings: Settings,
    *,
    store: JobStore | None,
    queue: JobQueue | None,
    blobs: BlobStore | None,
    speech_engine: SpeechEngine | None,
) -> Adapters:
    # Parts the caller passed are not built (so a test's store does not open a second one).
    from autovid.adapters.local.db import Database
    from autovid.adapters.local.local_blobs import LocalBlobStore
    from autovid.adapters.local.signing import Signer, load_or_create_secret
    from autovid.adapters.local.sqlite_batches import SqliteBatchStore, SqliteTemplateStore
    from autovid.adapters.local.sqlite_jobs import SqliteJobStore
    from autovid.adapters.local.sqlite_queue import SqliteJobQueue

    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(data_dir / DB_FILE)
    secret = _secret(settings.secret_key, data_dir / "secret.key", load_or_create_secret)
    webhook_secret = _secret(settings.webhook_secret, data_dir / "webhook-secret.key", load_or_create_secret)
    public_url = settings.public_url or f"http://{settings.host}:{settings.port}"
    return Adapters(
        store=store or SqliteJobStore(db),
        queue=queue or SqliteJobQueue(db, lease_s=settings.lease_s, max_receives=settings.max_receives),
        blobs=blobs
        or LocalBlobStore(data_dir / FILES_DIR, Signer(secret), public_url, prefixes=MANAGED_PREFIXES),
        speech_engine=speech_engine or _local_speech_engine(settings),
        webhook_secret=webhook_secret,
        db=db,
        template_store=SqliteTemplateStore(db),
        batch_store=SqliteBatchStore(db),
    )


def _aws_adapters(settings: Settings) -> Adapters:
    """The AWS adapters: ``autovid.adapters.aws.wiring.aws_adapters(settings)``
    returns an ``Adapters`` (DynamoJobStore, SqsJobQueue, S3BlobStore, PollyEngine, secret)."""
    try:
        from autovid.adapters.aws.wiring import aws_adapters  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ConfigError(f"AUTOVID_BACKEND=aws but the AWS adapters are not available: {exc}") from exc
    adapters: Adapters = aws_adapters(settings)
    return adapters


def _secret(configured: SecretStr | None, path: Path, load_or_create: Callable[[Path], bytes]) -> bytes:
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


def _synthesizer(
    settings: Settings, engine: SpeechEngine | None, cache_dir: Path | None = None
) -> Synthesizer | None:
    if engine is None:
        return None
    from autovid.speech.synthesizer import SpeechSynthesizer

    directory = cache_dir or settings.speech_cache_dir
    return SpeechSynthesizer(engine, directory, max_bytes=settings.speech_cache_limit_bytes)


def _asset_fetcher(settings: Settings, blobs: BlobStore, s3_client: Any = None) -> AssetFetcher:
    """The service's fetcher: path sources are managed keys, s3:// only the allowed buckets."""
    from autovid.assets.fetcher import AssetFetcher, ManagedStorage

    mode = ManagedStorage(blobs, s3_buckets=settings.s3_buckets_readable)
    s3 = None
    if settings.s3_buckets_readable:
        s3 = _s3_transport(settings, s3_client)
    return AssetFetcher(mode, _fetch_policy(settings), https=_https_transport(settings), s3=s3)


def _fetch_policy(settings: Settings) -> Any:
    from autovid.assets.fetcher import FetchPolicy

    return FetchPolicy(max_bytes=settings.max_asset_bytes, retries=settings.fetch_retries)


def _https_transport(settings: Settings) -> Any:
    from autovid.adapters.http.asset_fetch import HttpsTransport  # httpx loads with the first URL

    return HttpsTransport(
        timeout_s=settings.fetch_timeout_s,
        allow_private=settings.allow_private_urls,
        allow_http=settings.allow_http,
    )


def _s3_transport(settings: Settings, client: Any = None) -> Any:
    """s3:// sources through ``client`` (the AWS adapters' own), else one made on first use with
    the ambient credentials (embedded servers with AUTOVID_S3_SOURCE_BUCKETS, CLI renders)."""
    from autovid.adapters.aws.s3_fetch import S3Transport

    if client is not None:
        return S3Transport(client)
    return S3Transport(client_factory=functools.partial(_cli_s3_client, settings))


def build_renderer(
    settings: Settings,
    *,
    base_dir: Path,
    allowed_roots: Sequence[Path],
    reuse: Reuse | None = None,
) -> Callable[..., RenderResult]:
    """The CLI's renderer: ``renderer(spec, output_path=…, workdir=…, progress=…, checkpoint=…)``
    with paths read relative to ``base_dir`` (inside ``allowed_roots``) and local speech.
    ``reuse`` is what its renders share — ``render_reuse(settings, cli=True)`` serves a whole
    batch; the default, for one render, leaves out the probe cache (hashing the media would be
    its only effect)."""
    from autovid.render.pipeline import render

    assets = build_cli_asset_fetcher(settings, base_dir=base_dir, allowed_roots=allowed_roots)
    speech = _synthesizer(settings, _local_speech_engine(settings), settings.cli_cache_dir)
    shared = reuse if reuse is not None else render_reuse(settings, cli=True, probes=False)
    return functools.partial(
        render,
        assets=assets,
        speech=speech,
        limits=settings.render_limits,
        reuse=shared,
        encoder_threads=settings.render_threads,
    )


def build_source_checker(
    settings: Settings, *, base_dir: Path, allowed_roots: Sequence[Path], fetch_remote: bool
) -> SourceChecker:
    """The CLI's check of every asset source (``SourceChecker``): local paths resolved as a render
    resolves them and probed; remote sources fetched and probed when ``fetch_remote``."""
    from autovid.assets.check import SourceChecker
    from autovid.assets.local import resolve_cli_path
    from autovid.render.media import probe

    roots = [root.resolve() for root in allowed_roots]
    fetcher = build_cli_asset_fetcher(settings, base_dir=base_dir, allowed_roots=roots)

    def fetch(asset: AudioAsset | VideoAsset, folder: Path) -> Path:
        return fetcher.fetch_all([asset], folder)[asset.id]

    def outside(source: str) -> bool:
        return not any((base_dir / source).resolve().is_relative_to(root) for root in roots)

    return SourceChecker(
        resolve_local=lambda source: resolve_cli_path(source, base_dir=base_dir, roots=roots),
        probe=probe,
        fetch=fetch if fetch_remote else None,
        is_outside_roots=outside,
    )


def build_cli_asset_fetcher(
    settings: Settings, *, base_dir: Path, allowed_roots: Sequence[Path]
) -> AssetFetcher:
    """The CLI's ``AssetFetcher``: paths relative to ``base_dir`` inside ``allowed_roots``, URLs and
    s3:// sources with the ambient credentials."""
    from autovid.assets.fetcher import AssetFetcher, LocalFiles

    return AssetFetcher(
        LocalFiles(base_dir=base_dir, allowed_roots=list(allowed_roots)),
        _fetch_policy(settings),
        https=_https_transport(settings),
        s3=_s3_transport(settings),
    )


def render_reuse(settings: Settings, *, cli: bool = False, probes: bool = True) -> Reuse:
    """What the renders of this process share: the machine's segment cache, and in memory the
    decoded sources and (with ``probes``) what probing and scanning the media found."""
    from autovid.render.media import DecodedSources, ProbeCache
    from autovid.render.pipeline import Reuse

    return Reuse(
        segments=machine_segment_cache(settings, cli=cli),
        decoded=DecodedSources(),
        probes=ProbeCache() if probes else None,
    )


def machine_segment_cache(settings: Settings, *, cli: bool = False) -> SegmentStore | None:
    """The machine's cache of encoded AAC segments (``AUTOVID_SEGMENT_CACHE_DIR``, else beside
    the speech cache of the service or of the CLI; bounded by ``AUTOVID_SEGMENT_CACHE_BYTES``);
    None when that is 0."""
    if settings.segment_cache_bytes <= 0:
        return None
    from autovid.adapters.local.segment_cache import DiskSegmentCache

    default = (settings.cli_cache_dir if cli else settings.speech_cache_dir) / "segments"
    return DiskSegmentCache(settings.segment_cache_dir or default, settings.segment_cache_bytes)


def _reusing_render(settings: Settings) -> RenderFn:
    """The worker's render function, within the settings' limits and sharing
    ``render_reuse(settings)`` across its jobs. The render engine is imported at the first job,
    not here."""
    shared: list[Reuse] = []

    def render(*args: Any, **kwargs: Any) -> RenderResult:
        from autovid.render.pipeline import render as render_job

        if not shared:
            shared.append(render_reuse(settings))
        return render_job(
            *args,
            reuse=shared[0],
            limits=settings.render_limits,
            encoder_threads=settings.render_threads,
            **kwargs,
        )

    return render


def _cli_s3_client(settings: Settings) -> Any:
    # s3:// sources outside the AWS backend use the ambient AWS credentials; boto3 loads lazily.
    from autovid.adapters.aws.clients import make_clients

    return make_clients(settings).s3


def _local_keys(db: Database | None) -> SqliteKeyStore | None:
    """The embedded API-key store (hashed keys, usage plans); None on AWS, where API Gateway
    holds keys and plans."""
    if db is None:
        return None
    from autovid.adapters.local.sqlite_keys import SqliteKeyStore

    return SqliteKeyStore(db)


def _wire_dead_letters(queue: JobQueue, processor: JobProcessor) -> None:
    # Queues that dead-letter on their own (the SQLite one) tell the processor, which fails the job.
    queue.set_dead_letter_handler(processor.dead_lettered)
