"""Responses exported by another survey tool come in through the import path and its template."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cpxm.feedback.models import FeedbackItem
from cpxm.ingest.mapping import resolve_mapping
from cpxm.ingest.service import import_file
from cpxm.surveys.models import Answer, Response
from cpxm.workspace.models import Channel
from tests.factories import make_taxonomy
from tests.surveys.helpers import make_example_survey

HEADER = (
    "Response ID,Timestamp,crm_id,Language,"
    "How likely are you to recommend us to a colleague?,What is the main reason for your score?,"
    "How satisfied are you with your last contact with us?,It was easy to get what I needed.,"
    "How would you like to hear from us?,Could your patients reach a nurse when they needed one?"
)


def test_forms_export_imports_with_quarantine_and_comments(
    store_engine: Engine, tmp_path: Path
) -> None:
    with Session(store_engine) as session:
        make_taxonomy(session)
        session.add(Channel(code="web_portal", name="Web portal", kind="digital"))
        make_example_survey(session)
        session.commit()
    export = tmp_path / "forms.csv"
    export.write_text(
        HEADER
        + "\n"
        + 'r1,02/11/2026 09:15:00,,de,10 - Extremely likely,"<b>Great</b> MSL",Satisfied,6,'
        + '"Email, Webinar",Usually\n'
        + "r2,02/11/2026 10:00:00,,en,11,,Neutral,4,Email,Never\n",
        encoding="utf-8",
    )
    report = import_file(store_engine, path=export, mapping=resolve_mapping("forms-hcp-pulse"))
    assert (report.created, report.quarantined) == (1, 1)  # NPS 11 is quarantined with a reason
    again = import_file(store_engine, path=export, mapping=resolve_mapping("forms-hcp-pulse"))
    assert again.created == 0  # importing the same file again changes nothing
    with Session(store_engine) as session:
        response = session.scalars(select(Response)).one()
        assert response.language == "de" and response.channel_code == "web_portal"
        numbers = set(session.scalars(select(Answer.value_number)).all())
        assert {10.0, 4.0, 6.0} <= numbers
        choices = [a for a in session.scalars(select(Answer.value_choices)) if a]
        assert choices == [["email", "webinar"]]
        assert session.scalar(select(func.count(FeedbackItem.id))) == 1
