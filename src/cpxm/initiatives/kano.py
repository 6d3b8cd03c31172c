"""Kano analysis of the Kano questions about an initiative's features.

Each answered pair (functional, dysfunctional) is classified by Kano's evaluation table
(``cpxm.surveys.definition.kano_category``): A attractive, O one-dimensional (performance),
M must-be, I indifferent, R reverse, Q questionable. Per feature:

- category shares over the valid pairs;
- its category: the most frequent, ties broken M > O > A > I (Berger et al., 1993: fix what
  is expected before what delights);
- Berger's customer-satisfaction coefficients, Better = (A + O) / (A + O + M + I) and
  Worse = -(O + M) / (A + O + M + I);
- the 5 x 5 evaluation table: how many respondents gave each (functional, dysfunctional) pair.

A feature answered by fewer people than the workspace's minimum cell size shows its count only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from cpxm.access import cells
from cpxm.initiatives.models import Initiative
from cpxm.initiatives.scope import in_scope
from cpxm.surveys.definition import KANO_ANSWERS, kano_category
from cpxm.surveys.models import Answer, Question, Response, Survey

CATEGORIES = ("A", "O", "M", "I", "R", "Q")
CATEGORY_NAMES = {
    "A": "Attractive",
    "O": "One-dimensional",
    "M": "Must-be",
    "I": "Indifferent",
    "R": "Reverse",
    "Q": "Questionable",
}
TIE_ORDER = ("M", "O", "A", "I", "R", "Q")


@dataclass(frozen=True)
class KanoFeature:
    code: str
    label: str
    n: int  # valid answered pairs
    suppressed: bool
    counts: dict[str, int | None]
    shares: dict[str, float | None]  # percent
    category: str | None
    better: float | None
    worse: float | None
    # functional answer -> dysfunctional answer -> respondents (None when suppressed)
    table: dict[str, dict[str, int | None]]


@dataclass(frozen=True)
class KanoReport:
    survey: str | None
    features: list[KanoFeature]
    evaluation_table: dict[str, dict[str, str]]  # Kano's table: (functional, dysfunctional)


def evaluation_table() -> dict[str, dict[str, str]]:
    """Kano's standard evaluation table, as the page prints it."""
    return {
        functional: {
            dysfunctional: kano_category(functional, dysfunctional)
            for dysfunctional in KANO_ANSWERS
        }
        for functional in KANO_ANSWERS
    }


def kano_report(session: Session, initiative: Initiative) -> KanoReport:
    """Kano figures of the initiative's Kano questions, over the stakeholders in its scope."""
    codes = list(initiative.kano_questions or [])
    if not (initiative.kano_survey_code and codes):
        return KanoReport(None, [], evaluation_table())
    questions = {
        question.code: question
        for question in session.scalars(
            select(Question)
            .join(Survey, Survey.id == Question.survey_id)
            .where(
                Survey.code == initiative.kano_survey_code,
                Question.code.in_(codes),
                Question.question_type == "kano",
            )
        )
    }
    rows = (
        session.execute(
            # As text: PostgreSQL's json type has no equality to group by.
            select(Answer.question_id, cast(Answer.value_choices, Text), func.count())
            .join(Response, Response.id == Answer.response_id)
            .where(
                Answer.question_id.in_([question.id for question in questions.values()]),
                Response.status == "complete",
                *in_scope(initiative, Response.stakeholder_id),
            )
            .group_by(Answer.question_id, cast(Answer.value_choices, Text))
        ).all()
        if questions
        else []
    )
    pairs: dict[int, dict[tuple[str, str], int]] = {}
    for question_id, choices, count in rows:
        pair = _pair(choices)
        if pair is not None:
            found = pairs.setdefault(question_id, {})
            found[pair] = found.get(pair, 0) + int(count)
    floor = cells.min_cell_size(session)
    features = [
        _feature(code, questions[code], pairs.get(questions[code].id, {}), floor)
        for code in codes
        if code in questions
    ]
    return KanoReport(initiative.kano_survey_code, features, evaluation_table())


def _pair(stored: Any) -> tuple[str, str] | None:
    try:
        choices = json.loads(stored) if isinstance(stored, str) else stored
    except ValueError:
        return None
    if not isinstance(choices, list) or len(choices) != 2:
        return None
    functional, dysfunctional = (str(choice) for choice in choices)
    if functional not in KANO_ANSWERS or dysfunctional not in KANO_ANSWERS:
        return None
    return functional, dysfunctional


def _feature(
    code: str, question: Question, pairs: dict[tuple[str, str], int], floor: int
) -> KanoFeature:
    counts = dict.fromkeys(CATEGORIES, 0)
    for (functional, dysfunctional), count in pairs.items():
        counts[kano_category(functional, dysfunctional)] += count
    n = sum(counts.values())
    label = question.prompt
    if n < floor:
        return KanoFeature(
            code, label, n, True, dict.fromkeys(CATEGORIES), dict.fromkeys(CATEGORIES), None,
            None, None,
            {f: dict.fromkeys(KANO_ANSWERS) for f in KANO_ANSWERS},
        )  # fmt: skip
    shares: dict[str, float | None] = {c: 100 * counts[c] / n for c in CATEGORIES}
    category = max(TIE_ORDER, key=lambda c: (counts[c], -TIE_ORDER.index(c)))
    classified = counts["A"] + counts["O"] + counts["M"] + counts["I"]
    better = (counts["A"] + counts["O"]) / classified if classified else None
    worse = -(counts["O"] + counts["M"]) / classified if classified else None
    table: dict[str, dict[str, int | None]] = {
        functional: {
            dysfunctional: pairs.get((functional, dysfunctional), 0)
            for dysfunctional in KANO_ANSWERS
        }
        for functional in KANO_ANSWERS
    }
    return KanoFeature(code, label, n, False, dict(counts), shares, category, better, worse, table)
