"""``autovid serve | worker | keys | submit | status | cancel``: the embedded service and its client.

``serve`` and ``worker`` run on a data folder (``AUTOVID_DATA_DIR``); ``keys`` administers that
folder's API keys directly; ``submit``, ``status`` and ``cancel`` talk HTTP to ``AUTOVID_URL``
with ``AUTOVID_API_KEY``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from autovid.auth import plans
from autovid.config import Settings
from autovid.entrypoints.cli import app
from autovid.entrypoints.cli.render import console, make_example_media, progress_bar

if TYPE_CHECKING:
    from autovid.adapters.local.sqlite_keys import SqliteKeyStore
    from autovid.auth.plans import UsagePlan
    from autovid.client import AutovidClient
DEFAULT_URL = "http://127.0.0.1:8000"

keys_app = typer.Typer(help="Create, list and revoke API keys of a data folder.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

DataDirOption = typer.Option(
    None, "--data-dir", help="data folder (default: AUTOVID_DATA_DIR or ./autovid-data)"
)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the command line's values on top."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors():
            name = ".".join(str(p) for p in error["loc"])
            console.print(f"[red]setting {name}: {error['msg']}[/red]", highlight=False)
        raise typer.Exit(2) from None


def configure_logging(settings: Settings) -> None:
    from autovid.logsafe import configure_logging as configure

    configure(settings.log_level)


# --- the service --------------------------------------------------------------------------------


@app.command()
def serve(
    host: str | None = typer.Option(None, help="address to listen on (default AUTOVID_HOST, 127.0.0.1)"),
    port: int | None = typer.Option(None, help="port (default AUTOVID_PORT, 8000; 0 picks a free one)"),
    workers: int | None = typer.Option(
        None,
        "--workers",
        "-w",
        help="worker processes (default AUTOVID_WORKERS, else one per core; 0: API only)",
    ),
    data_dir: Path | None = DataDirOption,
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="log every request"),
) -> None:
    """Run the HTTP API and a pool of workers on one data folder, until SIGTERM or Ctrl-C."""
    import uvicorn

    from autovid.bootstrap import bootstrap
    from autovid.entrypoints.api import create_app
    from autovid.entrypoints.workers import default_worker_count, run_workers

    settings = load_settings(host=host, port=port, workers=workers, data_dir=data_dir)
    configure_logging(settings)
    sock = bind_socket(settings.host, settings.port)
    # Signed output URLs carry the port: make it the real one when 0 asked for any free port.
    settings = settings.model_copy(update={"port": sock.getsockname()[1]})
    container = bootstrap(settings)
    api = create_app(container)
    worker_count = default_worker_count() if settings.workers is None else settings.workers
    stop = threading.Event()
    # uvicorn re-raises the signal that stopped it after it has shut down; ours then stops workers.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    pool = threading.Thread(
        target=run_workers, args=(container, worker_count, stop), name="worker-pool", daemon=True
    )
    pool.start()
    server = uvicorn.Server(
        uvicorn.Config(
            api,
            log_level=settings.log_level.lower(),
            access_log=access_log,
            timeout_graceful_shutdown=10,
            server_header=False,
        )
    )
    url = f"http://{settings.host}:{settings.port}"
    typer.echo(f"autovid serving {url} with {worker_count} worker(s); data in {settings.data_dir}", err=True)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C: uvicorn re-raises it once it has shut down
        pass
    finally:
        stop.set()
        pool.join()
        typer.echo("autovid stopped", err=True)


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        console.print(f"[red]cannot listen on {host}:{port}: {exc.strerror}[/red]")
        raise typer.Exit(2) from None
    sock.set_inheritable(True)
    return sock


@app.command()
def worker(
    count: int | None = typer.Option(
        None, "--count", "-n", help="worker processes (default AUTOVID_WORKERS, else one per core)"
    ),
    data_dir: Path | None = DataDirOption,
    drain: bool = typer.Option(False, "--drain", help="exit once no job is waiting (one worker)"),
) -> None:
    """Run workers alone on a data folder; several worker processes may share one folder.
    SIGTERM lets each finish or give back its job."""
    from autovid.bootstrap import bootstrap
    from autovid.entrypoints.workers import (
        default_worker_count,
        free_memory_after_job,
        install_signal_handlers,
        run_workers,
    )
    from autovid.jobs.worker import run_worker

    settings = load_settings(workers=count, data_dir=data_dir)
    configure_logging(settings)
    stop = threading.Event()
    install_signal_handlers(stop)
    container = bootstrap(settings)
    worker_count = default_worker_count() if settings.workers is None else settings.workers
    if drain or worker_count == 1:
        handled = run_worker(container, stop, drain=drain, on_outcome=free_memory_after_job)
        typer.echo(f"handled {handled} message(s)", err=True)
    else:
        run_workers(container, worker_count, stop)


# --- keys ---------------------------------------------------------------------------------------


def _key_store(data_dir: Path | None) -> SqliteKeyStore:
    from autovid.adapters.local.db import Database
    from autovid.adapters.local.sqlite_keys import SqliteKeyStore
    from autovid.bootstrap import DB_FILE

    settings = load_settings(data_dir=data_dir)
    if settings.backend == "aws":
        console.print(
            "[red]on AWS, API Gateway manages keys and usage plans (see docs/DEPLOY.md); "
            "these commands administer an embedded data folder[/red]"
        )
        raise typer.Exit(2)
    return SqliteKeyStore(Database(settings.data_dir / DB_FILE))


def _plan(rate: float, burst: int, quota: int) -> UsagePlan:
    from autovid.auth.plans import UsagePlan

    try:
        return UsagePlan(rate_per_s=rate, burst=burst, quota_per_day=quota or None)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


# The defaults are the default usage plan's.
RateOption = typer.Option(
    plans.DEFAULT_RATE_PER_S, "--rate", help="requests per second (token bucket refill)"
)
BurstOption = typer.Option(plans.DEFAULT_BURST, "--burst", help="requests allowed at once (bucket size)")
QuotaOption = typer.Option(
    plans.DEFAULT_QUOTA_PER_DAY or 0, "--quota", help="requests per UTC day; 0: no daily quota"
)


@keys_app.command("create")
def keys_create(
    name: str = typer.Option("default", "--name", help="a label for the key"),
    rate: float = RateOption,
    burst: int = BurstOption,
    quota: int = QuotaOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    plan = _plan(rate, burst, quota)
    try:
        key, secret = _key_store(data_dir).create(name=name, plan=plan)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"created {key.key_id} ({key.name}; {plan.describe()}). The key, shown only now:")
    typer.echo(secret)


@keys_app.command("list")
def keys_list(data_dir: Path | None = DataDirOption) -> None:
    """List keys (ids, names, plans, today's use); never the keys themselves."""
    columns = ("id", "name", "plan", "today", "created", "last used", "state")
    rows = [
        (
            key.key_id,
            key.name,
            key.plan.describe(),
            str(key.requests_today),
            _when(key.created_at),
            _when(key.last_used_at),
            "active" if key.active else f"revoked {_when(key.revoked_at)}",
        )
        for key in _key_store(data_dir).list()
    ]
    out = Console()
    if not out.is_terminal:  # piped: one tab-separated line per key, for scripts
        for row in (columns, *rows):
            typer.echo("\t".join(row))
        return
    table = Table()
    for column in columns:
        table.add_column(column, no_wrap=column in ("id", "created", "last used"))
    for row in rows:
        table.add_row(*row)
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="the key's id (key_…)"), data_dir: Path | None = DataDirOption
) -> None:
    """Revoke a key: its next request gets 403."""
    from autovid.auth.keys import KeyNotFoundError

    try:
        key = _key_store(data_dir).revoke(key_id)
    except KeyNotFoundError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    console.print(f"revoked {key.key_id} ({key.name})")


