"""Filling a template for one row: typed values, escaping, and hostile values — each is a clear
row error or ends up as literal data, and nothing crashes."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from autovid.errors import SpecError
from autovid.spec.ssml import parse_ssml, ssml_text
from autovid.spec.validation import parse_spec
from autovid.templates import (
    RowError,
    Template,
    expand_rows,
    parse_template,
    substitute,
    validate_row,
)
from tests.unit.templates.conftest import document


@pytest.fixture
def template(base: dict[str, Any]) -> Template:
    return parse_template(base)


def row_errors(template: Template, row: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(RowError) as caught:
        validate_row(template, row, row_index=7, **kwargs)
    assert str(caught.value).startswith("row 7: ")
    return {e.path: e.as_dict() for e in caught.value.errors}


def tts_text(raw: dict[str, Any], index: int) -> str:
    return str(raw["timeline"][index]["data"]["text"])


def test_a_row_fills_texts_numbers_and_the_filename(template: Template) -> None:
    raw = substitute(template, {"firstName": "Ada", "musicVolume": 0.5})
    assert tts_text(raw, 0) == "<speak>Hi Ada, welcome to your team.</speak>"
    assert tts_text(raw, 1) == "Plain: Ada"
    assert raw["backgroundMusic"]["volume"] == 0.5  # a whole placeholder takes the typed value
    assert raw["output"]["filename"] == "hello-Ada.mp4"
    assert json.loads(json.dumps(raw)) == raw
    assert template.spec["output"]["filename"] == "hello-{{firstName}}.mp4"  # the template is untouched


def test_values_read_naturally_inside_text() -> None:
    spec = document()["spec"]
    spec["timeline"][1]["data"]["text"] = "{{count}} seats, {{price}} each, vip {{vip}}"
    template = parse_template(
        document(
            spec,
            count={"type": "integer", "default": 3},
            price={"type": "number", "default": 2.0},
            vip={"type": "boolean", "default": False},
        )
    )
    assert tts_text(substitute(template, {"firstName": "A"}), 1) == "3 seats, 2 each, vip false"
    row = {"firstName": "A", "count": 12.0, "price": 0.25, "vip": True}
    assert tts_text(substitute(template, row), 1) == "12 seats, 0.25 each, vip true"


def test_a_value_holding_a_placeholder_stays_literal(template: Template) -> None:
    raw = substitute(template, {"firstName": "{{company}}", "company": "Initech"})
    assert tts_text(raw, 1) == "Plain: {{company}}"
    assert tts_text(raw, 0) == "<speak>Hi {{company}}, welcome to Initech.</speak>"
    assert raw["output"]["filename"] == "hello-{{company}}.mp4"


def test_ssml_markup_in_a_value_is_spoken_not_parsed(template: Template) -> None:
    hostile = "</speak><speak>"
    raw, spec = validate_row(template, {"firstName": "Bob", "company": hostile})
    text = spec.timeline[0].data.text  # type: ignore[union-attr]
    assert ssml_text(text) == f"Hi Bob, welcome to {hostile}."
    assert [el.tag for el in parse_ssml(text).iter()] == ["speak"]
    assert tts_text(raw, 1) == "Plain: Bob"


def test_quotes_in_a_value_cannot_leave_an_ssml_attribute() -> None:
    spec = document()["spec"]
    spec["timeline"][0]["data"]["text"] = '<speak><prosody rate="{{rate}}">Hi</prosody> {{firstName}}</speak>'
    template = parse_template(document(spec, rate={"type": "string", "default": "medium"}))
    value = 'x" volume="loud\' & <'
    _, parsed = validate_row(template, {"firstName": 'O\'Brien "Bob"', "rate": value})
    root = parse_ssml(parsed.timeline[0].data.text)  # type: ignore[union-attr]
    assert root[0].attrib == {"rate": value}
    assert ssml_text(parsed.timeline[0].data.text) == 'Hi O\'Brien "Bob"'  # type: ignore[union-attr]


def test_a_ten_megabyte_value_is_a_row_error_fast(template: Template) -> None:
    errors = row_errors(template, {"firstName": "Ann", "company": "x" * 10_000_000})
    assert errors["variables.company"]["message"] == "is 10000000 characters; at most 100000 allowed"
    assert errors["variables.company"]["row"] == 7 and errors["variables.company"]["variable"] == "company"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_row_errors(template: Template, bad: float) -> None:
    errors = row_errors(template, {"firstName": "Ann", "musicVolume": bad})
    assert "finite number" in errors["variables.musicVolume"]["message"]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (True, "must be a number; got boolean true"),
        ("0.5", "must be a number; got text '0.5'"),
        ([0.5], "must be a number; got an array"),
        (1.5, "must be at most 1"),
    ],
)
def test_wrong_types_and_ranges_are_row_errors(template: Template, value: Any, words: str) -> None:
    errors = row_errors(template, {"firstName": "Ann", "musicVolume": value})
    assert words in errors["variables.musicVolume"]["message"]


def test_missing_unknown_and_control_characters(template: Template) -> None:
    errors = row_errors(template, {"firstname": "Ann", "company": "A\x00B"})
    assert errors["variables.firstName"]["message"] == "is required"
    assert "not a variable of template 'welcome'" in errors["variables.firstname"]["message"]
    assert "control characters" in errors["variables.company"]["message"]


def test_null_means_absent_so_the_default_applies(template: Template) -> None:
    raw = substitute(template, {"firstName": "Ann", "company": None, "musicVolume": None})
    assert "welcome to your team" in tts_text(raw, 0) and raw["backgroundMusic"]["volume"] == 0.3


def test_a_value_that_breaks_the_spec_names_row_variable_and_path(template: Template) -> None:
    errors = row_errors(template, {"firstName": "a/b"})
    detail = errors["spec.output.filename"]
    assert detail["variable"] == "firstName" and detail["row"] == 7
    assert "without '/'" in detail["message"] and "{{firstName}} = 'a/b'" in detail["message"]


def test_a_row_that_is_not_an_object(template: Template) -> None:
    with pytest.raises(RowError) as caught:
        substitute(template, ["Ann"], row_index=2)  # type: ignore[arg-type]
    assert caught.value.row == 2 and caught.value.errors[0].path == "$"


@pytest.fixture
def asset_template() -> Template:
    spec = document()["spec"]
    spec["assets"]["video"]["source"] = "{{clip}}"
    return parse_template(document(spec, clip={"type": "asset", "default": "media/clip.mp4"}))


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("http://169.254.169.254/latest/meta-data/", "not a public address"),
        ("https://10.0.0.7/a.mp4", "not a public address"),
        ("https://[::1]:8443/a.mp4", "not a public address"),
        ("http://localhost:8000/a.mp4", "'localhost'"),
        ("https://user:pw@cdn.example.com/a.mp4", "credentials"),
        ("file:///etc/passwd", "scheme 'file:'"),
        ("../../etc/passwd", "relative path"),
        ("/etc/passwd", "relative path"),
        ("s3://", "s3://bucket/key"),
    ],
)
def test_asset_values_are_checked_like_sources(asset_template: Template, source: str, words: str) -> None:
    errors = row_errors(asset_template, {"firstName": "Ann", "clip": source})
    assert words in errors["variables.clip"]["message"]


def test_public_and_allowed_private_asset_values_pass(asset_template: Template) -> None:
    public = "https://cdn.example.com/clips/ann.mp4"
    raw = substitute(asset_template, {"firstName": "Ann", "clip": public})
    assert raw["assets"]["video"]["source"] == public
    private = "http://10.0.0.7/a.mp4"
    raw = substitute(asset_template, {"firstName": "Ann", "clip": private}, allow_private=True)
    assert raw["assets"]["video"]["source"] == private


def test_expand_rows_refuses_a_second_row_with_the_same_file(template: Template) -> None:
    rows = [{"firstName": "Ann"}, {"firstName": "Bob"}, {"firstName": "ann"}, {"firstName": "x" * 41}]
    outcomes = expand_rows(template, rows)
    assert [o.ok for o in outcomes] == [True, True, False, False]
    duplicate = outcomes[2].errors[0].as_dict()
    assert duplicate["path"] == "spec.output.filename" and duplicate["variable"] == "firstName"
    assert "also row 0's output" in duplicate["message"]
    assert outcomes[3].errors[0].path == "variables.firstName"
    assert outcomes[1].spec is not None and parse_spec(outcomes[1].spec).output.filename == "hello-Bob.mp4"


def test_a_template_built_without_parsing_cannot_leak_a_placeholder() -> None:
    raw = document()
    raw["spec"]["output"]["filename"] = "{{lastName}}.mp4"
    template = Template.model_validate(raw)
    with pytest.raises(SpecError, match="lastName"):
        substitute(template, {"firstName": "Ann"})


def test_a_row_with_thousands_of_unknown_keys_gets_a_short_answer(template: Template) -> None:
    row: dict[str, Any] = {f"junk{i}" + "x" * 1000: i for i in range(5000)}
    errors = row_errors(template, {"firstName": "Ann", **row})
    assert (
        len(errors) == 11
        and errors["variables"]["message"] == "4990 more values are not variables of the template"
    )
    assert all(len(path) < 100 for path in errors)
