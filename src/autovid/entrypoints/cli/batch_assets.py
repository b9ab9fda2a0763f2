"""Remote assets that several rows of a batch share, fetched once before the rows render.

Each row would otherwise download the template's video and music again. A shared source is
fetched into a folder of the batch; the rows' specs then point at that file, which a render links
instead of copying. A source that cannot be fetched for good fails its rows at once; one that
fails for the moment is left to each row's own fetch (and its retries).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from autovid.config import Settings
from autovid.entrypoints.cli.batch_worker import RowJob, RowResult
from autovid.errors import AssetError, RetryableError

REMOTE_PREFIXES = ("https://", "http://", "s3://")


@dataclass
class SharedAssets:
    jobs: list[RowJob]  # to render, pointing at the local copies
    roots: list[Path]  # the allowed roots, with the copies' folder
    failed: list[RowResult] = field(default_factory=list)  # rows whose shared asset cannot be had


def fetch_shared_assets(
    jobs: list[RowJob], settings: Settings, base_dir: Path, roots: list[Path], folder: Path, console: Console
) -> SharedAssets:
    uses = Counter(source for job in jobs for source in set(sources(job.spec).values()) if is_remote(source))
    shared = sorted(source for source, count in uses.items() if count > 1)
    if not shared:
        return SharedAssets(jobs, roots)
    from autovid.bootstrap import build_cli_asset_fetcher
    from autovid.spec.models import AudioAsset

    fetcher = build_cli_asset_fetcher(settings, base_dir=base_dir, allowed_roots=roots)
    console.print(f"fetching {len(shared)} asset(s) the rows share")
    local: dict[str, str] = {}
    refused: dict[str, str] = {}
    for index, source in enumerate(shared):
        asset = AudioAsset(id=f"shared-{index}", source=source)
        try:
            local[source] = str(fetcher.fetch_all([asset], folder)[asset.id])
        except AssetError as exc:
            refused[source] = exc.reason
        except RetryableError as exc:
            console.print(
                f"[yellow]{escape(f'{source}: {exc.message}')}; each row fetches it itself[/yellow]"
            )
    result = SharedAssets([], [*roots, folder.resolve()])
    for job in jobs:
        bad = next(((asset_id, src) for asset_id, src in sources(job.spec).items() if src in refused), None)
        if bad is not None:
            result.failed.append(RowResult(job.row, job.output_path, f"asset '{bad[0]}': {refused[bad[1]]}"))
        else:
            result.jobs.append(replace(job, spec=with_sources(job.spec, local)))
    return result


def sources(spec: dict[str, Any]) -> dict[str, str]:
    """Asset id -> source, of a valid spec."""
    assets = spec["assets"]
    return {str(asset["id"]): str(asset["source"]) for asset in [assets["video"], *assets.get("audio", [])]}


def is_remote(source: str) -> bool:
    return source.lower().startswith(REMOTE_PREFIXES)


def with_sources(spec: dict[str, Any], local: dict[str, str]) -> dict[str, Any]:
    """``spec`` with each source found in ``local`` replaced by its local file."""
    assets = dict(spec["assets"])
    assets["video"] = {
        **assets["video"],
        "source": local.get(assets["video"]["source"], assets["video"]["source"]),
    }
    assets["audio"] = [
        {**audio, "source": local.get(audio["source"], audio["source"])} for audio in assets.get("audio", [])
    ]
    return {**spec, "assets": assets}
