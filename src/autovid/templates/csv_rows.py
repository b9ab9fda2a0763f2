"""Rows of a batch from CSV: the header row names the variables, each cell takes its type."""

from __future__ import annotations

import csv
import io
from typing import Any

from autovid.errors import ErrorDetail, SpecError
from autovid.templates.model import Template
from autovid.templates.values import from_cell


def rows_from_csv(template: Template, text: str, *, max_rows: int | None = None) -> list[dict[str, Any]]:
    """CSV text -> one dict per data row. An empty cell leaves the variable out (its default
    applies); a cell that does not convert to the variable's type stays text, and the row's check
    reports it. A header that is not a variable, or a row with more cells than the header, is a
    ``SpecError`` (paths ``csv.header[i]`` and ``csv.rows[i]``)."""
    try:
        records = [record for record in csv.reader(io.StringIO(text.removeprefix("\ufeff"))) if record]
    except csv.Error as exc:
        raise SpecError([ErrorDetail("csv", f"not readable as CSV: {exc}")]) from None
    if not records:
        raise SpecError([ErrorDetail("csv.header", "the CSV is empty; its first row names the variables")])
    header = [name.strip() for name in records[0]]
    _check_header(template, header)
    body = [record for record in records[1:] if any(cell.strip() for cell in record)]
    if max_rows is not None and len(body) > max_rows:
        raise SpecError([ErrorDetail("csv.rows", f"has {len(body)} rows; at most {max_rows} allowed")])
    rows: list[dict[str, Any]] = []
    problems: list[ErrorDetail] = []
    for index, record in enumerate(body):
        if len(record) > len(header):
            message = f"has {len(record)} cells; the header has {len(header)} columns"
            problems.append(ErrorDetail(f"csv.rows[{index}]", message))
            continue
        row = {}
        for name, cell in zip(header, record, strict=False):
            if cell.strip():
                row[name] = from_cell(template.variables[name], cell.strip())
        rows.append(row)
    if problems:
        raise SpecError(problems)
    return rows


def _check_header(template: Template, header: list[str]) -> None:
    declared = ", ".join(template.variables) or "none"
    problems: list[ErrorDetail] = []
    seen: set[str] = set()
    for index, name in enumerate(header):
        path = f"csv.header[{index}]"
        if not name:
            problems.append(ErrorDetail(path, "a column has no name; the header row names the variables"))
        elif name not in template.variables:
            message = f"'{name}' is not a variable of template '{template.name}'; its variables: {declared}"
            problems.append(ErrorDetail(path, message))
        elif name in seen:
            problems.append(ErrorDetail(path, f"column '{name}' appears twice"))
        seen.add(name)
    if problems:
        raise SpecError(problems)
