"""Open cases from what customers told us, without the other rooms knowing about cases.

The scanner reads survey answers and feedback analyses past its watermarks and opens one case per
source (``source_key`` is unique, so a scan run twice, or two scans at once, never opens a case
twice). It runs every few minutes as a job and on demand as ``cpxm cases scan``.

Ids and analysis times are handed out when a row is written, not when its transaction commits: on
PostgreSQL a transaction may commit id 100 after another committed id 101 was already scanned. So
a watermark only moves to a position once it has settled: each scan records how far it got (the
checkpoint), and that position becomes the start of later scans only after the look-back window
(``CPXM_CASE_SCAN_LOOKBACK_MINUTES``, default 15). Until then the window is read again, which
opens nothing twice. A transaction that commits answers more than the window after writing them
is the one thing missed; no request or job here runs that long.

Rules (the issue's, with the scales of ``cpxm.surveys.models.SCORE_SCALES``):
- never on a confidential survey's answer or comment (the employee pulse): its detractors are
  followed up as team action plans (``cpxm.analytics.ex``);
- NPS 0-6: a detractor case (0-3 high priority);
- CSAT 1-2 of 5, or CES 1-3 of 7 (higher is easier): a low-score case (CSAT 1, CES 1 high);
- feedback whose analysis found a product complaint: a complaint case (high);
- negative feedback on a chosen theme (``CPXM_CASE_THEMES``, comma-separated theme codes): a
  negative-feedback case, unless the same survey response already has a case.
Answers to a case's service-recovery re-survey (``cpxm.cases.recovery``) go onto that case.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from cpxm.cases.models import Case, CaseScanWatermark
from cpxm.cases.recovery import RECOVERY_QUESTION_CODE, RECOVERY_SURVEY_CODE
from cpxm.cases.service import open_case, record_recovery_score
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
DEFAULT_LOOKBACK_MINUTES = 15


def case_themes() -> frozenset[str]:
    configured = os.environ.get("CPXM_CASE_THEMES", "").strip()
    if not configured:
        return frozenset(DEFAULT_CASE_THEMES)
    return frozenset(code.strip() for code in configured.split(",") if code.strip())


def lookback() -> timedelta:
    """How long a scanned position stays open to rows committed late below it."""
    configured = os.environ.get("CPXM_CASE_SCAN_LOOKBACK_MINUTES", "").strip()
    try:
        minutes = float(configured) if configured else DEFAULT_LOOKBACK_MINUTES
    except ValueError:
        raise ValueError(
            f"CPXM_CASE_SCAN_LOOKBACK_MINUTES is '{configured}', expected a number of minutes"
        ) from None
    return timedelta(minutes=max(minutes, 0))


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
    answers = _watermark(session, "survey_answers")
    position: tuple[datetime | None, int] = (None, answers.last_id)
    while (reached := _scan_answers(session, report, now, since, position[1])) is not None:
        position = (None, reached)
    _settle(answers, position, now)
    feedback = _watermark(session, "feedback_analyses")
    position = (feedback.last_seen_at, feedback.last_id)
    while (seen := _scan_feedback(session, report, now, since, position)) is not None:
        position = seen
    _settle(feedback, position, now)
    session.flush()
    return report


def _settle(mark: CaseScanWatermark, reached: tuple[datetime | None, int], now: datetime) -> None:
    """Move the start to the checkpoint once it is older than the look-back window; checkpoint
    where this scan got to."""
    mark.scanned_at = now
    window = lookback()
    if mark.checkpoint_at is not None and mark.checkpoint_at > now - window:
        return  # the last checkpoint may still gain rows below it
    if mark.checkpoint_id is not None:
        mark.last_seen_at, mark.last_id = mark.checkpoint_seen_at, mark.checkpoint_id
    mark.checkpoint_seen_at, mark.checkpoint_id = reached
    mark.checkpoint_at = now
    if not window:
        mark.last_seen_at, mark.last_id = reached


def _record(report: ScanReport, case: Case, created: bool) -> None:
    if created:
        report.opened.append(case.id)
    else:
        report.already_open += 1


# Scores that may call for a case (``score_rule``), so re-reading the window stays cheap.
_FOLLOW_UP_SCORES = or_(
    and_(Question.question_type == "nps", Answer.value_number <= 6),
    and_(Question.question_type == "csat", Answer.value_number <= 2),
    and_(Question.question_type == "ces", Answer.value_number <= 3),
    # and the answers to service-recovery re-surveys, which go onto their cases
    and_(Survey.code == RECOVERY_SURVEY_CODE, Question.code == RECOVERY_QUESTION_CODE),
)


_CONFIDENTIAL_RESPONSES = (
    select(Response.id)
    .join(Survey, Survey.id == Response.survey_id)
    .where(Survey.confidential.is_(True))
)


def _scan_answers(
    session: Session, report: ScanReport, now: datetime, since: datetime | None, after_id: int
) -> int | None:
    """One batch of scores after ``after_id``; the last id read, or None when there is none."""
    rows = session.execute(
        select(
            Answer.id,
            Answer.value_number,
            Question.question_type,
            Response,
            Survey.name,
            Survey.code,
        )
        .join(Question, Question.id == Answer.question_id)
        .join(Response, Response.id == Answer.response_id)
        .join(Survey, Survey.id == Response.survey_id)
        # A confidential survey's answers never open a case: its follow-up is the team's
        # action plan, over groups (cpxm.analytics.ex), never one person's answer.
        .where(Answer.id > after_id, _FOLLOW_UP_SCORES, Survey.confidential.is_(False))
        .order_by(Answer.id)
        .limit(BATCH)
    ).all()
    if not rows:
        return None
    for _answer_id, value, question_type, response, survey_name, survey_code in rows:
        if value is None:
            continue
        if survey_code == RECOVERY_SURVEY_CODE:
            _record_recovery(session, response, value, now)
            continue
        if since is not None and (response.submitted_at or now) < since:
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
    session.flush()
    last_id: int = rows[-1][0]
    return last_id


def _record_recovery(session: Session, response: Response, value: float, now: datetime) -> None:
    if response.invitation_id is None:
        return
    case = session.scalar(select(Case).where(Case.recovery_invitation_id == response.invitation_id))
    if case is not None:
        record_recovery_score(
            session,
            case=case,
            score=value,
            at=response.submitted_at or now,
            response_id=response.id,
        )


def _scan_feedback(
    session: Session,
    report: ScanReport,
    now: datetime,
    since: datetime | None,
    after: tuple[datetime | None, int],
) -> tuple[datetime | None, int] | None:
    """One batch of analyses after the keyset ``after``; the last position read, or None."""
    rows = session.execute(
        select(FeedbackAnalysis, FeedbackItem)
        .join(FeedbackItem, FeedbackItem.id == FeedbackAnalysis.feedback_item_id)
        # Analyses finish out of item order (a job pool), so the keyset is (analysed_at, item).
        .where(
            tuple_(FeedbackAnalysis.analysed_at, FeedbackAnalysis.feedback_item_id)
            > tuple_(literal(after[0] or datetime(1970, 1, 1)), literal(after[1])),
            or_(
                FeedbackItem.response_id.is_(None),
                FeedbackItem.response_id.not_in(_CONFIDENTIAL_RESPONSES),
            ),
        )
        .order_by(FeedbackAnalysis.analysed_at, FeedbackAnalysis.feedback_item_id)
        .limit(BATCH)
    ).all()
    if not rows:
        return None
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
    session.flush()
    return rows[-1][0].analysed_at, rows[-1][0].feedback_item_id
