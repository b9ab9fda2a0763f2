"""``autovid templates create|list|show|delete`` and ``autovid batch-submit``: templates and
batches on the server at ``AUTOVID_URL`` (key ``AUTOVID_API_KEY``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from autovid.entrypoints.cli import app
from autovid.entrypoints.cli.render import progress_bar
from autovid.entrypoints.cli.service import _client, _fail, console

templates_app = typer.Typer(
    help="Store, list, show and delete templates on the server.", no_args_is_help=True
)
app.add_typer(templates_app, name="templates")


@templates_app.command("create")
def create(path: Path = typer.Argument(..., help="template document (JSON)")) -> None:
    """Store a template; prints its templateId."""
    from autovid.client import ApiError

    document = _read_json(path)
    with _client() as client:
        try:
            doc = client.create_template(document)
        except ApiError as exc:
            raise _fail(exc) from None
    console.print(f"stored template '{doc['name']}' version {doc['version']}")
    typer.echo(doc["templateId"])


@templates_app.command("list")
def list_templates() -> None:
    """Your templates: id, name, latest version, last change."""
    from autovid.client import ApiError

    table = Table("templateId", "name", "version", "updated")
    with _client() as client:
        try:
            cursor = None
            while True:
                page = client.list_templates(limit=100, cursor=cursor)
                for t in page["templates"]:
                    table.add_row(t["templateId"], t["name"] or "", str(t["version"]), t["updatedAt"])
                cursor = page["nextCursor"]
                if not cursor:
                    break
        except ApiError as exc:
            raise _fail(exc) from None
    console.print(table)


@templates_app.command("show")
def show(
    template_id: str = typer.Argument(..., help="the templateId create printed"),
    version: int | None = typer.Option(None, "--version", help="an earlier version"),
) -> None:
    """Print the template document (JSON)."""
    from autovid.client import ApiError

    with _client() as client:
        try:
            doc = client.template(template_id, version=version)
        except ApiError as exc:
            raise _fail(exc) from None
    console.print(f"template {doc['templateId']} version {doc['version']}, updated {doc['updatedAt']}")
    typer.echo(json.dumps(doc["template"], indent=2, ensure_ascii=False))


@templates_app.command("delete")
def delete(template_id: str = typer.Argument(..., help="the templateId create printed")) -> None:
    """Delete a template (batches already submitted keep rendering)."""
    from autovid.client import ApiError

    with _client() as client:
        try:
            client.delete_template(template_id)
        except ApiError as exc:
            raise _fail(exc) from None
    console.print(f"deleted template {template_id}")


@app.command("batch-submit")
def batch_submit(
    template_id: str = typer.Argument(..., help="a stored template's id (autovid templates create)"),
    rows_path: Path = typer.Argument(..., help="CSV: the header row names the variables, one row per video"),
    wait: bool = typer.Option(False, "--wait", help="show the batch's progress until every row has ended"),
    output: Path | None = typer.Option(None, "-o", "--output", help="with --wait: download every video here"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check every row on the server; render nothing"),
    idempotency_key: str | None = typer.Option(None, "--idempotency-key", help="repeat-safe submit"),
    poll_s: float = typer.Option(2.0, "--poll", help="seconds between checks (each counts on the plan)"),
) -> None:
    """Render a stored template for every row of a CSV on the server; prints the batchId."""
    from autovid.client import ApiError

    try:
        text = rows_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        console.print(f"[red]cannot read {rows_path}: {exc}[/red]")
        raise typer.Exit(2) from None
    with _client() as client:
        try:
            doc = client.submit_batch_csv(template_id, text, dry_run=dry_run, idempotency_key=idempotency_key)
            if dry_run:
                _report_dry_run(doc)
                return
            console.print(f"submitted batch {doc['batchId']}: {doc['counts']['total']} rows")
            if not wait:
                typer.echo(doc["batchId"])
                return
            doc = _wait_with_progress(client, doc["batchId"], poll_s)
            rows = client.batch_rows(doc["batchId"])
            if output is not None:
                _download(client, rows, output)
        except ApiError as exc:
            raise _fail(exc) from None
    typer.echo(doc["batchId"])
    _report_end(doc, rows)


def _wait_with_progress(client: Any, batch_id: str, poll_s: float) -> dict[str, Any]:
    bar = progress_bar(console)
    with bar:
        task = bar.add_task("submitted", total=100)

        def show(doc: dict[str, Any]) -> None:
            bar.update(task, description=doc["status"], completed=doc["progress"]["percent"])

        result: dict[str, Any] = client.wait_batch(batch_id, poll_s=poll_s, on_status=show)
    return result


def _download(client: Any, rows: list[dict[str, Any]], folder: Path) -> None:
    for row in rows:
        url = (row.get("output") or {}).get("url")
        if url:
            client.download(url, folder / url.split("?")[0].rsplit("/", 1)[-1])
    console.print(
        f"downloaded {sum(1 for r in rows if (r.get('output') or {}).get('url'))} videos to {folder}"
    )


def _report_end(doc: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    counts = doc["counts"]
    console.print(
        f"batch {doc['status']}: {counts['completed']} completed, {counts['failed']} failed, "
        f"{counts['cancelled']} cancelled of {counts['total']}",
        highlight=False,
    )
    bad = [r for r in rows if r["status"] in ("failed", "cancelled")]
    for row in bad:
        console.print(f"  row {row['row']}: {row['status']}: {row['error']}", highlight=False)
    if bad:
        raise typer.Exit(1)


def _report_dry_run(doc: dict[str, Any]) -> None:
    console.print(f"{doc['valid']} of {doc['total']} rows are valid", highlight=False)
    _print_row_problems(doc)
    if doc["invalid"]:
        raise typer.Exit(1)


def _print_row_problems(doc: dict[str, Any]) -> None:
    for problem in doc["rows"]:
        for error in problem["errors"]:
            console.print(f"  row {problem['row']}: {error['path']}: {error['message']}", highlight=False)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        console.print(f"[red]cannot read {path}: {exc}[/red]")
        raise typer.Exit(2) from None
    if not isinstance(document, dict):
        console.print(f"[red]{path}: a template must be a JSON object[/red]")
        raise typer.Exit(2)
    return document
