"""Whole responses in one request (``/s/{token}`` with JSON): the hot path of a survey wave.

An open link takes a survey's bursts (a QR code on a congress slide, a link in a newsletter):
thousands of respondents on one token within minutes. Its submit is checked against the
definition its respondents answer, kept per process for each open link it has served (a *plan*),
and then stored by one statement that also re-checks, in the store, everything the plan assumed:
the link is still open and unexpired, the survey not closed and still at the plan's version with
the same definition, and the respondent's key not used before. Nothing is looked up first and
nothing waits for a second round trip; on PostgreSQL that one statement (response, answers and
the comment's feedback item) commits by itself.

When the statement stores nothing (the link was closed, a version published, the key started a
response earlier, or the plan's definition refuses the answers), the request takes the general
path: the token is resolved afresh and the answers checked against what the store says now, so a
stale plan can never store or refuse anything on its own. Personal invitations and resumed
responses always take the general path (each token is used once; there is nothing to keep).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Engine, bindparam, text
from sqlalchemy.orm import Session

from cpxm.feedback import writer as feedback_writer
from cpxm.surveys.definition import SurveyDefinition
from cpxm.surveys.responding import (
    TOKEN_PATTERN,
    AnswerErrors,
    AnswerValue,
    InvalidLink,
    LinkNotOpen,
    Respondent,
    Submitted,
    check_answers,
    check_response,
    new_token,
    open_respondent,
    reserve_for_writing,
    store_response,
)


@dataclass(frozen=True)
class LinkPlan:
    """What an open link's respondents answer, as last read from the store."""

    version: int
    definition_text: str
    definition: SurveyDefinition


# (store, token) -> plan. Open links are few (a handful per survey); the bound only guards
# against a flood of distinct links in one process.
_PLANS: dict[tuple[str, str], LinkPlan] = {}
_PLANS_LIMIT = 1024
_PLANS_GUARD = threading.Lock()


def submit_whole_response(
    session: Session,
    *,
    token: str,
    fields: Mapping[str, list[str]],
    key: str | None,
    now: datetime,
) -> Submitted:
    """Check and store a whole response sent to ``token``; ``key`` is an open link respondent's
    own key (a resume token), so a repeated submit finds the response it started.

    Raises InvalidLink, LinkNotOpen or AnswerErrors; a response already complete is answered
    with ``stored=False`` (nothing is stored twice). The caller commits.
    """
    if not TOKEN_PATTERN.match(token):
        raise InvalidLink()
    resume_key = key if key and TOKEN_PATTERN.match(key) and key != token else None
    store = _store_of(session)
    plan = _PLANS.get((store, token))
    if plan is not None:
        submitted = _submit_by_plan(session, plan, token, fields, resume_key, now)
        if submitted is not None:
            return submitted
    respondent = respondent_for(session, token=token, key=resume_key, now=now)
    if respondent.state == "completed" and respondent.response is not None:
        return Submitted(respondent.response.id, respondent.response.status, stored=False)
    if respondent.link is not None and respondent.response is None:
        _remember(store, token, respondent)
    answers = check_response(session, respondent=respondent, fields=fields)
    if session.get_bind().dialect.name == "sqlite":
        # Everything is checked: end the read and queue for SQLite's one writer only now, so
        # the checks of one request never hold up the writes of the others.
        session.commit()
        reserve_for_writing(session)
    return store_response(
        session, respondent=respondent, answers=answers, now=now, resume_token=resume_key
    )


def respondent_for(session: Session, *, token: str, key: str | None, now: datetime) -> Respondent:
    """The respondent answering through ``token``; on an open link, ``key`` (the respondent's
    key) finds the response a repeated first save started. Raises InvalidLink or LinkNotOpen."""
    resume_key = key if key and TOKEN_PATTERN.match(key) and key != token else None
    respondent = open_respondent(session, token=token, now=now, resume_key=resume_key)
    if respondent.resumes and resume_key is not None:
        resumed = open_respondent(session, token=resume_key, now=now)
        if resumed.link is not None and resumed.link.token == token:
            return resumed
        raise InvalidLink()
    if respondent.state != "open" and respondent.state != "completed":
        raise LinkNotOpen(respondent.state)
    return respondent


def _store_of(session: Session) -> str:
    return str(session.get_bind().engine.url)


def _remember(store: str, token: str, respondent: Respondent) -> None:
    stored = respondent.definition_text
    if stored is None:
        return
    plan = LinkPlan(respondent.version, stored, respondent.definition)
    with _PLANS_GUARD:
        if len(_PLANS) >= _PLANS_LIMIT:
            _PLANS.clear()
        _PLANS[(store, token)] = plan


def _submit_by_plan(
    session: Session,
    plan: LinkPlan,
    token: str,
    fields: Mapping[str, list[str]],
    resume_key: str | None,
    now: datetime,
) -> Submitted | None:
    """Store a new response on the plan's assumptions, or None when they do not hold."""
    try:
        answers = check_answers(plan.definition, fields)
    except AnswerErrors:
        return None  # perhaps only the plan's version refuses them: ask the store
    values: dict[str, Any] = {
        "token": token,
        "version": plan.version,
        "definition": plan.definition_text,
        "resume_token": resume_key or new_token(),
        "language": plan.definition.default_language,
        "now": now,
        "answers": json.dumps(
            [
                {
                    "code": code,
                    "value_number": value.number,
                    "value_text": value.text,
                    "value_choices": value.choices,
                }
                for code, value in answers.items()
            ]
        ),
    }
    if session.get_bind().dialect.name == "postgresql":
        written = _write_postgresql(session, values)
    else:
        written = _write_sqlite(session, values, answers)
    if written is None:
        # End what the statement began (on PostgreSQL an autocommit connection), so the
        # general path reads and writes in a transaction of its own.
        session.rollback()
        return None
    response_id, comment_ids = written
    # The comments were written by the feedback writer's statement inside ours: noted for
    # screening once the caller commits, as every other feedback item is.
    feedback_writer.note_written(session, comment_ids)
    return Submitted(response_id, "complete", stored=True)


