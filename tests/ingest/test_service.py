from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cpxm.identity.models import SourceRecord
from cpxm.ingest.mapping import ImportMapping, parse_mapping
from cpxm.ingest.models import ImportLedgerEntry, ImportRun, QuarantinedRow
from cpxm.ingest.raw import ReadError
from cpxm.ingest.service import import_file
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import Stakeholder, TherapeuticInterest
from cpxm.workspace.models import Channel, Country, Department, LifecyclePhase, TherapeuticArea

HCP_MAPPING: dict[str, Any] = {
    "source_system": "crm",
    "target": "stakeholders",
    "source_id": "ACCOUNT_ID",
    "fields": {
        "type": {"value": "hcp"},
        "first_name": "FIRST",
        "last_name": "LAST",
        "professional_id": {
            "column": "NPI",
            "pattern": r"\d{10}",
            "pattern_description": "10 digits",
        },
        "email": "EMAIL",
        "country": {"column": "COUNTRY", "values": {"Germany": "DE", "USA": "US"}},
        "therapeutic_interests": {"column": "TA", "separator": "|"},
    },
}
CALL_MAPPING: dict[str, Any] = {
    "source_system": "crm",
    "target": "interactions",
    "source_id": "CALL_ID",
    "fields": {
        "stakeholder": "ACCOUNT_ID",
        "occurred_at": {"column": "WHEN", "date_format": "%d/%m/%Y %H:%M"},
        "channel": {"column": "CHANNEL", "values": {"F2F": "face_to_face", "Tel": "phone"}},
        "department": {"value": "sales"},
        "interaction_type": {"value": "call"},
        "notes": "NOTES",
    },
}


def _seed_taxonomy(engine: Engine) -> None:
    with Session(engine) as session:
        session.add_all(
            [
                Country(code="DE", name="Germany", default_language="de"),
                Country(code="US", name="United States", default_language="en"),
                Channel(code="face_to_face", name="Face to face", kind="personal"),
                Channel(code="phone", name="Phone", kind="remote"),
                Department(code="sales", name="Sales"),
                TherapeuticArea(code="oncology", name="Oncology"),
                TherapeuticArea(code="immunology", name="Immunology"),
                LifecyclePhase(code="commercial", name="Commercial", position=3),
            ]
        )
        session.commit()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _mapping(document: dict[str, Any]) -> ImportMapping:
    return parse_mapping(document, default_name="test")


def _count(engine: Engine, model: type[Any]) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


HCPS = (
    "ACCOUNT_ID,FIRST,LAST,NPI,EMAIL,COUNTRY,TA\n"
    "A1,Anna,Schmidt,1234567890,Anna.Schmidt@Example.org,Germany,oncology|immunology\n"
    "A2,Bob,Jones,12AB,bob@example.com,USA,oncology\n"
    "A3,Chloé,Martin,0987654321,,Narnia,\n"
)


