"""Templates: one job spec with typed ``{{variables}}``, filled and checked for every row of a batch.

Pure: no I/O beyond what the caller hands in, no adapters. ``parse_template`` checks a document;
``substitute`` / ``validate_row`` fill it for one row; ``expand_rows`` does a whole batch;
``rows_from_csv`` reads rows from CSV; ``template_json_schema`` is the published schema.
"""

from autovid.templates.csv_rows import rows_from_csv
from autovid.templates.model import (
    MAX_VALUE_CHARS,
    PLACEHOLDER,
    RowError,
    RowErrorDetail,
    RowOutcome,
    Template,
    TemplateError,
    Variable,
    VariableType,
    template_json_schema,
)
from autovid.templates.parse import parse_template
from autovid.templates.substitute import expand_rows, fill, row_values, substitute, validate_row
from autovid.templates.values import check_source, check_value

__all__ = [
    "MAX_VALUE_CHARS",
    "PLACEHOLDER",
    "RowError",
    "RowErrorDetail",
    "RowOutcome",
    "Template",
    "TemplateError",
    "Variable",
    "VariableType",
    "check_source",
    "check_value",
    "expand_rows",
    "fill",
    "parse_template",
    "row_values",
    "rows_from_csv",
    "substitute",
    "template_json_schema",
    "validate_row",
]
