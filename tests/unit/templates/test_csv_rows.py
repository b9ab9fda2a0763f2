"""CSV rows: the header names variables, cells take their declared type, empty cells are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from autovid.errors import SpecError
from autovid.templates import Template, expand_rows, parse_template, rows_from_csv
from tests.unit.templates.conftest import document

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def template() -> Template:
    return parse_template(
        document(
            seats={"type": "integer", "default": 1},
            vip={"type": "boolean", "default": False},
        )
    )


def csv_errors(template: Template, text: str) -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        rows_from_csv(template, text)
    return {e.path: e.message for e in caught.value.errors}


def test_the_example_csv_has_twenty_valid_rows_with_distinct_files() -> None:
    examples = REPO_ROOT / "examples"
    template = parse_template((examples / "greeting.template.json").read_bytes())
    rows = rows_from_csv(template, (examples / "greeting.rows.csv").read_text())
    assert len(rows) == 20
    assert rows[1] == {"firstName": "Grace", "company": "Compilers & Co", "musicVolume": 0.25}
    assert rows[4] == {"firstName": "Linus"}  # empty cells: absent, the defaults apply
    assert rows[7]["company"] == "Liskov, Substitution Ltd"
    assert rows[10]["company"] == 'Stanford "TAOCP" Press'
    outcomes = expand_rows(template, rows)
    assert all(o.ok for o in outcomes), [o.errors for o in outcomes if not o.ok]


def test_cells_convert_by_declared_type(template: Template) -> None:
    text = "firstName,musicVolume,seats,vip\r\n Ann ,0.5,3,yes\r\nBob,1e-1,4.0,No\r\n\r\nCy,,,\r\n"
    rows = rows_from_csv(template, "\ufeff" + text)
    assert rows == [
        {"firstName": "Ann", "musicVolume": 0.5, "seats": 3, "vip": True},
        {"firstName": "Bob", "musicVolume": 0.1, "seats": 4.0, "vip": False},
        {"firstName": "Cy"},
    ]
    outcomes = expand_rows(template, rows)
    assert all(o.ok for o in outcomes)


def test_cells_that_do_not_convert_become_row_errors(template: Template) -> None:
    text = "firstName,musicVolume,seats,vip\nAnn,loud,2.5,maybe\nBob,NaN,1,1\n"
    outcomes = expand_rows(template, rows_from_csv(template, text))
    first = {e.path: e.message for e in outcomes[0].errors}
    assert first == {
        "variables.musicVolume": "must be a number; got text 'loud'",
        "variables.seats": "must be an integer; got 2.5",
        "variables.vip": "must be true or false; got text 'maybe'",
    }
    assert [e.message for e in outcomes[1].errors] == ["must be a finite number; got nan"]


def test_header_problems_name_the_column(template: Template) -> None:
    errors = csv_errors(template, "firstName,email,,firstName\nAnn,a@b.c,,Ann\n")
    assert "'email' is not a variable of template 'welcome'" in errors["csv.header[1]"]
    assert "no name" in errors["csv.header[2]"]
    assert "twice" in errors["csv.header[3]"]


def test_a_row_with_more_cells_than_the_header_is_refused(template: Template) -> None:
    errors = csv_errors(template, "firstName,company\nAnn,Initech\nBob,Initech,extra\n")
    assert errors == {"csv.rows[1]": "has 3 cells; the header has 2 columns"}


def test_short_rows_leave_the_rest_absent_and_an_empty_csv_is_refused(template: Template) -> None:
    assert rows_from_csv(template, "firstName,company\nAnn\n") == [{"firstName": "Ann"}]
    assert "empty" in csv_errors(template, "\n\n")["csv.header"]


def test_max_rows(template: Template) -> None:
    text = "firstName\n" + "".join(f"n{i}\n" for i in range(5))
    assert len(rows_from_csv(template, text, max_rows=5)) == 5
    with pytest.raises(SpecError, match="at most 4"):
        rows_from_csv(template, text, max_rows=4)
