"""The one writer of feedback items: every path that stores words for analysis comes here.

Six places used to write feedback items (the API, imports of feedback and of survey responses,
the respondent pages twice, the one-statement survey submit) and four mechanisms tried to notice
them for the safety net (session listeners scanning every flush and every bulk insert, a list of
callbacks for the submit, feedback's own screening path, the sweep). A path that slipped past
them all waited for the minute-by-minute sweep; one that the sweep also missed was never screened.

Now every new item, and every item whose words change, is written by a function of this module,
which marks it ``pending`` and notes its id on the session (:func:`arrived_ids`). The safety net's
screen-after-commit hook (:mod:`cpxm.safety.arrival`, installed explicitly by the web app, the
worker and every command) queues the screening of those ids once the transaction commits; the
sweep screens whatever a process without the hook committed. ``tests/feedback/test_writer.py``
fails when code outside this module writes to ``feedback_items``.

Like every service function here, these flush but never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import DateTime, Table, bindparam, insert, select, text
from sqlalchemy.orm import Session

from cpxm.db import assign_ids, bulk_insert, one_of, reserve_ids, server_timestamps
from cpxm.feedback.models import FeedbackItem

if TYPE_CHECKING:
    from cpxm.surveys.models import Answer, Response

PENDING = "pending"
# Up to this many rows are inserted with RETURNING; more take the bulk path (COPY on PostgreSQL).
_RETURNING_AT_MOST = 50
# Session.info key: ids of the items this transaction wrote or re-wrote, to screen after commit.
ARRIVED = "cpxm.feedback.arrived"


def arrived_ids(session: Session) -> set[int]:
    """The ids of items written since the session's last commit or rollback (read, not taken)."""
    return cast(set[int], session.info.setdefault(ARRIVED, set()))


def take_arrived(session: Session) -> list[int]:
    """The noted ids, forgotten by the session: what a commit hands to screening."""
    return sorted(session.info.pop(ARRIVED, None) or ())


def forget_arrived(session: Session) -> None:
    """Drop the noted ids: the transaction that wrote them rolled back."""
    session.info.pop(ARRIVED, None)


def note_written(session: Session, feedback_ids: Iterable[int]) -> None:
    """Note items a statement of this module wrote (see :data:`SURVEY_COMMENTS_POSTGRESQL`)."""
    arrived_ids(session).update(feedback_ids)


def add_item(
    session: Session,
    *,
    source_kind: str,
    text: str,
    received_at: datetime,
    stakeholder_id: int | None = None,
    channel_code: str | None = None,
    language: str | None = None,
    response_id: int | None = None,
    answer_id: int | None = None,
    interaction_id: int | None = None,
) -> FeedbackItem:
    """One new item, pending analysis (the API, a test, a script)."""
    item = FeedbackItem(
        source_kind=source_kind,
        text=text,
        received_at=received_at,
        stakeholder_id=stakeholder_id,
        channel_code=channel_code,
        language=language,
        response_id=response_id,
        answer_id=answer_id,
        interaction_id=interaction_id,
        analysis_status=PENDING,
    )
    session.add(item)
    session.flush()
    note_written(session, [item.id])
    return item


