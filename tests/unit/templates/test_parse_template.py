"""``parse_template``: the document, its variables and every placeholder are checked up front, with
paths inside ``spec`` and ``variables``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from autovid.errors import SpecError
from autovid.templates import TemplateError, parse_template, template_json_schema
from tests.unit.templates.conftest import BASE_SPEC, document

REPO_ROOT = Path(__file__).resolve().parents[3]


def errors_of(raw: Any) -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        parse_template(raw)
    assert isinstance(caught.value, TemplateError)
    return {e.path: e.message for e in caught.value.errors}


def test_the_example_template_parses() -> None:
    template = parse_template((REPO_ROOT / "examples" / "greeting.template.json").read_bytes())
    assert template.name == "greeting"
    assert template.variables["firstName"].is_required
    assert not template.variables["company"].is_required


def test_the_published_schema_is_current() -> None:
    committed = json.loads((REPO_ROOT / "docs" / "template.schema.json").read_text())
    assert template_json_schema() == committed, (
        "regenerate: autovid schema --template > docs/template.schema.json"
    )


def test_an_undeclared_placeholder_is_named_with_its_path(base: dict[str, Any]) -> None:
    base["spec"]["output"]["filename"] = "{{lastName}}.mp4"
    errors = errors_of(base)
    assert list(errors) == ["spec.output.filename"]
    assert "{{lastName}}" in errors["spec.output.filename"] and "firstName" in errors["spec.output.filename"]


def test_malformed_placeholders_and_placeholders_in_keys_are_template_errors(base: dict[str, Any]) -> None:
    base["spec"]["timeline"][1]["data"]["text"] = "Hi {{first-name}}"
    base["spec"]["jobInfo"] = {"{{firstName}}": "x"}
    errors = errors_of(base)
    assert "does not start a placeholder" in errors["spec.timeline[1].data.text"]
    assert "not in field names" in errors["spec.jobInfo.{{firstName}}"]


def test_sources_are_filled_whole_and_assets_only_whole(base: dict[str, Any]) -> None:
    base["variables"]["clip"] = {"type": "asset"}
    base["spec"]["assets"]["video"]["source"] = "https://cdn.example.com/{{firstName}}.mp4"
    base["spec"]["timeline"][1]["data"]["text"] = "see {{clip}}"
    errors = errors_of(base)
    assert "filled whole" in errors["spec.assets.video.source"]
    assert "asset variable 'clip' must be a whole value" in errors["spec.timeline[1].data.text"]


@pytest.mark.parametrize(
    ("declaration", "path", "words"),
    [
        ({"type": "number", "default": "loud"}, "variables.x.default", "must be a number"),
        ({"type": "string", "required": True, "default": "a"}, "variables.x.default", "required"),
        ({"type": "string", "required": False}, "variables.x.default", "needs a default"),
        ({"type": "number", "minLength": 2, "default": 1}, "variables.x.minLength", "string"),
        ({"type": "integer", "minimum": 5, "maximum": 1}, "variables.x.minimum", "more than maximum"),
        ({"type": "string", "enum": ["a", 3]}, "variables.x.enum[1]", "must be a string"),
        ({"type": "integer", "default": 1.5}, "variables.x.default", "integer"),
        ({"type": "text"}, "variables.x.type", "string"),
        ({"type": "string", "colour": "red"}, "variables.x.colour", "not a known field"),
    ],
)
def test_inconsistent_variables_name_the_field(declaration: dict[str, Any], path: str, words: str) -> None:
    errors = errors_of(document(x=declaration))
    assert path in errors, errors
    assert words in errors[path]


def test_a_bad_variable_name_is_refused() -> None:
    errors = errors_of(document(**{"1st": {"type": "string", "default": "a"}}))
    assert "letters, digits" in errors["variables.1st"]


def test_the_spec_is_checked_with_defaults_and_samples(base: dict[str, Any]) -> None:
    base["variables"]["voice"] = {"type": "string"}
    base["spec"]["timeline"][0]["data"]["provider"] = "aws-polly"
    base["spec"]["timeline"][0]["data"]["providerConfig"]["voiceId"] = "{{voice}}"
    message = errors_of(base)["spec.timeline[0].data.providerConfig.voiceId"]
    assert "{{voice}} = 'sample'" in message and "give the variable a default or an enum" in message
    base["variables"]["voice"] = {"type": "string", "enum": ["Joanna", "Matthew"]}
    assert parse_template(base).variables["voice"].enum == ["Joanna", "Matthew"]


def test_a_typed_default_that_breaks_the_spec_is_reported_at_the_spec_path() -> None:
    raw = document(musicVolume={"type": "number", "default": 2})
    message = errors_of(raw)["spec.backgroundMusic.volume"]
    assert "must be at most 1" in message and "{{musicVolume}} = 2" in message


def test_errors_of_the_spec_itself_keep_their_path() -> None:
    spec = copy.deepcopy(BASE_SPEC)
    spec["timeline"][1]["start"] = -1
    errors = errors_of(document(spec))
    assert list(errors) == ["spec.timeline[1].start"]


def test_not_json_and_not_an_object() -> None:
    assert "not valid JSON" in errors_of(b"{")["$"]
    assert "JSON object" in errors_of("[1]")["$"]
    assert errors_of({"variables": {}})["name"] == "is required"


def test_a_stored_template_reads_back_the_same(base: dict[str, Any]) -> None:
    template = parse_template(base)
    stored = json.dumps(template.model_dump(by_alias=True, exclude_none=True))
    again = parse_template(stored)
    assert again == template and again.placeholder_sites() == template.placeholder_sites()
    assert again.placeholder_sites()["timeline[0].data.text"] == ("firstName", "company")


def test_a_deeply_nested_document_is_refused_not_a_crash(base: dict[str, Any]) -> None:
    for depth in (40, 900, 100_000):  # the last is too deep for the JSON decoder itself
        nested = "[" * depth + "]" * depth
        text = json.dumps(base).replace('"timeline": [', f'"jobInfo": {{"tags": {nested}}}, "timeline": [', 1)
        assert "nested more than 32 levels" in errors_of(text)["$"]
