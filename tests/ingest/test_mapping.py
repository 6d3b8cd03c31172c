from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cpxm.ingest.mapping import (
    MappingError,
    load_mapping,
    parse_mapping,
    resolve_mapping,
    template_names,
)

VALID: dict[str, Any] = {
    "source_system": "crm",
    "target": "interactions",
    "source_id": "CALL_ID",
    "fields": {
        "stakeholder": "ACCOUNT_ID",
        "occurred_at": {"column": "CALL_DATE", "date_format": "%d/%m/%Y %H:%M"},
        "channel": {"column": "CHANNEL", "values": {"F2F": "face_to_face"}},
        "department": {"value": "sales"},
    },
}


def test_valid_mapping_with_shorthand_columns() -> None:
    mapping = parse_mapping(VALID, default_name="crm-calls")
    assert mapping.name == "crm-calls"
    assert mapping.fields["stakeholder"].columns == ["ACCOUNT_ID"]
    assert mapping.columns_used() == {"CALL_ID", "ACCOUNT_ID", "CALL_DATE", "CHANNEL"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"target": "invoices"}, "target 'invoices' is not one of"),
        ({"source_system": "CRM System"}, "source_system"),
        ({"fields": {**VALID["fields"], "colour": "C"}}, "has no field 'colour'"),
        (
            {"fields": {"stakeholder": "A", "occurred_at": "D", "channel": "C"}},
            "needs the field(s) department",
        ),
        (
            {"fields": {**VALID["fields"], "department": {"column": "D", "value": "x"}}},
            "exactly one of 'column' or 'value'",
        ),
        (
            {"fields": {**VALID["fields"], "notes": {"column": "N", "pattern": "("}}},
            "not a valid regular expression",
        ),
        (
            {"fields": {**VALID["fields"], "notes": {"column": "N", "date_format": "%Y"}}},
            "is not a date",
        ),
        (
            {"fields": {**VALID["fields"], "occurred_at": {"column": "D", "date_format": "dd/mm"}}},
            "strptime codes",
        ),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_mapping_errors_name_the_key_and_the_fix(change: dict[str, object], message: str) -> None:
    with pytest.raises(MappingError) as error:
        parse_mapping({**VALID, **change})
    assert message in str(error.value)


def test_load_mapping_reports_file_problems(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="does not exist"):
        load_mapping(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("target: [unclosed\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"broken\.yaml is not valid YAML"):
        load_mapping(broken)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("source_system: crm\ntarget: stakeholders\nsource_id: ID\nfields: {}\n")
    with pytest.raises(MappingError, match=r"wrong.yaml: .*needs the field\(s\) type"):
        load_mapping(wrong)


def test_every_shipped_template_is_valid_and_resolvable_by_name() -> None:
    names = template_names()
    assert {"crm-accounts", "crm-calls", "medical-inquiries", "psp-enrolments"} <= set(names)
    for name in names:
        mapping = resolve_mapping(name)
        assert mapping.name == name


def test_unknown_mapping_name_lists_the_templates() -> None:
    with pytest.raises(MappingError, match="neither a mapping file nor a template; templates: "):
        resolve_mapping("sap-export")
