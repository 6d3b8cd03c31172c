"""The kpis, affiliations and responses targets, and references by CPXM id, on both engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cpxm.feedback.models import FeedbackItem
from cpxm.ingest.mapping import ImportMapping, parse_mapping, resolve_mapping
from cpxm.ingest.models import ImportRun, QuarantinedRow
from cpxm.ingest.raw import ReadError
from cpxm.ingest.service import ImportReport, import_file
from cpxm.interactions.models import Interaction
from cpxm.outcomes.models import KpiValue
from cpxm.stakeholders.models import Affiliation, Stakeholder
from cpxm.surveys.models import Answer, Question, Response, Survey
from cpxm.workspace.models import Channel
from tests.factories import make_stakeholder, make_taxonomy

ACCOUNTS = (
    "account_id;account_type;first_name;last_name;account_name;specialty;professional_id;email;"
    "phone;address_line;postal_code;city;country;language\n"
    "ACC-1;Physician;Anna;Schmidt;;;;;;;;;DE;de\n"
    "ACC-2;Physician;Luc;Martin;;;;;;;;;FR;fr\n"
    "ORG-1;Hospital;;;Charité;;;;;;;;DE;de\n"
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _seed(engine: Engine, tmp_path: Path) -> None:
    """The test taxonomy and three CRM accounts (two HCPs, one hospital)."""
    with Session(engine) as session:
        make_taxonomy(session)
        session.commit()
    report = import_file(
        engine,
        path=_write(tmp_path / "accounts.csv", ACCOUNTS),
        mapping=resolve_mapping("crm-accounts"),
    )
    assert report.created == 3


def _import(engine: Engine, tmp_path: Path, name: str, text: str, mapping: Any) -> ImportReport:
    if not isinstance(mapping, ImportMapping):
        mapping = resolve_mapping(mapping) if isinstance(mapping, str) else parse_mapping(mapping)
    return import_file(engine, path=_write(tmp_path / name, text), mapping=mapping)


def _counts(report: ImportReport) -> tuple[int, int, int, int]:
    return (report.created, report.updated, report.unchanged, report.quarantined)


def _reasons(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(QuarantinedRow.reason)
                .where(QuarantinedRow.status == "open")
                .order_by(QuarantinedRow.row_number)
            )
        )


def _stakeholder_id(engine: Engine, name: str) -> int:
    with Session(engine) as session:
        return session.scalars(select(Stakeholder.id).where(Stakeholder.display_name == name)).one()


PRESCRIPTIONS = (
    "crm_account_id,product_code,country,month_start,month_end,trx\n"
    'ACC-1,onco_x,DE,2026-01-01,2026-01-31,"1,234.5"\n'
    "ACC-2,onco_x,FR,2026-01-01,2026-01-31,17\n"
    'ACC-2,immu_y,FR,2026-01-01,2026-01-31,"1,5"\n'
    "ACC-1,immu_y,DE,2026-02-01,2026-01-31,3\n"
    "ACC-9,onco_x,DE,2026-01-01,2026-01-31,4\n"
)


def test_kpis_from_the_prescriptions_template_are_typed_checked_and_idempotent(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed(store_engine, tmp_path)
    first = _import(store_engine, tmp_path, "rx.csv", PRESCRIPTIONS, "kpi-prescriptions")
    assert _counts(first) == (2, 0, 0, 3)
    reasons = _reasons(store_engine)
    assert reasons[0] == (
        "row 4: column 'trx' is '1,5', expected a number such as 1234.5 "
        "(set decimal_separator: ',' if the file writes 1234,5)"
    )
    assert reasons[1] == "row 5: the period ends (2026-01-31) before it starts (2026-02-01)"
    assert reasons[2].startswith("row 6: column 'crm_account_id' is 'ACC-9', but no stakeholder")
    with Session(store_engine) as session:
        values = {
            (kpi.stakeholder_id, kpi.product_code): (
                kpi.kpi,
                kpi.value,
                kpi.unit,
                kpi.source_system,
            )
            for kpi in session.scalars(select(KpiValue))
        }
    anna = _stakeholder_id(store_engine, "Anna Schmidt")
    assert values[(anna, "onco_x")] == ("prescriptions", 1234.5, "trx", "rx_vendor")

    again = _import(store_engine, tmp_path, "rx.csv", PRESCRIPTIONS, "kpi-prescriptions")
    assert _counts(again) == (0, 0, 2, 3)
    changed = PRESCRIPTIONS.replace(",17\n", ",18\n")
    third = _import(store_engine, tmp_path, "rx.csv", changed, "kpi-prescriptions")
    assert _counts(third) == (0, 1, 1, 3)
    with Session(store_engine) as session:
        assert session.scalar(select(func.count(KpiValue.id))) == 2
        assert 18.0 in set(session.scalars(select(KpiValue.value)))


def test_decimal_comma_numbers(store_engine: Engine, tmp_path: Path) -> None:
    _seed(store_engine, tmp_path)
    mapping = resolve_mapping("kpi-prescriptions").model_dump(exclude_none=True)
    mapping["fields"]["value"] = {"column": "trx", "decimal_separator": ","}
    text = "crm_account_id,product_code,country,month_start,month_end,trx\n"
    text += 'ACC-1,onco_x,DE,2026-01-01,2026-01-31,"1.234,5"\n'
    report = _import(store_engine, tmp_path, "rx.csv", text, mapping)
    assert _counts(report) == (1, 0, 0, 0)
    with Session(store_engine) as session:
        assert session.scalars(select(KpiValue.value)).one() == 1234.5


AFFILIATIONS = (
    "affiliation_id,person_account_id,organisation_account_id,role,start_date,end_date\n"
    "AF-1,ACC-1,ORG-1,PI,2024-01-01,\n"
    "AF-2,ACC-1,ORG-1,PI,2024-01-01,\n"
    "AF-3,ORG-1,ACC-2,staff,,\n"
    "AF-4,ACC-2,ORG-1,pharmacist,2025-05-01,2025-01-01\n"
)


def test_affiliations_link_a_person_to_an_organisation_once(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed(store_engine, tmp_path)
    first = _import(store_engine, tmp_path, "aff.csv", AFFILIATIONS, "affiliations")
    # AF-2 says the same link as AF-1: one record, not a unique-constraint failure.
    assert _counts(first) == (2, 0, 0, 2)
    reasons = _reasons(store_engine)
    assert reasons[0] == (
        "row 4: column 'person_account_id' is 'ORG-1', which names an organisation; "
        "expected a person"
    )
    assert reasons[1] == "row 5: the affiliation ends (2025-01-01) before it starts (2025-05-01)"
    with Session(store_engine) as session:
        affiliation = session.scalars(select(Affiliation)).one()
    assert affiliation.person_id == _stakeholder_id(store_engine, "Anna Schmidt")
    assert affiliation.organisation_id == _stakeholder_id(store_engine, "Charité")
    assert (affiliation.role, str(affiliation.started_on)) == (
        "principal_investigator",
        "2024-01-01",
    )

    again = _import(store_engine, tmp_path, "aff.csv", AFFILIATIONS, "affiliations")
    assert _counts(again) == (0, 0, 2, 2)
    ended = AFFILIATIONS.replace(
        "AF-2,ACC-1,ORG-1,PI,2024-01-01,", "AF-2,ACC-1,ORG-1,PI,2024-01-01,2026-06-30"
    )
    third = _import(store_engine, tmp_path, "aff.csv", ended, "affiliations")
    assert _counts(third) == (0, 1, 1, 2)
    with Session(store_engine) as session:
        assert str(session.scalars(select(Affiliation.ended_on)).one()) == "2026-06-30"


def _survey(engine: Engine) -> None:
    with Session(engine) as session:
        survey = Survey(code="hcp_relationship_nps", name="HCP relationship", kind="relationship")
        session.add_all([survey, Channel(code="web_portal", name="Web portal", kind="digital")])
        session.flush()
        session.add_all(
            [
                Question(
                    survey_id=survey.id,
                    code="nps",
                    position=1,
                    question_type="nps",
                    prompt="Recommend?",
                    options={"min": 0, "max": 10},
                ),
                Question(
                    survey_id=survey.id,
                    code="responsiveness",
                    position=2,
                    question_type="rating",
                    prompt="Quick?",
                    options={"min": 1, "max": 5},
                ),
                Question(
                    survey_id=survey.id,
                    code="reach",
                    position=3,
                    question_type="prem",
                    prompt="Reach a nurse?",
                    options={"choices": ["always", "never"]},
                ),
                Question(
                    survey_id=survey.id,
                    code="comment",
                    position=4,
                    question_type="text",
                    prompt="Why?",
                ),
            ]
        )
        session.commit()


RESPONSES = (
    "ResponseId,ExternalReference,StartDate,EndDate,UserLanguage,DistributionChannel,"
    "Q1_Likely to recommend,Q2,Q3,Q5\n"
    "R1,ACC-1,2026-03-01 10:00,2026-03-01 10:05,de,email,10 - Extremely likely,4,Always,Great MSL\n"
    "R2,,2026-03-02 10:00,2026-03-02 10:04,en,anonymous,3,5,never,\n"
    "R3,ACC-2,2026-03-03 10:00,2026-03-03 10:02,fr,email,11,4,always,Too many calls\n"
    "R4,ACC-2,2026-03-03 10:00,2026-03-03 10:02,fr,email,7,4,sometimes,\n"
)


def _responses_mapping(**changes: Any) -> dict[str, Any]:
    mapping = resolve_mapping("survey-tool-responses").model_dump(exclude_none=True)
    mapping["answers"]["reach"] = {"column": "Q3"}
    mapping.update(changes)
    return mapping


def test_survey_responses_are_checked_against_the_questions_and_comments_become_feedback(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed(store_engine, tmp_path)
    _survey(store_engine)
    first = _import(store_engine, tmp_path, "export.csv", RESPONSES, _responses_mapping())
    assert _counts(first) == (2, 0, 0, 2)
    reasons = _reasons(store_engine)
    assert reasons[0] == (
        "row 4: column 'Q1_Likely to recommend' is '11', but question 'nps' (nps) is answered "
        "0 to 10"
    )
    assert reasons[1] == (
        "row 5: column 'Q3' is 'sometimes', not a choice of question 'reach': always, never; "
        "map it with the answer's 'values'"
    )
    with Session(store_engine) as session:
        responses = {r.language: r for r in session.scalars(select(Response))}
        answers = {
            (a.response_id, code): a
            for a, code in session.execute(
                select(Answer, Question.code).join(Question, Question.id == Answer.question_id)
            )
        }
        feedback = session.scalars(select(FeedbackItem)).one()
    anna = responses["de"]
    assert anna.stakeholder_id == _stakeholder_id(store_engine, "Anna Schmidt")
    assert (anna.channel_code, anna.status, str(anna.submitted_at)) == (
        "email",
        "complete",
        "2026-03-01 10:05:00",
    )
    assert responses["en"].stakeholder_id is None
    assert responses["en"].channel_code == "web_portal"
    assert answers[(anna.id, "nps")].value_number == 10
    assert answers[(anna.id, "reach")].value_text == "always"  # the choice as the survey spells it
    assert (responses["en"].id, "comment") not in answers  # an empty cell is no answer
    comment = answers[(anna.id, "comment")]
    assert (feedback.source_kind, feedback.text, feedback.response_id, feedback.answer_id) == (
        "survey_comment",
        "Great MSL",
        anna.id,
        comment.id,
    )
    assert (feedback.stakeholder_id, feedback.language) == (anna.stakeholder_id, "de")

    again = _import(store_engine, tmp_path, "export.csv", RESPONSES, _responses_mapping())
    assert _counts(again) == (0, 0, 2, 2)
    edited = RESPONSES.replace("Great MSL", "Great MSL but slow answers")
    third = _import(store_engine, tmp_path, "export.csv", edited, _responses_mapping())
    assert _counts(third) == (0, 1, 1, 2)
    removed = RESPONSES.replace(",Great MSL", ",")
    fourth = _import(store_engine, tmp_path, "export.csv", removed, _responses_mapping())
    assert _counts(fourth) == (0, 1, 1, 2)
    with Session(store_engine) as session:
        item = session.scalars(select(FeedbackItem)).one()
        assert session.scalar(select(func.count(Answer.id))) == 6  # 3 + 3, no comment left
    # A withdrawn comment stays in the feedback stream (it may be in a case or a safety report).
    assert (item.text, item.answer_id, item.analysis_status) == (
        "Great MSL but slow answers",
        None,
        "pending",
    )


def test_a_mapping_naming_an_unknown_survey_or_question_fails_before_any_row(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed(store_engine, tmp_path)
    _survey(store_engine)
    mapping = _responses_mapping()
    mapping["fields"]["survey"] = {"value": "no_such_survey"}
    with pytest.raises(ReadError, match="names survey 'no_such_survey', which does not exist"):
        _import(store_engine, tmp_path, "export.csv", RESPONSES, mapping)
    mapping = _responses_mapping()
    mapping["answers"]["ease"] = {"column": "Q2"}
    with pytest.raises(ReadError) as error:
        _import(store_engine, tmp_path, "export.csv", RESPONSES, mapping)
    assert str(error.value) == (
        "the mapping 'survey-tool-responses' maps answers to 'ease', which survey "
        "'hcp_relationship_nps' does not ask; its questions are: comment, nps, reach, "
        "responsiveness"
    )
    with Session(store_engine) as session:
        assert session.scalar(select(func.count(ImportRun.id))) == 1  # the accounts import only


def test_responses_naming_their_survey_per_row_are_checked_row_by_row(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed(store_engine, tmp_path)
    _survey(store_engine)
    mapping = {
        "source_system": "survey_tool",
        "target": "responses",
        "source_id": "id",
        "fields": {"survey": "survey", "submitted_at": "at"},
        "answers": {"nps": "score", "ease": "effort"},
    }
    text = (
        "id,survey,at,score,effort\nR1,nope,2026-03-01,9,\nR2,hcp_relationship_nps,2026-03-01,9,\n"
    )
    report = _import(store_engine, tmp_path, "export.csv", text, mapping)
    assert _counts(report) == (0, 0, 0, 2)
    assert _reasons(store_engine) == [
        "row 2: survey 'nope' does not exist in CPXM; create it with its questions first, or "
        "correct the survey code",
        "row 3: the mapping's answer 'ease' is not a question of survey 'hcp_relationship_nps'; "
        "its questions are: comment, nps, reach, responsiveness",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"answers": None}, "needs 'answers'"),
        ({"target": "kpis", "answers": {"nps": "Q1"}}, "target 'kpis' takes no 'answers'"),
        ({"source_system": "cpxm"}, "'cpxm' is reserved"),
    ],
)
def test_answers_and_reserved_names_are_validated(change: dict[str, Any], message: str) -> None:
    from cpxm.ingest.mapping import MappingError

    document = _responses_mapping()
    document.update(change)
    if document.get("answers") is None:
        document.pop("answers")
    if document["target"] == "kpis":
        document["fields"] = {
            "kpi": "k",
            "period_start": "s",
            "period_end": "e",
            "value": "v",
        }
    with pytest.raises(MappingError, match=message):
        parse_mapping(document)


CALLS_BY_ID = (
    "call_id,stakeholder_id,when\n"
    "C1,{survivor},2026-01-05\n"
    "C2,{merged},2026-01-06\n"
    "C3,x1,2026-01-07\n"
    "C4,999999,2026-01-08\n"
)


def test_references_by_cpxm_id_follow_merges(store_engine: Engine, tmp_path: Path) -> None:
    with Session(store_engine) as session:
        make_taxonomy(session)
        survivor = make_stakeholder(session)
        merged = make_stakeholder(session, status="merged", merged_into_id=survivor.id)
        session.commit()
        ids = {"survivor": survivor.id, "merged": merged.id}
    mapping = {
        "source_system": "call_centre",
        "target": "interactions",
        "source_id": "call_id",
        "fields": {
            "stakeholder": {"column": "stakeholder_id", "source_system": "cpxm"},
            "occurred_at": "when",
            "channel": {"value": "phone"},
            "department": {"value": "patient_services"},
        },
    }
    report = _import(store_engine, tmp_path, "calls.csv", CALLS_BY_ID.format(**ids), mapping)
    assert _counts(report) == (2, 0, 0, 2)
    with Session(store_engine) as session:
        owners = set(session.scalars(select(Interaction.stakeholder_id)))
    assert owners == {ids["survivor"]}
    assert _reasons(store_engine) == [
        "row 4: column 'stakeholder_id' is 'x1', expected a CPXM stakeholder id",
        "row 5: column 'stakeholder_id' is '999999', but no CPXM stakeholder has that id",
    ]