@keys_app.command("plan")
def keys_plan(
    key_id: str = typer.Argument(..., help="the key's id (key_…)"),
    rate: float = RateOption,
    burst: int = BurstOption,
    quota: int = QuotaOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Change a key's usage plan."""
    from autovid.auth.keys import KeyNotFoundError

    try:
        key = _key_store(data_dir).set_plan(key_id, _plan(rate, burst, quota))
    except KeyNotFoundError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    console.print(f"{key.key_id}: {key.plan.describe()}")


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


# --- the client ---------------------------------------------------------------------------------


def _client() -> AutovidClient:
    from autovid.client import AutovidClient

    url = os.environ.get("AUTOVID_URL") or DEFAULT_URL
    api_key = os.environ.get("AUTOVID_API_KEY")
    if not api_key:
        console.print("[red]set AUTOVID_API_KEY to a key from `autovid keys create`[/red]")
        raise typer.Exit(2)
    return AutovidClient(url, api_key)


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]{getattr(exc, 'message', str(exc))}[/red]", highlight=False)
    return typer.Exit(1)


@app.command()
def submit(
    spec_path: Path = typer.Argument(..., help="job spec (JSON); local asset files are uploaded first"),
    wait: bool = typer.Option(False, "--wait", help="show progress until the job ends; print the output URL"),
    output: Path | None = typer.Option(None, "-o", "--output", help="with --wait: download the MP4 here"),
    idempotency_key: str | None = typer.Option(None, "--idempotency-key", help="repeat-safe submit"),
    poll_s: float = typer.Option(
        1.0, "--poll", help="seconds between status checks (each counts on the plan)"
    ),
) -> None:
    """Submit a job to the server at AUTOVID_URL (default http://127.0.0.1:8000)."""
    from autovid.client import ApiError, upload_local_sources

    make_example_media(spec_path)
    try:
        spec = json.loads(spec_path.read_text())
    except (OSError, ValueError) as exc:
        console.print(f"[red]cannot read {spec_path}: {exc}[/red]")
        raise typer.Exit(2) from None
    spec = _without_local_destination(spec)
    with _client() as client:
        try:
            spec = upload_local_sources(
                client, spec, spec_path.parent, on_upload=lambda p: console.print(f"uploading {p}")
            )
            doc = client.submit(spec, idempotency_key=idempotency_key)
            console.print(f"submitted job {doc['jobId']}")
            if not wait:
                typer.echo(doc["jobId"])
                return
            doc = _wait_with_progress(client, doc["jobId"], poll_s)
            _report_end(doc)
            if output is not None and doc["output"]["url"]:
                client.download(doc["output"]["url"], output)
                console.print(f"downloaded {output}")
        except ApiError as exc:
            raise _fail(exc) from None
    if doc["status"] != "completed":
        raise typer.Exit(1)
    typer.echo(doc["output"]["url"])