def test_every_row_is_stored_or_quarantined_with_an_actionable_reason(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed_taxonomy(store_engine)
    report = import_file(
        store_engine, path=_write(tmp_path / "hcps.csv", HCPS), mapping=_mapping(HCP_MAPPING)
    )
    assert (report.read, report.created, report.quarantined) == (3, 1, 2)
    with Session(store_engine) as session:
        reasons = sorted(session.scalars(select(QuarantinedRow.reason)))
        record = session.scalars(select(SourceRecord)).one()
        stakeholder = session.get_one(Stakeholder, record.stakeholder_id)
        interests = set(session.scalars(select(TherapeuticInterest.therapeutic_area_code)))
        run = session.scalars(select(ImportRun)).one()
    assert reasons[0] == "row 3: column 'NPI' is '12AB', expected 10 digits"
    assert reasons[1].startswith("row 4: column 'COUNTRY' is 'Narnia', which is not a known")
    assert "known: DE, US" in reasons[1]
    assert record.attributes["email"] == "anna.schmidt@example.org"
    assert (stakeholder.display_name, stakeholder.type, stakeholder.country_code) == (
        "Anna Schmidt",
        "hcp",
        "DE",
    )
    assert interests == {"oncology", "immunology"}
    assert (run.status, run.rows_read, run.rows_quarantined) == ("completed", 3, 2)


def test_reimport_is_idempotent_and_a_changed_row_updates(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed_taxonomy(store_engine)
    path = _write(tmp_path / "hcps.csv", HCPS)
    import_file(store_engine, path=path, mapping=_mapping(HCP_MAPPING))
    again = import_file(store_engine, path=path, mapping=_mapping(HCP_MAPPING))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert _count(store_engine, SourceRecord) == 1
    assert _count(store_engine, Stakeholder) == 1
    changed = _write(tmp_path / "hcps.csv", HCPS.replace("Anna,Schmidt", "Anna,Schmidt-Weber"))
    third = import_file(store_engine, path=changed, mapping=_mapping(HCP_MAPPING))
    assert (third.created, third.updated, third.unchanged) == (0, 1, 0)
    with Session(store_engine) as session:
        assert session.scalars(select(Stakeholder.last_name)).one() == "Schmidt-Weber"
    assert _count(store_engine, SourceRecord) == 1


def test_interactions_follow_their_stakeholder_and_unknown_references_are_quarantined(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed_taxonomy(store_engine)
    import_file(
        store_engine, path=_write(tmp_path / "hcps.csv", HCPS), mapping=_mapping(HCP_MAPPING)
    )
    calls = _write(
        tmp_path / "calls.csv",
        "CALL_ID;ACCOUNT_ID;WHEN;CHANNEL;NOTES\n"
        'C1;A1;03/02/2025 14:30;F2F;"Discussed dosing.\nFollow-up requested."\n'
        "C2;A9;03/02/2025 15:00;Tel;\n"
        "C3;A1;2025-02-04T09:00:00+01:00;tel;\n"
        "C4;A1;31/02/2025 10:00;F2F;\n",
    )
    report = import_file(store_engine, path=calls, mapping=_mapping(CALL_MAPPING))
    assert (report.created, report.quarantined) == (2, 2)
    with Session(store_engine) as session:
        interactions = session.scalars(select(Interaction).order_by(Interaction.occurred_at)).all()
        anna = session.scalars(select(SourceRecord)).one()
        reasons = sorted(
            session.scalars(
                select(QuarantinedRow.reason).where(QuarantinedRow.import_run_id == report.run_id)
            )
        )
    assert [i.channel_code for i in interactions] == ["face_to_face", "phone"]
    assert interactions[1].occurred_at.hour == 8  # +01:00 stored as UTC
    assert {i.stakeholder_id for i in interactions} == {anna.stakeholder_id}
    assert interactions[0].notes == "Discussed dosing.\nFollow-up requested."
    assert reasons[0].startswith("row 3: column 'ACCOUNT_ID' is 'A9', but no stakeholder")
    assert (
        reasons[1]
        == "row 5: column 'WHEN' is '31/02/2025 10:00', expected a date like 31/12/2024 14:30"
    )


def test_dry_run_reports_but_writes_nothing(store_engine: Engine, tmp_path: Path) -> None:
    _seed_taxonomy(store_engine)
    report = import_file(
        store_engine,
        path=_write(tmp_path / "hcps.csv", HCPS),
        mapping=_mapping(HCP_MAPPING),
        dry_run=True,
    )
    assert (report.read, report.created, report.quarantined) == (3, 1, 2)
    for model in (SourceRecord, Stakeholder, QuarantinedRow, ImportRun, ImportLedgerEntry):
        assert _count(store_engine, model) == 0


def test_duplicate_source_ids_in_one_file_update_rather_than_duplicate(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed_taxonomy(store_engine)
    path = _write(
        tmp_path / "dupes.csv",
        "ACCOUNT_ID,FIRST,LAST,NPI,EMAIL,COUNTRY,TA\nA1,Anna,Schmidt,,,,\nA1,Anna,Schmitt,,,,\n",
    )
    report = import_file(store_engine, path=path, mapping=_mapping(HCP_MAPPING), batch_size=1)
    assert (report.created, report.updated) == (1, 1)
    assert _count(store_engine, SourceRecord) == 1


def test_file_without_a_mapped_column_fails_before_any_row(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed_taxonomy(store_engine)
    path = _write(tmp_path / "narrow.csv", "ACCOUNT_ID,FIRST\nA1,Anna\n")
    with pytest.raises(ReadError, match=r"narrow\.csv has no column 'COUNTRY', 'EMAIL', 'LAST'"):
        import_file(store_engine, path=path, mapping=_mapping(HCP_MAPPING))
    assert _count(store_engine, SourceRecord) == 0


def test_a_key_a_jsonl_record_leaves_out_is_empty_and_one_no_record_names_fails(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed_taxonomy(store_engine)
    path = _write(
        tmp_path / "hcps.jsonl",
        '{"ACCOUNT_ID": "A1", "FIRST": "Anna", "LAST": "S", "NPI": null, "EMAIL": null,'
        ' "COUNTRY": "DE", "TA": null}\n{"ACCOUNT_ID": "A2", "FIRST": "Ben"}\n'
        '{"ACCOUNT_ID": "A3", "FIRST": "Cem", "NPI": "12AB"}\n',
    )
    report = import_file(store_engine, path=path, mapping=_mapping(HCP_MAPPING))
    assert (report.created, report.quarantined) == (2, 1)
    with Session(store_engine) as session:
        reason = session.scalars(select(QuarantinedRow.reason)).one()
        ben = session.scalars(select(SourceRecord).where(SourceRecord.source_id == "A2")).one()
    assert reason == "row 3: column 'NPI' is '12AB', expected 10 digits"
    assert ben.attributes == {"type": "hcp", "first_name": "Ben"}
    # A misspelt key would leave its field empty in every row: it fails before the first row.
    typo = _write(
        tmp_path / "typo.jsonl", '{"ACCOUNT_ID": "A1", "FIRST": "Anna", "SURNAME": "S"}\n'
    )
    with pytest.raises(ReadError, match=r"typo\.jsonl has no column 'COUNTRY', 'EMAIL', 'LAST'"):
        import_file(store_engine, path=typo, mapping=_mapping(HCP_MAPPING))


def test_reimport_keeps_one_open_quarantine_row_per_source_id(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed_taxonomy(store_engine)
    path = _write(tmp_path / "hcps.csv", HCPS)
    import_file(store_engine, path=path, mapping=_mapping(HCP_MAPPING))
    import_file(store_engine, path=path, mapping=_mapping(HCP_MAPPING))

    def statuses() -> dict[str, list[str]]:
        with Session(store_engine) as session:
            found: dict[str, list[str]] = {}
            for key, status in session.execute(
                select(QuarantinedRow.source_key, QuarantinedRow.status).order_by(QuarantinedRow.id)
            ):
                found.setdefault(str(key), []).append(status)
            return found

    assert statuses() == {"A2": ["superseded", "open"], "A3": ["superseded", "open"]}
    fixed = HCPS.replace("12AB", "1234567899")
    import_file(store_engine, path=_write(path, fixed), mapping=_mapping(HCP_MAPPING))
    assert statuses() == {
        "A2": ["superseded", "resolved"],
        "A3": ["superseded", "superseded", "open"],
    }


TWO_HCPS = (
    "ACCOUNT_ID,FIRST,LAST,NPI,EMAIL,COUNTRY,TA\n"
    "A1,Anna,Schmidt,1234567890,anna@example.org,Germany,\n"
    "A2,Anna,Schmidt,1234567890,anna.s@example.org,Germany,\n"
)


def test_rows_after_a_mid_import_merge_land_on_the_survivor(
    store_engine: Engine, tmp_path: Path
) -> None:
    """Batches reuse what earlier batches resolved, until a merge says it may be stale."""
    from cpxm.identity.merges import merge_stakeholders
    from cpxm.ingest.raw import RawRecord
    from cpxm.ingest.service import apply_batch, batch_carry, load_lookups, new_run

    _seed_taxonomy(store_engine)
    import_file(
        store_engine, path=_write(tmp_path / "hcps.csv", TWO_HCPS), mapping=_mapping(HCP_MAPPING)
    )
    mapping = _mapping(CALL_MAPPING)

    def call(call_id: str, account: str) -> RawRecord:
        values = {"CALL_ID": call_id, "ACCOUNT_ID": account, "WHEN": "03/02/2025 14:30"}
        return RawRecord(2, {**values, "CHANNEL": "F2F", "NOTES": None})

    with Session(store_engine) as session:
        owner = {
            source_id: int(stakeholder_id or 0)
            for source_id, stakeholder_id in session.execute(
                select(SourceRecord.source_id, SourceRecord.stakeholder_id)
            )
        }
        lookups = load_lookups(session)
        carry = batch_carry(session, mapping, lookups)
        run = new_run(mapping, file_name="calls.csv")
        session.add(run)
        session.flush()
        apply_batch(
            session, mapping=mapping, converted=carry.converter.records([call("C1", "A1")]),
            run_id=run.id, carry=carry,
        )  # fmt: skip
        merge_stakeholders(session, mapping={owner["A1"]: owner["A2"]}, reason="manual")
        apply_batch(
            session, mapping=mapping, converted=carry.converter.records([call("C2", "A1")]),
            run_id=run.id, carry=carry,
        )  # fmt: skip
        session.commit()
        by_call = {
            call_id: stakeholder_id
            for call_id, stakeholder_id in session.execute(
                select(ImportLedgerEntry.source_id, Interaction.stakeholder_id)
                .join(Interaction, Interaction.id == ImportLedgerEntry.entity_id)
                .where(ImportLedgerEntry.target == "interactions")
            )
        }
    # The merge moved C1 with everything else A1's record had; C2 was resolved after it.
    assert by_call == {"C1": owner["A2"], "C2": owner["A2"]}


DATE_CASES = [
    ("%d/%m/%Y %H:%M", "03/02/2025 14:30"),
    ("%d/%m/%Y %H:%M", "3/2/2025  4:05"),
    ("%d/%m/%Y %H:%M", "3/2/2025\t4:05"),
    ("%d/%m/%Y %H:%M", "03/02/2025 24:00"),  # no such hour: strptime's error
    ("%Y%m%d", "20250203"),
    ("%d.%m.%y", "03.02.69"),
    ("%d.%m.%y", "03.02.68"),
    ("%Y-%m-%d %H:%M:%S.%f", "2025-02-03 14:30:01.5"),
    ("%m/%d/%Y", "02/30/2025"),  # no such day: strptime's error
    ("%m/%d/%Y", "02/29/2024"),
    ("%Y年%m月%d日", "2025年02月03日"),
    ("%d%%%m%%%Y", "03%02%2025"),
    ("%d %b %Y", "03 Feb 2025"),  # month names: strptime itself
]


@pytest.mark.parametrize(("date_format", "text"), DATE_CASES)
def test_a_compiled_date_format_reads_a_value_and_a_column_like_strptime(
    date_format: str, text: str
) -> None:
    from datetime import datetime

    import pyarrow as pa

    from cpxm.ingest.dates import DateFormat

    compiled = DateFormat.compile(date_format)
    try:
        expected: datetime | None = datetime.strptime(text, date_format)
    except ValueError:
        expected = None
    if compiled is None:
        assert "%b" in date_format  # only formats with codes beyond numbers go to strptime
        return
    assert compiled.parse(text) == expected
    values, read = compiled.parse_column(pa.array([text, None, "nonsense"], pa.string()))
    # A column gives what a value gives, or leaves the value to the row path (not read).
    assert read.to_pylist()[1:] == [False, False]
    if read[0].as_py():
        assert values[0].as_py() == expected
    else:
        assert "\t" in text or expected is None


def test_imported_feedback_reaches_the_safety_net_at_once(
    store_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Analysis on arrival: each committed batch of feedback is screened, not left pending."""
    from cpxm.feedback.models import FeedbackItem
    from cpxm.ingest.mapping import TEMPLATES_DIRECTORY, load_mapping
    from cpxm.safety.models import SafetyCase
    from cpxm.workspace.models import Channel
    from tests.conftest import url_of

    _seed_taxonomy(store_engine)
    with Session(store_engine) as session:
        session.add(Channel(code="call_centre", name="Call centre", kind="remote"))
        session.commit()
    import_file(
        store_engine, path=_write(tmp_path / "hcps.csv", HCPS), mapping=_mapping(HCP_MAPPING)
    )
    logs = _write(
        tmp_path / "logs.csv",
        "ticket_id,caller_id,opened_at,subject,summary,language\n"
        "T1,A1,2025-02-03T10:00:00,Side effect,After the second dose I had a severe rash "
        "and was admitted to hospital,en\n"
        "T2,A1,2025-02-03T11:00:00,Delivery,The order arrived on time,en\n",
    )
    template = load_mapping(TEMPLATES_DIRECTORY / "call-centre-logs.yaml")
    document = template.model_dump(mode="json", exclude_none=True)
    document["fields"]["stakeholder"] = {"column": "caller_id", "source_system": "crm"}
    mapping = _mapping(document)
    # The worker serves the configured store; this store is not it, so nothing is screened...
    import_file(store_engine, path=logs, mapping=mapping)
    with Session(store_engine) as session:
        statuses = set(session.scalars(select(FeedbackItem.analysis_status)))
    assert statuses == {"pending"}
    # ...until it is the configured store: then each committed batch is screened at once.
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))
    changed = _write(tmp_path / "logs.csv", logs.read_text().replace("severe rash", "bad rash"))
    import_file(store_engine, path=changed, mapping=mapping)
    with Session(store_engine) as session:
        statuses_after = dict(
            session.execute(select(FeedbackItem.text, FeedbackItem.analysis_status)).all()
        )
        cases = session.scalar(select(func.count()).select_from(SafetyCase))
    rash = next(text for text in statuses_after if "bad rash" in text)
    assert statuses_after[rash] != "pending"
    assert cases and cases >= 1


def test_a_dry_run_previews_rows_as_they_would_be_stored(
    store_engine: Engine, tmp_path: Path
) -> None:
    from cpxm.ingest.apply import PreviewRow

    _seed_taxonomy(store_engine)
    preview: list[PreviewRow] = []
    report = import_file(
        store_engine,
        path=_write(tmp_path / "hcps.csv", HCPS),
        mapping=_mapping(HCP_MAPPING),
        dry_run=True,
        preview=preview,
        preview_limit=2,
    )
    assert report.read == 3 and len(preview) == 2
    anna, bob = preview
    assert (anna.row_number, anna.status, anna.reason) == (2, "created", None)
    # As stored: the country code the values map gives, the email as it will be kept.
    assert anna.values["country"] == "DE" and anna.values["first_name"] == "Anna"
    assert anna.raw["COUNTRY"] == "Germany"
    assert bob.status == "quarantined" and bob.values == {}
    assert bob.reason is not None and "'12AB'" in bob.reason and "10 digits" in bob.reason
    for model in (SourceRecord, Stakeholder, QuarantinedRow, ImportRun, ImportLedgerEntry):
        assert _count(store_engine, model) == 0


def test_a_spooled_upload_is_named_only_inside_the_spool_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from io import BytesIO

    from cpxm.ingest.uploads import SpooledFileGone, spool_token, spool_upload, spooled_file

    monkeypatch.setenv("CPXM_SPOOL_DIR", str(tmp_path / "spool"))
    (tmp_path / "secret.csv").write_text("x")
    path = spool_upload(
        stream=BytesIO(b"a,b\n1,2\n"),
        file_name="../../calls.csv",
        content_type="text/csv",
        mapping=_mapping(HCP_MAPPING),
    )
    assert path.parent.parent == tmp_path / "spool" and path.name == "calls.csv"
    assert spooled_file(spool_token(path)) == path.resolve()
    for token in ("../secret.csv", "upload-x/../../secret.csv", "/etc/passwd", "upload-a/b/c"):
        with pytest.raises(SpooledFileGone):
            spooled_file(token)
    path.unlink()
    with pytest.raises(SpooledFileGone, match="upload it again"):
        spooled_file(spool_token(path))
