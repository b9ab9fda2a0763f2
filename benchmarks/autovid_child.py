"""Render a job with autovid's Python API, the way ``autovid render`` does, in its own process.

The harness uses the CLI (``python -m autovid render``) when the CLI can build a renderer and
this script otherwise. It prints the render's own stage timings as JSON.

    python benchmarks/autovid_child.py job.json out.mp4
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from autovid.adapters.local.espeak import EspeakEngine
from autovid.assets.fetcher import AssetFetcher, FetchPolicy, LocalFiles
from autovid.config import Settings
from autovid.spec.validation import parse_spec
from autovid.speech.synthesizer import SpeechSynthesizer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    from autovid.render.pipeline import render  # a separate import: the engine may not exist yet

    settings = Settings()
    spec = parse_spec(args.spec.read_bytes(), settings.spec_limits)
    base_dir = args.spec.parent.resolve()
    fetcher = AssetFetcher(
        LocalFiles(base_dir=base_dir, allowed_roots=[base_dir]),
        FetchPolicy(max_bytes=settings.max_asset_bytes, retries=settings.fetch_retries),
    )
    speech = SpeechSynthesizer(EspeakEngine(), settings.speech_cache_dir)
    with tempfile.TemporaryDirectory(prefix="autovid-bench-") as workdir:
        result = render(
            spec, output_path=args.output.resolve(), assets=fetcher, speech=speech, workdir=Path(workdir)
        )
    print(json.dumps({"timings_s": result.timings_s, "video_copied": result.video_copied}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
