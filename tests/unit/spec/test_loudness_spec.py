"""``output.loudness``: targets in LUFS or by preset name, a true-peak ceiling; clear errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from autovid.errors import SpecError
from autovid.spec.models import JobSpec
from autovid.spec.validation import parse_spec

BASE: dict[str, Any] = {
    "assets": {"video": {"id": "main", "source": "in.mp4"}},
    "timeline": [],
    "output": {"filename": "out"},
}
TARGET_RULE = (
    "must be an integrated loudness in LUFS from -40 to -5, or one of "
    "'web' (-14), 'podcast' (-16), 'broadcast' (-23)"
)


def with_loudness(loudness: Any) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    spec["output"]["loudness"] = loudness
    return spec


def errors_of(spec: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        parse_spec(spec)
    return {d.path: d.message for d in info.value.errors}


@pytest.mark.parametrize(
    ("target", "lufs"), [(-14, -14.0), ("web", -14.0), ("podcast", -16.0), ("broadcast", -23.0), (-40, -40.0)]
)
def test_targets_and_presets(target: Any, lufs: float) -> None:
    loudness = parse_spec(with_loudness({"target": target})).output.loudness
    assert loudness is not None
    assert loudness.target_lufs == lufs
    assert loudness.truePeak == -1.0


def test_no_loudness_is_none() -> None:
    assert parse_spec(BASE).output.loudness is None


def test_true_peak_is_the_specs() -> None:
    loudness = parse_spec(with_loudness({"target": -23, "truePeak": -2.5})).output.loudness
    assert loudness is not None and loudness.truePeak == -2.5


@pytest.mark.parametrize("target", [3, -4.9, -41, "loud", True, None])
def test_bad_targets_name_the_field_and_what_is_allowed(target: Any) -> None:
    assert errors_of(with_loudness({"target": target})) == {"output.loudness.target": TARGET_RULE}


@pytest.mark.parametrize("peak", [1, 0.5, -11, "high"])
def test_bad_true_peaks_name_the_field_and_what_is_allowed(peak: Any) -> None:
    assert errors_of(with_loudness({"target": -14, "truePeak": peak})) == {
        "output.loudness.truePeak": "must be a true-peak ceiling in dBTP from -10 to 0 (the default is -1)"
    }


def test_a_target_is_required_and_nothing_else_is_known() -> None:
    assert errors_of(with_loudness({"truePeak": -1})) == {"output.loudness.target": "is required"}
    assert errors_of(with_loudness({"target": -14, "lufs": -14})) == {
        "output.loudness.lufs": "is not a known field; allowed here: target, truePeak"
    }


def test_the_schema_lists_the_presets_and_ranges() -> None:
    schema = JobSpec.model_json_schema(by_alias=True)
    loudness = schema["$defs"]["Loudness"]["properties"]
    options = loudness["target"]["anyOf"]
    assert {"maximum": -5.0, "minimum": -40.0, "type": "number"}.items() <= options[0].items()
    assert options[1]["enum"] == ["web", "podcast", "broadcast"]
    assert (loudness["truePeak"]["minimum"], loudness["truePeak"]["maximum"]) == (-10.0, 0.0)