# The link as the plan assumes it, or no row: the guard of both engines' statements.
_OPEN_LINK = """
    SELECT survey_links.id AS link_id, survey_links.channel_code, surveys.id AS survey_id
    FROM survey_links
    JOIN surveys ON surveys.id = survey_links.survey_id
    JOIN survey_versions ON survey_versions.survey_id = surveys.id
        AND survey_versions.version = surveys.version
    WHERE survey_links.token = :token AND survey_links.closed_at IS NULL
        AND (survey_links.expires_at IS NULL OR survey_links.expires_at > :now)
        AND surveys.status <> 'closed' AND surveys.version = :version
        AND {definition} = :definition
"""

# One statement, one round trip: the guard, the response (ON CONFLICT DO NOTHING: a key used
# before stores nothing), its answers matched to their questions by code, and a feedback item
# for each free-text answer. It returns no row when nothing was stored.
_WRITE_POSTGRESQL = text(
    "WITH target AS ("  # noqa: S608 (constant text only)
    + _OPEN_LINK.format(definition="CAST(survey_versions.definition AS text)")
    + """
), new_response AS (
    INSERT INTO responses (survey_id, survey_version, channel_code, open_link_id, resume_token,
        language, status, started_at, submitted_at, updated_at)
    SELECT target.survey_id, :version, target.channel_code, target.link_id, :resume_token,
        :language, 'complete', :now, :now, :now
    FROM target
    ON CONFLICT DO NOTHING
    RETURNING id, survey_id, channel_code
), new_answers AS (
    INSERT INTO answers (response_id, question_id, value_number, value_text, value_choices)
    SELECT new_response.id, questions.id, given.value_number, given.value_text,
        given.value_choices
    FROM new_response
    CROSS JOIN json_to_recordset(CAST(:answers AS json)) AS given(
        code text, value_number float8, value_text text, value_choices json)
    JOIN questions ON questions.survey_id = new_response.survey_id
        AND questions.code = given.code
    RETURNING id, question_id, value_text
),"""
    + feedback_writer.SURVEY_COMMENTS_POSTGRESQL
    + """
SELECT new_response.id, (SELECT array_agg(id) FROM new_comments) FROM new_response
"""
).bindparams(bindparam("now", type_=DateTime()))


def _write_postgresql(session: Session, values: Mapping[str, Any]) -> tuple[int, list[int]] | None:
    if not session.in_transaction() and isinstance(session.get_bind(), Engine):
        # One statement is its own transaction: no BEGIN and COMMIT round trips around it.
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    row = session.execute(_WRITE_POSTGRESQL, values).first()
    return None if row is None else (int(row[0]), list(row[1] or ()))


_RESPONSE_SQLITE = text(
    """
INSERT INTO responses (survey_id, survey_version, channel_code, open_link_id, resume_token,
    language, status, started_at, submitted_at, updated_at)
SELECT target.survey_id, :version, target.channel_code, target.link_id, :resume_token,
    :language, 'complete', :now, :now, :now
FROM ("""
    + _OPEN_LINK.format(definition="CAST(survey_versions.definition AS TEXT)")
    + """) AS target
WHERE true
ON CONFLICT DO NOTHING
RETURNING id, survey_id, channel_code
"""
).bindparams(bindparam("now", type_=DateTime()))
_ANSWERS_SQLITE = text(
    """
INSERT INTO answers (response_id, question_id, value_number, value_text, value_choices)
SELECT :response_id, questions.id, json_extract(given.value, '$.value_number'),
    json_extract(given.value, '$.value_text'), json_extract(given.value, '$.value_choices')
FROM json_each(:answers) AS given
JOIN questions ON questions.survey_id = :survey_id
    AND questions.code = json_extract(given.value, '$.code')
"""
)


def _write_sqlite(
    session: Session, values: Mapping[str, Any], answers: Mapping[str, AnswerValue]
) -> tuple[int, list[int]] | None:
    # In-process statements cost no round trip; what matters is holding the one writer lock
    # for as short a time as possible: only the three inserts, nothing read before them.
    reserve_for_writing(session)
    row = session.execute(_RESPONSE_SQLITE, values).first()
    if row is None:
        return None
    response_id, survey_id, channel_code = row
    session.execute(
        _ANSWERS_SQLITE,
        {"response_id": response_id, "survey_id": survey_id, "answers": values["answers"]},
    )
    comment_ids = session.scalars(
        feedback_writer.SURVEY_COMMENTS_SQLITE,
        {
            "response_id": response_id,
            "channel_code": channel_code,
            "language": values["language"],
            "now": values["now"],
        },
    ).all()
    return int(response_id), list(comment_ids)


__all__ = ["LinkPlan", "respondent_for", "submit_whole_response"]
