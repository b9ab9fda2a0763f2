"""``make demo``: the embedded service end to end, in about ten seconds.

Start ``autovid serve`` on a fresh data folder and a free port, create an API key, upload the
example's media and submit ``examples/welcome.spec.json`` over HTTP, follow its progress, download
the MP4 from its signed URL into ``out/`` and stop the service with SIGTERM.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from autovid.adapters.local.db import Database
from autovid.adapters.local.sqlite_keys import SqliteKeyStore
from autovid.bootstrap import DB_FILE
from autovid.client import ApiError, AutovidClient, upload_local_sources
from autovid.entrypoints.api.runner import ServiceError, ServiceProcess
from autovid.entrypoints.cli.render import progress_bar
from autovid.examples import ensure_example_media, example_dirs
from autovid.render.media import probe

console = Console(stderr=True, highlight=False)
POLL_S = 0.5  # the default usage plan allows 2 requests/s


def example_dir() -> Path:
    folders = example_dirs()
    if not folders:
        raise SystemExit("examples/welcome.spec.json not found: run the demo from the repository")
    return folders[0]


def create_key(data_dir: Path) -> str:
    """What ``autovid keys create --name demo`` does, with the default plan (2/s, burst 5, 50/day)."""
    key, secret = SqliteKeyStore(Database(data_dir / DB_FILE)).create(name="demo")
    console.print(f"  created API key {key.key_id} ({key.plan.describe()})")
    return secret


def submit_and_follow(client: AutovidClient, spec_path: Path, download_to: Path) -> dict:
    spec = json.loads(spec_path.read_text())
    spec["output"].pop("destination", None)  # the service keeps outputs in its own storage
    spec = upload_local_sources(
        client, spec, spec_path.parent, on_upload=lambda p: console.print(f"  uploading {p.name}")
    )
    doc = client.submit(spec)
    console.print(f"  submitted job {doc['jobId']}")
    bar = progress_bar(console, indent="  ", transient=False)
    with bar:
        task = bar.add_task("queued", total=100)

        def show(status: dict) -> None:
            progress = status["progress"]
            bar.update(task, description=progress["stage"], completed=progress["percent"])

        doc = client.wait(doc["jobId"], poll_s=POLL_S, timeout_s=300, on_status=show)
    if doc["status"] == "completed":
        client.download(doc["output"]["url"], download_to)
    return doc


def main() -> int:
    started = time.monotonic()
    examples = example_dir()
    console.print("[bold]autovid demo[/bold]: the embedded service end to end")
    ensure_example_media(
        examples / "media",
        lambda path: console.print(f"  making example media {path.relative_to(examples.parent)}"),
    )
    out_path = (examples.parent / "out" / "welcome.mp4").resolve()
    data_dir = Path(tempfile.mkdtemp(prefix="autovid-demo-"))
    try:
        secret = create_key(data_dir)
        console.print("  starting autovid serve (API + one worker per core)")
        service = ServiceProcess(data_dir)
        with service, AutovidClient(service.url, secret) as client:
            console.print(f"  serving {service.url} (API docs at {service.url}/docs)")
            doc = submit_and_follow(client, examples / "welcome.spec.json", out_path)
            console.print("  stopping the service (SIGTERM)")
        exit_code = service.stop()  # already stopped: its exit code
        if exit_code != 0:
            console.print(f"[yellow]the service exited with {exit_code}:[/yellow]\n{service.log_tail()}")
    except (ApiError, ServiceError) as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        return 1
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    if doc["status"] != "completed":
        console.print(f"[red]job {doc['status']}:[/red] {doc['error']}")
        return 1
    output = doc["output"]
    console.print(
        f"[green]completed[/green]: {output['duration']} s of video, {output['size']} bytes, "
        f"rendered in {doc['processingTime']} s (demo total {time.monotonic() - started:.1f} s)"
    )
    console.print(f"  signed URL (valid while that server ran): {output['url']}", soft_wrap=True)
    info = probe(out_path)
    streams = ", ".join(f"{s.codec}" for s in (info.video, info.audio) if s is not None)
    console.print(f"  downloaded through that URL ({streams}):")
    print(out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
