"""Screening: analyse feedback items and open a safety case for every reportable finding.

This is where analysis (``cpxm.feedback``, ``cpxm.text``) meets the PV queue; every path that
analyses stored feedback (the job on arrival, the periodic sweep, ``cpxm analyze``, the demo,
the survey thank-you page) comes through here, so none can analyse without screening, and
what opens no case lands on PV's triage list (``cpxm.safety.triage``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, select
from sqlalchemy.orm import Session

from cpxm.db import one_of, session_factory
from cpxm.feedback import service as feedback_service
from cpxm.feedback.models import FeedbackItem
from cpxm.safety import intake, triage
from cpxm.safety.models import SafetyCase
from cpxm.text import ProductCatalogue, TextAnalysis, analyse_text, analyse_texts
from cpxm.text.safety import detect_safety
from cpxm.timeutil import utc_now

logger = logging.getLogger(__name__)
ProgressCallback = Callable[[int, int], None]
DEFAULT_BATCH = 500


@dataclass
class ScreeningReport:
    analysed: int = 0
    failed: int = 0
    cases_opened: int = 0
    cases_by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, other: ScreeningReport) -> None:
        self.analysed += other.analysed
        self.failed += other.failed
        self.cases_opened += other.cases_opened
        for kind, count in other.cases_by_kind.items():
            self.cases_by_kind[kind] = self.cases_by_kind.get(kind, 0) + count


def screen_items(
    session: Session,
    *,
    items: Sequence[FeedbackItem],
    catalogue: ProductCatalogue | None = None,
    now: datetime | None = None,
) -> tuple[ScreeningReport, list[SafetyCase]]:
    """Analyse ``items``, keep the results and open their safety cases; flushes, never commits."""
    now = now or utc_now()
    catalogue = catalogue or feedback_service.load_catalogue(session)
    names = feedback_service.known_names(session, (item.stakeholder_id for item in items))
    report = ScreeningReport()
    opened: list[SafetyCase] = []
    analysed: list[tuple[FeedbackItem, TextAnalysis]] = []
    try:
        analyses = analyse_texts(
            [item.text for item in items],
            catalogue=catalogue,
            known_names=[names.get(item.stakeholder_id or 0, ()) for item in items],
            languages=[item.language for item in items],
        )
        analysed = list(zip(items, analyses, strict=True))
    except Exception:  # one bad text must not stop the stream: find it one by one
        logger.exception("a batch of %s feedback item(s) failed; analysing each", len(items))
        for item in items:
            try:
                analysis = analyse_text(
                    item.text,
                    catalogue=catalogue,
                    known_names=names.get(item.stakeholder_id or 0, ()),
                    language=item.language,
                )
            except Exception as error:
                logger.exception("feedback item %s could not be analysed", item.id)
                feedback_service.store_failure(
                    session, item=item, error=f"{type(error).__name__}: {error}"
                )
                report.failed += 1
                continue
            analysed.append((item, analysis))
    feedback_service.store_analyses(session, analysed=analysed, now=now)
    report.analysed += len(analysed)
    for item, analysis in analysed:
        if not analysis.safety.mentions:
            continue
        cases = intake.open_cases(
            session,
            item=item,
            mentions=analysis.safety.mentions,
            pii_kinds=analysis.pii_kinds,
            now=now,
        )
        # What opened no case goes to PV's triage list: screened out, never dropped.
        triage.record_screened_out(session, item=item, mentions=analysis.safety.mentions, now=now)
        for case in cases:
            report.cases_by_kind[case.kind] = report.cases_by_kind.get(case.kind, 0) + 1
        report.cases_opened += len(cases)
        opened.extend(cases)
    session.flush()
    return report, opened


def screen_pending(session: Session, *, limit: int = DEFAULT_BATCH) -> ScreeningReport:
    """One batch of pending items (oldest first): the periodic sweep's unit of work."""
    items = feedback_service.pending_items(session, limit=limit)
    if not items:
        return ScreeningReport()
    return screen_items(session, items=items)[0]


def screen_by_ids(session: Session, *, feedback_ids: Sequence[int]) -> ScreeningReport:
    """Analyse the given items if still pending: the job enqueued when feedback arrives."""
    return _screen_pending_where(session, one_of(session, FeedbackItem.id, feedback_ids))


def screen_by_responses(session: Session, *, response_ids: Sequence[int]) -> ScreeningReport:
    """Analyse the pending comments of these survey responses (submitted or edited)."""
    return _screen_pending_where(session, one_of(session, FeedbackItem.response_id, response_ids))


def _screen_pending_where(session: Session, condition: ColumnElement[bool]) -> ScreeningReport:
    # Two jobs may name the same items (a writer's own enqueue and the commit hook's): on
    # PostgreSQL the second skips rows the first holds, and then finds them no longer pending.
    items = list(
        session.scalars(
            select(FeedbackItem)
            .where(condition, FeedbackItem.analysis_status == "pending")
            .order_by(FeedbackItem.id)
            .with_for_update(skip_locked=True)
        )
    )
    if not items:
        return ScreeningReport()
    return screen_items(session, items=items)[0]


def screen_response(session: Session, *, response_id: int) -> list[SafetyCase]:
    """Screen a survey response's free text now, for its thank-you page; returns its cases
    (adverse events, product complaints and special situations alike).

    Only the safety part runs here, so the page is quick and the case (with its clock) opens
    at once; the items stay pending and the job or sweep stores their full analysis like any
    other item's (it finds the case already open and does not open it twice).
    """
    items = list(
        session.scalars(
            select(FeedbackItem).where(
                FeedbackItem.response_id == response_id, FeedbackItem.analysis_status == "pending"
            )
        )
    )
    if items:
        catalogue = feedback_service.load_catalogue(session)
        for item in items:
            result = detect_safety(item.text, catalogue)
            if result.reportable:
                intake.open_cases(session, item=item, mentions=result.mentions)
    return list(session.scalars(select(SafetyCase).where(SafetyCase.response_id == response_id)))


def screen_all_pending(
    engine: Engine,
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressCallback | None = None,
) -> ScreeningReport:
    """Every pending item, in committed batches: bulk analysis for the CLI and the demo.

    Commits each batch so a long run keeps what it did if interrupted, and readers see
    progress; ``progress(done, total)`` is called after each batch.
    """
    make_session = session_factory(engine)
    with make_session() as session:
        total = feedback_service.count_pending(session)
        catalogue = feedback_service.load_catalogue(session)
    report = ScreeningReport()
    done = 0
    if progress:
        progress(0, total)
    while True:
        with make_session() as session, session.begin():
            items = feedback_service.pending_items(session, limit=batch_size)
            if not items:
                break
            batch, _ = screen_items(session, items=items, catalogue=catalogue)
        report.add(batch)
        done += len(items)
        if progress:
            progress(min(done, total), max(total, done))
    return report
