"""Export a survey's responses as CSV, JSON or Parquet: one row per response, a column per question.

Texts are data, never markup or formulas: CSV cells that a spreadsheet would run as a formula
(``=``, ``+``, ``-``, ``@``, tab, CR) get a leading apostrophe, and JSON escapes ``<``, ``>`` and
``&`` so an export pasted into a page cannot run script.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm import csvout
from cpxm.surveys.models import Answer, Question, Response, Survey

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = ("csv", "json", "parquet")
RESPONSE_COLUMNS = (
    "response_id",
    "survey_code",
    "survey_version",
    "status",
    "invitation_id",
    "stakeholder_id",
    "stakeholder_key",
    "open_link_id",
    "channel",
    "language",
    "started_at",
    "submitted_at",
)
# Questions whose answers are the respondent's own words (the rest are numbers and choices).
FREE_TEXT_TYPES = frozenset({"text"})
ExportShield = Callable[[list[dict[str, Any]], list[str]], list[dict[str, Any]]]


def response_rows(
    session: Session, *, survey: Survey
) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """(question codes in order, the codes of free-text questions, one dict per response with
    its answers by code)."""
    questions = list(
        session.scalars(
            select(Question).where(Question.survey_id == survey.id).order_by(Question.position)
        )
    )
    code_of = {q.id: q.code for q in questions}
    rows: dict[int, dict[str, Any]] = {}
    for response in session.scalars(
        select(Response).where(Response.survey_id == survey.id).order_by(Response.id)
    ):
        rows[response.id] = {
            "response_id": response.id,
            "survey_code": survey.code,
            "survey_version": response.survey_version,
            "status": response.status,
            "invitation_id": response.invitation_id,
            "stakeholder_id": response.stakeholder_id,
            "open_link_id": response.open_link_id,
            "channel": response.channel_code,
            "language": response.language,
            "started_at": response.started_at.isoformat(),
            "submitted_at": response.submitted_at.isoformat() if response.submitted_at else None,
        }
    answers = session.execute(
        select(Answer.response_id, Answer.question_id, Answer, Question.question_type)
        .join(Response, Response.id == Answer.response_id)
        .join(Question, Question.id == Answer.question_id)
        .where(Response.survey_id == survey.id)
    )
    for response_id, question_id, answer, question_type in answers:
        rows[response_id][code_of[question_id]] = _answer_value(answer, question_type)
    texts = [q.code for q in questions if q.question_type in FREE_TEXT_TYPES]
    return [q.code for q in questions], texts, list(rows.values())


def _answer_value(answer: Answer, question_type: str) -> Any:
    if answer.value_number is not None:
        number = answer.value_number
        return int(number) if number.is_integer() else number
    if question_type == "kano" and answer.value_choices:
        return f"{answer.value_text} ({answer.value_choices[0]}/{answer.value_choices[1]})"
    if answer.value_choices is not None:
        return ";".join(answer.value_choices)
    return answer.value_text


def export_responses(
    session: Session, *, survey: Survey, format: str, shield: ExportShield | None = None
) -> bytes:
    """The survey's responses in ``format`` (csv, json or parquet); ``shield`` (from the route's
    access rules) decides what of each row the reader may see."""
    codes, text_codes, rows = response_rows(session, survey=survey)
    if shield is not None:
        rows = shield(rows, text_codes)
    columns = [*RESPONSE_COLUMNS, *codes]
    if format == "csv":
        buffer = io.StringIO()
        writer = csvout.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(column) for column in columns])
        return buffer.getvalue().encode("utf-8")
    if format == "json":
        text = json.dumps([{c: row.get(c) for c in columns} for row in rows], ensure_ascii=False)
        return (
            text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        ).encode("utf-8")
    if format == "parquet":
        # Loaded for a Parquet export only: `cpxm survey ...` commands start without it.
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(
            {column: _parquet_column([row.get(column) for row in rows]) for column in columns}
        )
        sink = io.BytesIO()
        pq.write_table(table, sink)
        return sink.getvalue()
    raise ValueError(f"format is '{format}', expected one of {', '.join(FORMATS)}")


def _parquet_column(values: list[Any]) -> pa.Array:
    """Numbers stay numbers (scores as float64); anything else is text."""
    import pyarrow as pa

    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        if all(isinstance(v, int) for v in present):
            return pa.array(values, type=pa.int64())
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def write_export(data: bytes, out: Path | None) -> None:
    """Write to ``out``, or to standard output when no file is named."""
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    out.write_bytes(data)
