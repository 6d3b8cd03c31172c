"""How long each category of data is kept, and the run that deletes or anonymises what is older.

GDPR Art. 5(1)(e) (storage limitation): personal data is kept no longer than its purpose needs.
An admin sets a period per category (none is set at first: nothing is deleted until someone
decides); the worker applies them daily, and ``cpxm retention run --dry-run`` shows first what
a run would do. Each run is written to the audit log with what it did per category.

Figures survive where they can: expired free text is overwritten, expired survey responses are
unlinked from the person (their scores still count, anonymously), and only interactions, old
audit entries, quarantined rows and closed safety cases past their period are deleted. Safety
cases need at least ten years (EU GVP: for the life of the authorisation plus ten years).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from cpxm.access import audit
from cpxm.cases.models import Case, CaseEvent
from cpxm.errors import DomainError
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.ingest.models import DataQualityIssue, QuarantinedRow
from cpxm.interactions.models import Interaction
from cpxm.safety.models import SafetyCase
from cpxm.surveys.models import Answer, Invitation, Response
from cpxm.timeutil import utc_now
from cpxm.workspace.models import AuditLogEntry
from cpxm.workspace.settings import get_setting, set_setting

EXPIRED_TEXT = "[expired]"
SETTING_PREFIX = "retention."


@dataclass(frozen=True)
class Category:
    name: str
    description: str
    what_happens: str
    minimum_days: int = 1


CATEGORIES: dict[str, Category] = {
    category.name: category
    for category in (
        Category(
            "free_text",
            "feedback text, interaction notes, answers in words, case descriptions and comments",
            "overwritten with [expired]; themes, sentiment and counts stay",
        ),
        Category(
            "survey_responses",
            "who answered a survey",
            "unlinked from the person (and resume tokens dropped); scores still count",
        ),
        Category("interactions", "touchpoints with a person", "deleted (daily counts follow)"),
        Category("audit_log", "the audit trail", "deleted", minimum_days=365),
        Category(
            "import_quarantine",
            "rows imports could not store, and data-quality findings",
            "deleted",
        ),
        Category(
            "safety_cases",
            "closed safety cases and their events",
            "deleted",
            minimum_days=3650,
        ),
    )
}


@dataclass(frozen=True)
class CategoryResult:
    category: str
    days: int
    cutoff: datetime
    rows: dict[str, int]  # table -> rows deleted or anonymised


@dataclass(frozen=True)
class RetentionReport:
    ran_at: datetime
    dry_run: bool
    results: list[CategoryResult]

    @property
    def total(self) -> int:
        return sum(sum(result.rows.values()) for result in self.results)


def retention_policy(session: Session) -> dict[str, int | None]:
    """Category -> days kept (None: kept until someone decides)."""
    policy: dict[str, int | None] = {}
    for name in CATEGORIES:
        value = get_setting(session, SETTING_PREFIX + name)
        policy[name] = int(value) if value and value.isdigit() else None
    return policy


def set_retention(
    session: Session, *, category: str, days: int | None, actor_user_id: int | None
) -> None:
    """Keep ``category`` for ``days`` (None: no period); audited with the old and new value."""
    if category not in CATEGORIES:
        raise DomainError(
            f"unknown data category '{category}'; choose one of {', '.join(CATEGORIES)}"
        )
    minimum = CATEGORIES[category].minimum_days
    if days is not None and days < minimum:
        raise DomainError(f"{category} must be kept at least {minimum} days")
    before = retention_policy(session)[category]
    set_setting(
        session,
        name=SETTING_PREFIX + category,
        value="" if days is None else str(days),
        user_id=actor_user_id,
    )
    audit.record(
        session,
        user_id=actor_user_id,
        action="retention_set",
        entity_type="workspace_settings",
        entity_id=SETTING_PREFIX + category,
        details={"old": before, "new": days},
    )


def apply_retention(
    session: Session,
    *,
    dry_run: bool,
    actor_user_id: int | None = None,
    now: datetime | None = None,
) -> RetentionReport:
    """Delete or anonymise what is past its period; with ``dry_run`` count it and change nothing."""
    now = now or utc_now()
    results = []
    for name, days in retention_policy(session).items():
        if days is None:
            continue
        cutoff = now - timedelta(days=days)
        rows = _APPLY[name](session, cutoff, dry_run)
        results.append(CategoryResult(name, days, cutoff, rows))
    report = RetentionReport(ran_at=now, dry_run=dry_run, results=results)
    if not dry_run:
        audit.record(
            session,
            user_id=actor_user_id,
            action="retention_run",
            entity_type="workspace",
            details={
                result.category: {
                    "days": result.days,
                    "cutoff": result.cutoff.isoformat(),
                    **result.rows,
                }
                for result in results
            },
        )
    session.flush()
    return report


Changer = Callable[[Session, datetime, bool], dict[str, int]]


def _count_or_run(
    session: Session, model: Any, where: ColumnElement[bool], dry_run: bool, change: Any
) -> int:
    if dry_run:
        return int(session.scalar(select(func.count()).select_from(model).where(where)) or 0)
    return int(getattr(session.execute(change.where(where)), "rowcount", 0) or 0)


def _free_text(session: Session, cutoff: datetime, dry_run: bool) -> dict[str, int]:
    old_items = FeedbackItem.received_at < cutoff
    old_responses = select(Response.id).where(Response.started_at < cutoff)
    closed_cases = (Case.opened_at < cutoff) & Case.closed_at.is_not(None)
    return {
        "feedback_items": _count_or_run(
            session,
            FeedbackItem,
            old_items & (FeedbackItem.text != EXPIRED_TEXT),
            dry_run,
            update(FeedbackItem).values(text=EXPIRED_TEXT),
        ),
        "feedback_analyses": _count_or_run(
            session,
            FeedbackAnalysis,
            FeedbackAnalysis.feedback_item_id.in_(select(FeedbackItem.id).where(old_items))
            & FeedbackAnalysis.redacted_text.is_not(None),
            dry_run,
            update(FeedbackAnalysis).values(
                redacted_text=None, safety_contexts=None, safety_mentions=None
            ),
        ),
        "interactions": _count_or_run(
            session,
            Interaction,
            (Interaction.occurred_at < cutoff) & Interaction.notes.is_not(None),
            dry_run,
            update(Interaction).values(notes=None),
        ),
        "answers": _count_or_run(
            session,
            Answer,
            Answer.response_id.in_(old_responses) & Answer.value_text.is_not(None),
            dry_run,
            update(Answer).values(value_text=None),
        ),
        "cases": _count_or_run(
            session,
            Case,
            closed_cases & Case.description.is_not(None),
            dry_run,
            update(Case).values(description=None),
        ),
        "case_events": _count_or_run(
            session,
            CaseEvent,
            (CaseEvent.occurred_at < cutoff) & (CaseEvent.event_type == "comment"),
            dry_run,
            update(CaseEvent).values(details={"text": EXPIRED_TEXT}),
        ),
    }


def _survey_responses(session: Session, cutoff: datetime, dry_run: bool) -> dict[str, int]:
    old = (Response.started_at < cutoff) & Response.stakeholder_id.is_not(None)
    return {
        "responses": _count_or_run(
            session,
            Response,
            old,
            dry_run,
            update(Response).values(stakeholder_id=None, resume_token=None),
        )
    }


def _interactions(session: Session, cutoff: datetime, dry_run: bool) -> dict[str, int]:
    old = Interaction.occurred_at < cutoff
    if not dry_run:
        # Rows that point at an expiring interaction keep themselves, without the pointer.
        expiring = select(Interaction.id).where(old)
        session.execute(
            update(FeedbackItem)
            .where(FeedbackItem.interaction_id.in_(expiring))
            .values(interaction_id=None)
        )
        session.execute(
            update(Invitation)
            .where(Invitation.trigger_interaction_id.in_(expiring))
            .values(trigger_interaction_id=None)
        )
    return {"interactions": _count_or_run(session, Interaction, old, dry_run, delete(Interaction))}


def _audit_log(session: Session, cutoff: datetime, dry_run: bool) -> dict[str, int]:
    return {
        "audit_log": _count_or_run(
            session,
            AuditLogEntry,
            AuditLogEntry.occurred_at < cutoff,
            dry_run,
            delete(AuditLogEntry),
        )
    }


def _import_quarantine(session: Session, cutoff: datetime, dry_run: bool) -> dict[str, int]:
    return {
        "quarantined_rows": _count_or_run(
            session,
            QuarantinedRow,
            QuarantinedRow.created_at < cutoff,
            dry_run,
            delete(QuarantinedRow),
        ),
        "data_quality_issues": _count_or_run(
            session,
            DataQualityIssue,
            DataQualityIssue.created_at < cutoff,
            dry_run,
            delete(DataQualityIssue),
        ),
    }


def _safety_cases(session: Session, cutoff: datetime, dry_run: bool) -> dict[str, int]:
    closed = (SafetyCase.created_at < cutoff) & SafetyCase.status.in_(
        ("confirmed", "rejected", "exported")
    )
    return {"safety_cases": _count_or_run(session, SafetyCase, closed, dry_run, delete(SafetyCase))}


_APPLY: dict[str, Changer] = {
    "free_text": _free_text,
    "survey_responses": _survey_responses,
    "interactions": _interactions,
    "audit_log": _audit_log,
    "import_quarantine": _import_quarantine,
    "safety_cases": _safety_cases,
}
