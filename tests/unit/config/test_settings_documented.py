"""Every setting is documented in docs/SETTINGS.md, and the table names nothing that is gone."""

from __future__ import annotations

import re
from pathlib import Path

from autovid.config import Settings, _variable_names

SETTINGS_DOC = Path(__file__).resolve().parents[3] / "docs" / "SETTINGS.md"


def documented_variables() -> set[str]:
    names: set[str] = set()
    for line in SETTINGS_DOC.read_text().splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell))
    return names


def model_variables() -> set[str]:
    return {
        name for field in Settings.model_fields.values() for name in _variable_names(field.validation_alias)
    }


def test_every_setting_has_a_row_in_the_settings_table() -> None:
    missing = model_variables() - documented_variables()
    assert not missing, f"add rows for {sorted(missing)} to docs/SETTINGS.md"


def test_the_settings_table_names_only_real_settings() -> None:
    stale = documented_variables() - model_variables()
    assert not stale, f"docs/SETTINGS.md documents settings that do not exist: {sorted(stale)}"
