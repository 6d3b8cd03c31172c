"""Open cases from what customers told us, without the other rooms knowing about cases.

The scanner reads survey answers and feedback analyses newer than its watermarks and opens one
case per source (``source_key`` is unique, so a scan run twice, or two scans at once, never
opens a case twice). It runs every few minutes as a job and on demand as ``cpxm cases scan``.

Rules (the issue's, with the scales of ``cpxm.surveys.models.SCORE_SCALES``):
- NPS 0-6: a detractor case (0-3 high priority);
- CSAT 1-2 of 5, or CES 1-3 of 7 (higher is easier): a low-score case (CSAT 1, CES 1 high);
- feedback whose analysis found a product complaint: a complaint case (high);
- negative feedback on a chosen theme (``CPXM_CASE_THEMES``, comma-separated theme codes): a
  negative-feedback case, unless the same survey response already has a case.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import literal, select, tuple_
from sqlalchemy.orm import Session

from cpxm.cases.models import Case, CaseScanWatermark
from cpxm.cases.service import open_case
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.surveys.models import Answer, Question, Response, Survey
from cpxm.timeutil import utc_now

DEFAULT_CASE_THEMES = (
    "product_quality",
    "responsiveness",
    "supply_availability",
    "patient_support",
    "access_reimbursement",
)
BATCH = 2000


def case_themes() -> frozenset[str]:
    configured = os.environ.get("CPXM_CASE_THEMES", "").strip()
    if not configured:
        return frozenset(DEFAULT_CASE_THEMES)
    return frozenset(code.strip() for code in configured.split(",") if code.strip())


@dataclass
class ScanReport:
    answers_read: int = 0
    feedback_read: int = 0
    opened: list[int] = field(default_factory=list)
    already_open: int = 0


def _watermark(session: Session, source: str) -> CaseScanWatermark:
    mark = session.get(CaseScanWatermark, source)
    if mark is None:
        mark = CaseScanWatermark(source=source, last_id=0)
        session.add(mark)
        session.flush()
    return mark


def score_rule(question_type: str, value: float) -> tuple[str, str] | None:
    """(case type, priority) for a score, or None when the score needs no follow-up."""
    if question_type == "nps" and value <= 6:
        return "detractor", "high" if value <= 3 else "normal"
    if question_type == "csat" and value <= 2:
        return "low_score", "high" if value <= 1 else "normal"
    if question_type == "ces" and value <= 3:
        return "low_score", "high" if value <= 1 else "normal"
    return None


def scan(
    session: Session, *, now: datetime | None = None, since: datetime | None = None
) -> ScanReport:
    """Read every new answer and analysis (in batches) and open the cases they call for.

    ``since`` skips sources older than that moment (they are still read past): the first scan of
    years of imported history opens cases only for what can still be followed up.
    """
    report = ScanReport()
    now = now or utc_now()
    while _scan_answers(session, report, now, since):
        pass
    while _scan_feedback(session, report, now, since):
        pass
    return report


def _record(report: ScanReport, case: Case, created: bool) -> None:
    if created:
        report.opened.append(case.id)
    else:
        report.already_open += 1


def _scan_answers(
    session: Session, report: ScanReport, now: datetime, since: datetime | None
) -> bool:
    mark = _watermark(session, "survey_answers")
    rows = session.execute(
        select(Answer.id, Answer.value_number, Question.question_type, Response, Survey.name)
        .join(Question, Question.id == Answer.question_id)
        .join(Response, Response.id == Answer.response_id)
        .join(Survey, Survey.id == Response.survey_id)
        .where(Answer.id > mark.last_id)
        .order_by(Answer.id)
        .limit(BATCH)
    ).all()
    if not rows:
        return False
    for _answer_id, value, question_type, response, survey_name in rows:
        if value is None or (since is not None and (response.submitted_at or now) < since):
            continue
        rule = score_rule(question_type, value)
        if rule is None:
            continue
        case_type, priority = rule
        label = {"nps": "NPS", "csat": "CSAT", "ces": "CES"}[question_type]
        opened = open_case(
            session,
            case_type=case_type,
            priority=priority,
            title=f"{label} {value:g} on '{survey_name}'",
            description=f"Response {response.id} to '{survey_name}' scored {label} {value:g}.",
            source_key=f"response:{response.id}",
            stakeholder_id=response.stakeholder_id,
            response_id=response.id,
            now=now,
        )
        _record(report, opened.case, opened.created)
    report.answers_read += len(rows)
    mark.last_id = rows[-1][0]
    mark.scanned_at = now
    session.flush()
    return len(rows) == BATCH


def _scan_feedback(
    session: Session, report: ScanReport, now: datetime, since: datetime | None
) -> bool:
    mark = _watermark(session, "feedback_analyses")
    rows = session.execute(
        select(FeedbackAnalysis, FeedbackItem)
        .join(FeedbackItem, FeedbackItem.id == FeedbackAnalysis.feedback_item_id)
        # Analyses finish out of item order (a job pool), so the keyset is (analysed_at, item).
        .where(
            tuple_(FeedbackAnalysis.analysed_at, FeedbackAnalysis.feedback_item_id)
            > tuple_(literal(mark.last_seen_at or datetime(1970, 1, 1)), literal(mark.last_id))
        )
        .order_by(FeedbackAnalysis.analysed_at, FeedbackAnalysis.feedback_item_id)
        .limit(BATCH)
    ).all()
    if not rows:
        return False
    themes_wanted = case_themes()
    for analysis, item in rows:
        if since is not None and item.received_at < since:
            continue
        # Never copy raw text into a case when a redacted version exists: cases travel by email.
        text = analysis.redacted_text or item.text
        excerpt = text if len(text) <= 2000 else text[:2000] + "..."
        if "pc" in (analysis.safety_kinds or []):
            opened = open_case(
                session,
                case_type="complaint",
                priority="high",
                title=f"Product complaint in {item.source_kind.replace('_', ' ')}",
                description=excerpt,
                source_key=f"feedback:{item.id}:complaint",
                stakeholder_id=item.stakeholder_id,
                response_id=item.response_id,
                feedback_item_id=item.id,
                now=now,
            )
            _record(report, opened.case, opened.created)
            continue
        matched = sorted(themes_wanted & set(analysis.themes or []))
        if analysis.sentiment_label != "negative" or not matched:
            continue
        if item.response_id is not None and session.scalar(
            select(Case.id).where(Case.response_id == item.response_id).limit(1)
        ):
            continue  # the score on the same response opened a case already
        opened = open_case(
            session,
            case_type="negative_feedback",
            priority="normal",
            title=f"Negative feedback on {', '.join(t.replace('_', ' ') for t in matched)}",
            description=excerpt,
            source_key=f"feedback:{item.id}:negative",
            stakeholder_id=item.stakeholder_id,
            response_id=item.response_id,
            feedback_item_id=item.id,
            now=now,
        )
        _record(report, opened.case, opened.created)
    report.feedback_read += len(rows)
    mark.last_seen_at = rows[-1][0].analysed_at
    mark.last_id = rows[-1][0].feedback_item_id
    mark.scanned_at = now
    session.flush()
    return len(rows) == BATCH
