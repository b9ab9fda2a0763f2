"""`autovid batch` before any render: `--dry-run` checks every row and lists the bad ones; rows whose
shared asset is refused fail at once."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from typer.testing import CliRunner

from autovid.entrypoints.cli import app

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = REPO_ROOT / "examples"

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["batch", *args], env={"COLUMNS": "200"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_the_example_rows_are_all_valid(tmp_path: Path) -> None:
    code, output = invoke(
        str(EXAMPLES / "greeting.template.json"),
        str(EXAMPLES / "greeting.rows.csv"),
        "-o",
        str(tmp_path / "o"),
        "--dry-run",
    )
    assert code == 0, output
    assert "20 of 20 rows valid" in output
    assert not (tmp_path / "o").exists()


def test_bad_rows_are_listed_with_variable_and_reason(tmp_path: Path) -> None:
    template = tmp_path / "greeting.template.json"
    shutil.copy(EXAMPLES / "greeting.template.json", template)
    rows = tmp_path / "rows.csv"
    rows.write_text(
        "firstName,company,musicVolume\n"
        "Ada,,\n"
        ",Initech,\n"  # row 1: firstName missing
        "Bob,,loud\n"  # row 2: not a number
        "Cy,,\n"
        "Ada,,0.1\n"  # row 4: same file as row 0
        "Dee/Dum,,\n"  # row 5: not a file name
    )
    code, output = invoke(str(template), str(rows), "--dry-run")
    assert code == 1
    assert "2 of 6 rows valid" in output
    lines = [line for line in output.splitlines() if re.match(r"^│ \d+ ", line)]
    listed = {(cells[0], cells[1], cells[2]) for cells in (_cells(line) for line in lines)}
    assert listed == {
        ("1", "firstName", "variables.firstName"),
        ("2", "musicVolume", "variables.musicVolume"),
        ("4", "firstName", "spec.output.filename"),
        ("5", "firstName", "spec.output.filename"),
    }
    assert "is required" in output and "must be a number; got text 'loud'" in output
    assert "also row 0's output" in output and "without '/'" in output


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip("│").split("│")]


def test_an_unknown_column_and_a_bad_template_stop_before_any_row(tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("firstName,lastName\nAda,Lovelace\n")
    code, output = invoke(str(EXAMPLES / "greeting.template.json"), str(rows), "--dry-run")
    assert code == 1 and "csv.header[1]" in output and "'lastName' is not a variable" in output
    document = json.loads((EXAMPLES / "greeting.template.json").read_text())
    document["spec"]["output"]["filename"] = "{{lastName}}.mp4"
    template = tmp_path / "t.json"
    template.write_text(json.dumps(document))
    code, output = invoke(str(template), str(rows), "--dry-run")
    assert code == 1 and "spec.output.filename" in output and "{{lastName}}" in output


def test_json_rows_and_a_missing_file(tmp_path: Path) -> None:
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([{"firstName": "Ada"}, {"firstName": 7}]))
    code, output = invoke(str(EXAMPLES / "greeting.template.json"), str(rows), "--dry-run")
    assert code == 1 and "1 of 2 rows valid" in output and "must be a string; got number 7" in output
    code, output = invoke(str(EXAMPLES / "greeting.template.json"), str(tmp_path / "nope.csv"), "--dry-run")
    assert code == 2 and "cannot read" in output


def test_a_shared_asset_refused_for_good_fails_its_rows_without_rendering(tmp_path: Path) -> None:
    document = json.loads((EXAMPLES / "greeting.template.json").read_text())
    document["spec"]["assets"]["audio"][0]["source"] = "https://127.0.0.1:9/music.mp3"
    template = tmp_path / "t.json"
    template.write_text(json.dumps(document))
    rows = tmp_path / "rows.csv"
    rows.write_text("firstName\nAda\nBob\n")
    code, output = invoke(str(template), str(rows), "-o", str(tmp_path / "out"))
    assert code == 1
    assert output.count("asset 'music_a': https://127.0.0.1:9/music.mp3: 127.0.0.1 is a loopback") == 2
    assert "rendering" not in output  # no render process was started
    assert list((tmp_path / "out").iterdir()) == []


def test_rich_markup_in_the_data_is_printed_literally(tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text('firstName,company\n[/bold] [red]x/y,\n"[link=https:x]z",[/]\n')
    code, output = invoke(str(EXAMPLES / "greeting.template.json"), str(rows), "--dry-run")
    assert code == 1 and "1 of 2 rows valid" in output
    assert "'[/bold] [red]x/y'" in output