def _without_local_destination(spec: Any) -> Any:
    output = spec.get("output") if isinstance(spec, dict) else None
    destination = output.get("destination") if isinstance(output, dict) else None
    if isinstance(destination, str) and "://" not in destination:
        console.print(
            f"note: output.destination '{destination}' is a local folder; the service keeps the output "
            "in its storage (download it with --wait -o PATH)",
            highlight=False,
        )
        return {**spec, "output": {k: v for k, v in output.items() if k != "destination"}}
    return spec


def _wait_with_progress(client: AutovidClient, job_id: str, poll_s: float) -> dict[str, Any]:
    bar = progress_bar(console)
    with bar:
        task = bar.add_task("queued", total=100)

        def show(doc: dict[str, Any]) -> None:
            progress = doc.get("progress") or {}
            bar.update(
                task, description=progress.get("stage", doc["status"]), completed=progress.get("percent", 0)
            )

        result: dict[str, Any] = client.wait(job_id, poll_s=poll_s, on_status=show)
    return result


def _report_end(doc: dict[str, Any]) -> None:
    if doc["status"] == "completed":
        out = doc["output"]
        console.print(
            f"[green]completed[/green] in {doc['processingTime']} s: {out['duration']} s, {out['size']} bytes"
        )
    else:
        console.print(f"[red]{doc['status']}[/red]: {doc.get('error')}", highlight=False)


@app.command()
def status(job_id: str = typer.Argument(..., help="the jobId submit printed")) -> None:
    """Print a job's status document (JSON)."""
    from autovid.client import ApiError

    with _client() as client:
        try:
            doc = client.status(job_id)
        except ApiError as exc:
            raise _fail(exc) from None
    typer.echo(json.dumps(doc, indent=2))


@app.command()
def cancel(job_id: str = typer.Argument(..., help="the jobId submit printed")) -> None:
    """Cancel a job: a queued one never renders, a running one stops."""
    from autovid.client import ApiError

    with _client() as client:
        try:
            doc = client.cancel(job_id)
        except ApiError as exc:
            raise _fail(exc) from None
    typer.echo(json.dumps(doc, indent=2))