def insert_rows(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Many new items at once (imports, bulk submits): one bulk insert, ids reserved up front.

    Each row maps column keys to values (no ``id``); columns left out take their defaults.
    Returns the new ids in the rows' order.
    """
    if not rows:
        return []
    table = cast(Table, FeedbackItem.__table__)
    columns = [column.key for column in table.columns]
    unknown = {key for row in rows for key in row} - set(columns)
    if unknown:
        raise ValueError(f"not columns of feedback_items: {sorted(unknown)}")
    if len(rows) <= _RETURNING_AT_MOST:
        # A respondent's few comments: one INSERT ... RETURNING, no ids reserved first (a
        # round trip saved on the hot path of a survey wave).
        returned = session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [{**row, "analysis_status": PENDING} for row in rows],
        )
        ids = [int(new_id) for new_id in returned.scalars()]
        note_written(session, ids)
        return ids
    template: dict[str, Any] = dict.fromkeys(columns)
    template.update(server_timestamps(table))
    ids = reserve_ids(session, table, len(rows))
    tuples = []
    for row, new_id in zip(rows, ids, strict=True):
        record = {**template, **row, "id": new_id, "analysis_status": PENDING}
        tuples.append(tuple(record[key] for key in columns))
    bulk_insert(session.connection(), table, tuples, [column.name for column in table.columns])
    note_written(session, ids)
    return ids


def update_item(session: Session, item: FeedbackItem, values: Mapping[str, Any]) -> None:
    """Change an item's columns (a re-import); new words are analysed again."""
    for key, value in values.items():
        if key in ("id", "analysis_status"):
            continue
        if key == "text" and value != item.text:
            item.analysis_status = PENDING
            session.flush()  # the item must exist before its id is noted
            note_written(session, [item.id])
        setattr(item, key, value)


def write_comments(
    session: Session,
    comments: Sequence[tuple[Response, Answer]],
    *,
    received_at: datetime | None = None,
    existing: Mapping[int, FeedbackItem] | None = None,
) -> None:
    """One feedback item per free-text answer, created or brought up to date with its answer.

    ``received_at`` defaults to when the response was submitted (or started): an import gives
    history its own dates, a respondent page passes now. An answer whose words changed is
    analysed again (sentiment, themes, safety); one that did not keeps its analysis.
    ``existing`` (answer id -> item) saves the lookup when the caller has read them already.
    """
    if not comments:
        return
    if existing is None:
        answer_ids = [answer.id for _, answer in comments]
        existing = {
            item.answer_id: item
            for item in session.scalars(
                select(FeedbackItem).where(one_of(session, FeedbackItem.answer_id, answer_ids))
            )
            if item.answer_id is not None
        }
    new_items: list[FeedbackItem] = []
    changed: list[FeedbackItem] = []
    for response, answer in comments:
        words = answer.value_text or ""
        item = existing.get(answer.id)
        if item is None:
            item = FeedbackItem(
                source_kind="survey_comment",
                response_id=response.id,
                answer_id=answer.id,
                analysis_status=PENDING,
            )
            new_items.append(item)
        elif item.text != words:
            item.analysis_status = PENDING
            changed.append(item)
        item.text = words
        item.stakeholder_id = response.stakeholder_id
        item.received_at = received_at or response.submitted_at or response.started_at
        item.channel_code = response.channel_code
        item.language = response.language
    # Ids and timestamps known up front: one executemany, nothing read back (an import of
    # survey history writes thousands of comments in a batch).
    assign_ids(session, FeedbackItem, new_items)
    session.add_all(new_items)
    session.flush()
    note_written(session, [item.id for item in (*new_items, *changed)])


# The survey submit writes a response, its answers and their comments in one statement (one
# round trip on PostgreSQL). Its comment part is this module's, so the one writer stays one:
# the statement's RETURNING gives the new ids, which the caller passes to note_written.
SURVEY_COMMENTS_POSTGRESQL = """
new_comments AS (
    INSERT INTO feedback_items (source_kind, text, stakeholder_id, received_at, channel_code,
        language, response_id, answer_id, analysis_status)
    SELECT 'survey_comment', coalesce(new_answers.value_text, ''), NULL, :now,
        new_response.channel_code, :language, new_response.id, new_answers.id, 'pending'
    FROM new_answers
    JOIN questions ON questions.id = new_answers.question_id
        AND questions.question_type = 'text'
    CROSS JOIN new_response
    RETURNING id
)"""
SURVEY_COMMENTS_SQLITE = text(
    """
INSERT INTO feedback_items (source_kind, text, stakeholder_id, received_at, channel_code,
    language, response_id, answer_id, analysis_status)
SELECT 'survey_comment', coalesce(answers.value_text, ''), NULL, :now, :channel_code,
    :language, answers.response_id, answers.id, 'pending'
FROM answers
JOIN questions ON questions.id = answers.question_id AND questions.question_type = 'text'
WHERE answers.response_id = :response_id
RETURNING id
"""
).bindparams(bindparam("now", type_=DateTime()))


__all__ = [
    "ARRIVED",
    "SURVEY_COMMENTS_POSTGRESQL",
    "SURVEY_COMMENTS_SQLITE",
    "add_item",
    "arrived_ids",
    "forget_arrived",
    "insert_rows",
    "note_written",
    "take_arrived",
    "update_item",
    "write_comments",
]
