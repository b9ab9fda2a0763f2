"""Check every source of a spec before any work starts: does it resolve, can it be read, is it
media of the kind its role needs? Every failure is collected, each naming its asset, so that three
broken sources take one run to find, not three.

Local paths are resolved (inside the allowed folders) and probed where they are; remote sources
(``https://``, ``s3://``) are fetched into a scratch folder and probed there when ``fetch`` is
given, else only their form is checked (a render fetches them anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autovid.assets.common import FetchRefused
from autovid.assets.fetcher import source_kind
from autovid.assets.s3 import parse_s3_uri
from autovid.errors import AutovidError
from autovid.spec.models import AudioAsset, JobSpec, VideoAsset

MAX_CHECK_WORKERS = 4


@dataclass(frozen=True)
class SourceProblem:
    """One asset that cannot be used: where it is in the spec, its id, and why."""

    path: str  # 'assets.audio[1].source'
    asset_id: str
    message: str
    outside_roots: bool = False  # a local path outside the allowed folders


@dataclass(frozen=True)
class SourceChecker:
    """``check(spec)`` -> every ``SourceProblem``. ``resolve_local(source)`` gives the file
    behind a path source (``FetchRefused`` when it cannot); ``fetch(asset, folder)`` brings a
    remote one to a local file (an ``AutovidError`` naming the asset when it cannot); ``probe``
    describes a media file (``.video``/``.audio``, ``AutovidError`` when it is not media)."""

    resolve_local: Callable[[str], Path]
    probe: Callable[[Path], Any]
    fetch: Callable[[AudioAsset | VideoAsset, Path], Path] | None = None
    is_outside_roots: Callable[[str], bool] = lambda source: False

    def check(self, spec: JobSpec, scratch_dir: Path) -> list[SourceProblem]:
        located: list[tuple[str, AudioAsset | VideoAsset, str]] = [
            ("assets.video.source", spec.assets.video, "video")
        ]
        located += [(f"assets.audio[{i}].source", a, "audio") for i, a in enumerate(spec.assets.audio)]
        with ThreadPoolExecutor(max_workers=MAX_CHECK_WORKERS, thread_name_prefix="check") as pool:
            found = list(pool.map(lambda item: self._problem(*item, scratch_dir), located))
        return [problem for problem in found if problem is not None]

    def _problem(
        self, path: str, asset: AudioAsset | VideoAsset, needs: str, scratch_dir: Path
    ) -> SourceProblem | None:
        try:
            file = self._local_file(asset, scratch_dir)
            if file is None:
                return None
            info = self.probe(file)
        except FetchRefused as exc:
            return SourceProblem(path, asset.id, exc.reason, self.is_outside_roots(asset.source))
        except AutovidError as exc:
            return SourceProblem(path, asset.id, getattr(exc, "reason", exc.message))
        if getattr(info, needs) is None:
            role = "the base video" if needs == "video" else "an audio asset"
            return SourceProblem(path, asset.id, f"has no {needs} stream ({role} needs one)")
        return None

    def _local_file(self, asset: AudioAsset | VideoAsset, scratch_dir: Path) -> Path | None:
        kind = source_kind(asset.source)
        if kind == "path":
            return self.resolve_local(asset.source)
        if kind == "s3":
            parse_s3_uri(asset.source)
        if self.fetch is None:
            return None
        folder = scratch_dir / asset.id
        folder.mkdir(parents=True, exist_ok=True)
        return self.fetch(asset, folder)
