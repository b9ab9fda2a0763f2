"""Render many specs in one process, one renderer and one ``Reuse`` for all of them: the
``warm-loop`` diagnostic of ``benchmarks/batch.py`` (each row's stage timings, one row at a time).

    python benchmarks/batch_child.py OUT_DIR SPEC.json [SPEC.json ...]

Prints one JSON line per row with the render's stage timings.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from autovid.bootstrap import build_renderer, render_reuse
from autovid.config import Settings
from autovid.spec.validation import parse_spec


def main(argv: list[str] | None = None) -> int:
    out_dir, *spec_paths = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    settings = Settings()
    base_dir = spec_paths[0].parent.resolve()
    reuse = render_reuse(settings, cli=True)  # the machine's segment cache, decoded sources in memory
    renderer = build_renderer(settings, base_dir=base_dir, allowed_roots=[base_dir], reuse=reuse)
    out_dir.mkdir(parents=True, exist_ok=True)
    for index, spec_path in enumerate(spec_paths):
        spec = parse_spec(spec_path.read_bytes(), settings.spec_limits)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="autovid-batch-") as workdir:
            result = renderer(
                spec, output_path=(out_dir / f"row{index}.mp4").resolve(), workdir=Path(workdir)
            )
        row = {"row": index, "wall_s": time.perf_counter() - started, "timings_s": result.timings_s}
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
