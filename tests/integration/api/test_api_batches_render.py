"""A batch rendered for real (FFmpeg through PyAV, espeak-ng): each row's output, downloaded over
HTTP, decodes to the same audio as a direct render of that row's substituted spec."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from autovid import samples
from autovid.jobs.worker import run_worker
from autovid.render.pipeline import render
from autovid.spec.validation import parse_spec
from autovid.templates import parse_template, substitute

pytestmark = pytest.mark.slow


def decode_audio(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return np.concatenate([frame.to_ndarray() for frame in container.decode(stream)], axis=1)


def test_each_rows_audio_equals_a_direct_render_of_its_spec(api_factory: Any, tmp_path: Path) -> None:
    api = api_factory(real_render=True)
    container = api.container
    _, secret = api.new_key()
    video = samples.make_video(tmp_path / "base.mp4", duration_s=2.0, fps=10, width=160, height=120)
    source = api.upload_video(secret, video)
    document = {
        "name": "greeting",
        "variables": {"firstName": {"type": "string", "required": True}},
        "spec": {
            "assets": {"video": {"id": "main", "source": source}},
            "timeline": [{"start": 0.2, "type": "tts", "data": {"text": "Hello {{firstName}}"}}],
            "output": {"filename": "hi-{{firstName}}.mp4"},
        },
    }
    rows = [{"firstName": "Ada"}, {"firstName": "Bartholomew"}]
    with api.client(secret) as client:
        batch = client.post("/batches", json={"template": document, "rows": rows}).json()
        run_worker(container, threading.Event(), drain=True)
        done = client.get(f"/batches/{batch['batchId']}").json()
        outputs = []
        for row in done["rows"]:
            path = tmp_path / f"row-{row['row']}.mp4"
            path.write_bytes(api.http.get(row["output"]["url"]).content)
            outputs.append(path)

    assert done["counts"]["completed"] == 2, done
    template = parse_template(document)
    decoded = []
    for index, row in enumerate(rows):
        spec = parse_spec(substitute(template, row))
        direct = render(
            spec,
            output_path=tmp_path / f"direct-{index}.mp4",
            assets=container.processor.assets,
            speech=container.processor.speech,
            workdir=tmp_path / f"work-{index}",
        )
        from_batch, expected = decode_audio(outputs[index]), decode_audio(Path(direct.output_path))
        assert from_batch.shape == expected.shape
        assert np.array_equal(from_batch, expected), (
            f"row {index}: max diff {np.abs(from_batch - expected).max()}"
        )
        decoded.append(from_batch)
    # The rows really differ: each says its own name.
    assert decoded[0].shape != decoded[1].shape or not np.array_equal(decoded[0], decoded[1])
    assert float(np.sqrt(np.mean(np.square(decoded[1], dtype=np.float64)))) > 1e-3
