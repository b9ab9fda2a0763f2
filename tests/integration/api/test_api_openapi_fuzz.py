"""The OpenAPI document tells the truth: schemathesis generates requests from the document the
server serves, sends them over real HTTP, and checks every answer against it (all checks:
no 5xx, documented status codes, bodies and headers, invalid data refused, valid data accepted,
auth honoured). Bounded: a few hundred cases, well under a minute."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from autovid.entrypoints.api.schemas import ValidationErrorDoc

ST = shutil.which("st", path=str(Path(sys.executable).parent))
EXAMPLES_PER_OPERATION = 20
CONFIG = Path(__file__).with_name("schemathesis.toml")


def test_the_documented_errors_are_the_real_ones(api: Any) -> None:
    document = api.http.get(f"{api.url}/openapi.json").json()
    operations = [
        (path, method, op) for path, item in document["paths"].items() for method, op in item.items()
    ]

    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, method, operation in operations:
        responses = operation["responses"]
        assert "422" not in responses, (method, path)
        ref = responses["400"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith(f"/{ValidationErrorDoc.__name__}"), (method, path)
    for route in ("/assets", "/assets/upload-url"):
        (filename,) = [p for p in document["paths"][route]["post"]["parameters"] if p["name"] == "filename"]
        assert filename["required"] is True and filename["in"] == "query"
    files = document["paths"]["/files/{key}"]["get"]["responses"]
    assert {"200", "403", "404"} <= set(files)
    submit = document["paths"]["/submit"]["post"]["responses"]
    assert {"200", "400", "403", "409", "413", "429", "503"} <= set(submit)


@pytest.mark.skipif(ST is None, reason="schemathesis is a dev extra: pip install -e '.[dev]'")
def test_schemathesis_finds_nothing_against_the_served_document(api: Any, tmp_path: Path) -> None:
    _, secret = api.new_key()
    command = [
        str(ST),
        "--config-file",
        str(CONFIG),
        "run",
        f"{api.url}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"X-API-Key: {secret}",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--workers",
        "1",
        "--seed",
        "1",
        "--phases",
        "examples,coverage,fuzzing",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": ""}
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)

    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
