"""A survey's definition: the JSON / YAML document a CX lead writes, validated before it is stored.

One document describes one version of a survey: its pages, questions (NPS, CSAT, CES, ratings,
choices, free text, matrix, Kano pairs, patient-reported experience items), display logic, the
names piped into prompts, its languages and its audience. Texts are either one string or a map
of language -> string; a respondent's language falls back to the survey's default language.
"""

from __future__ import annotations

import json
import re
import string
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cpxm.errors import DomainError
from cpxm.stakeholders.models import STAKEHOLDER_TYPES
from cpxm.surveys.models import SCORE_SCALES

# Names a prompt may pipe in with {first_name}: the respondent's own, never other people's data.
PIPED_NAMES = ("first_name", "last_name", "display_name", "survey_name", "company")
# The five standard answers to each half of a Kano pair (Kano et al., 1984).
KANO_ANSWERS = ("like", "expect", "neutral", "tolerate", "dislike")
# Kano's evaluation table: (functional, dysfunctional) -> category. A attractive, O one-dimensional,
# M must-be, I indifferent, R reverse, Q questionable (contradictory answers).
_KANO_TABLE = {
    "like": ("Q", "A", "A", "A", "O"),
    "expect": ("R", "I", "I", "I", "M"),
    "neutral": ("R", "I", "I", "I", "M"),
    "tolerate": ("R", "I", "I", "I", "M"),
    "dislike": ("R", "R", "R", "R", "Q"),
}
MAX_TEXT_LENGTH = 5000  # the longest free-text answer any question accepts
CODE_PATTERN = r"^[a-z][a-z0-9_]{0,79}$"

Text = str | dict[str, str]


# Kinds of survey that are confidential unless their definition says otherwise.
CONFIDENTIAL_BY_DEFAULT = frozenset({"employee_pulse"})


class DefinitionError(DomainError):
    """A definition that cannot be stored; ``detail`` lists every fault with where it is."""

    status_code = 422


class Choice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Annotated[str, Field(min_length=1, max_length=80)]
    label: Text


class ShowIf(BaseModel):
    """Show a question only when an earlier answer matches ``equals``, ``in``, ``min``/``max``."""

    model_config = ConfigDict(extra="forbid")

    question: str
    equals: str | float | None = None
    any_of: Annotated[list[str | float] | None, Field(alias="in")] = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> ShowIf:
        if self.equals is None and self.any_of is None and self.min is None and self.max is None:
            raise ValueError("give a condition: equals, in, min or max")
        return self


class QuestionDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    code: Annotated[str, Field(pattern=CODE_PATTERN)]
    type: Literal[
        "nps",
        "csat",
        "ces",
        "rating",
        "single_choice",
        "multiple_choice",
        "text",
        "matrix",
        "kano",
        "prem",
    ]
    prompt: Text
    help: Text | None = None
    required: bool = False
    # rating and matrix scales; NPS, CSAT and CES have fixed scales and may not change them
    min: int | None = None
    max: int | None = None
    min_label: Text | None = None
    max_label: Text | None = None
    choices: list[Choice] | None = None  # single/multiple choice and prem
    rows: list[Choice] | None = None  # matrix rows, each answered on the scale
    functional: Text | None = None  # kano: "If the feature is there, how do you feel?"
    dysfunctional: Text | None = None  # kano: "If the feature is not there, ..."
    max_length: Annotated[int, Field(ge=1, le=MAX_TEXT_LENGTH)] = 2000
    show_if: ShowIf | None = None


class PageDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text | None = None
    questions: Annotated[list[QuestionDefinition], Field(min_length=1)]


class Audience(BaseModel):
    model_config = ConfigDict(extra="allow")

    stakeholder_types: list[str] = []
    therapeutic_areas: list[str] = []
    countries: list[str] = []


class Trigger(BaseModel):
    """Invite automatically some days after a kind of contact ("3 days after an MSL visit")."""

    model_config = ConfigDict(extra="forbid")

    interaction_types: Annotated[list[str], Field(min_length=1)]
    days_after: Annotated[int, Field(ge=0, le=90)] = 3
    channel: str = "email"
    expires_days: Annotated[int, Field(ge=1, le=365)] = 14


class Schedule(BaseModel):
    """Waves on a calendar ("the pulse, every quarter from February, on the 1st"): each due
    wave is named after its month and sent through the same consent and fatigue rules."""

    model_config = ConfigDict(extra="forbid")

    start: Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]  # the first wave's month
    every_months: Annotated[int, Field(ge=1, le=12)] = 3
    day: Annotated[int, Field(ge=1, le=28)] = 1
    channel: str = "email"
    expires_days: Annotated[int, Field(ge=1, le=365)] = 14

    def wave_due(self, today: date) -> str | None:
        """The wave due on ``today`` (its month, ``YYYY-MM``), or None between waves."""
        year, month = (int(part) for part in self.start.split("-"))
        since = (today.year - year) * 12 + today.month - month
        if since < 0 or since % self.every_months or today.day < self.day:
            return None
        return f"{today:%Y-%m}"


class SurveyDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(pattern=CODE_PATTERN)]
    name: Text
    kind: Annotated[str, Field(min_length=1, max_length=40)] = "relationship"
    status: Literal["draft", "active", "closed"] = "draft"
    default_language: Annotated[str, Field(min_length=2, max_length=8)] = "en"
    languages: list[str] = []
    introduction: Text | None = None
    thank_you: Text | None = None
    audience: Audience = Audience()
    trigger: Trigger | None = None
    schedule: Schedule | None = None
    # Answers only as figures over groups, never linked to a person, never a case
    # (cpxm.access.confidential); unset: confidential when the kind is the employee pulse.
    confidential: bool | None = None
    pages: Annotated[list[PageDefinition], Field(min_length=1)]

    @property
    def is_confidential(self) -> bool:
        if self.confidential is not None:
            return self.confidential
        return self.kind in CONFIDENTIAL_BY_DEFAULT

    def questions(self) -> list[tuple[int, QuestionDefinition]]:
        """Every question with its page number (1-based), in order."""
        return [
            (number, question)
            for number, page in enumerate(self.pages, start=1)
            for question in page.questions
        ]

    def all_languages(self) -> list[str]:
        return [self.default_language, *(x for x in self.languages if x != self.default_language)]


def parse_definition(document: dict[str, Any]) -> SurveyDefinition:
    """Validate a definition document; every fault is listed in one DefinitionError."""
    try:
        definition = SurveyDefinition.model_validate(document)
    except ValidationError as error:
        raise DefinitionError(
            [
                {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}
                for item in error.errors(include_url=False, include_input=False)
            ]
        ) from None
    faults = _semantic_faults(definition)
    if faults:
        raise DefinitionError(faults)
    return definition


def load_definition_file(path: Path) -> dict[str, Any]:
    """Read a JSON or YAML definition file (by its suffix; YAML is a superset of JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DefinitionError(f"cannot read {path}: {error.strerror}") from None
    try:
        document = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise DefinitionError(f"{path} is not valid JSON/YAML: {error}") from None
    if not isinstance(document, dict):
        raise DefinitionError(f"{path} must hold one survey definition (a mapping)")
    return document


def _semantic_faults(definition: SurveyDefinition) -> list[dict[str, Any]]:
    faults: list[dict[str, Any]] = []

    def fault(loc: list[str | int], message: str) -> None:
        faults.append({"loc": loc, "msg": message, "type": "definition"})

    unknown_types = sorted(set(definition.audience.stakeholder_types) - set(STAKEHOLDER_TYPES))
    if unknown_types:
        fault(["audience", "stakeholder_types"], f"unknown stakeholder types: {unknown_types}")
    languages = definition.all_languages()
    seen: dict[str, QuestionDefinition] = {}
    for page_index, page in enumerate(definition.pages):
        for index, question in enumerate(page.questions):
            where: list[str | int] = ["pages", page_index, "questions", index]
            if question.code in seen:
                fault([*where, "code"], f"question code '{question.code}' is used twice")
            for message in _question_faults(question, seen, languages):
                fault(where, message)
            seen[question.code] = question
    for field_name in ("name", "introduction", "thank_you"):
        for message in _text_faults(getattr(definition, field_name), languages):
            fault([field_name], message)
    return faults


def _question_faults(
    question: QuestionDefinition, earlier: dict[str, QuestionDefinition], languages: list[str]
) -> list[str]:
    faults: list[str] = []
    fixed = SCORE_SCALES.get(question.type)
    if fixed is not None and (question.min, question.max) not in ((None, None), fixed):
        faults.append(f"{question.type} is always answered {fixed[0]} to {fixed[1]}")
    if question.type in ("rating", "matrix"):
        if question.min is None or question.max is None:
            faults.append(f"a {question.type} question needs min and max")
        elif not question.min < question.max or question.max - question.min > 20:
            faults.append("min must be below max, at most 20 steps apart")
    needs_choices = question.type in ("single_choice", "multiple_choice", "prem")
    if needs_choices and not question.choices:
        faults.append(f"a {question.type} question needs choices")
    if question.choices and len({c.value for c in question.choices}) != len(question.choices):
        faults.append("choice values must be unique")
    if question.type == "matrix" and not question.rows:
        faults.append("a matrix question needs rows")
    if question.type == "kano" and (question.functional is None or question.dysfunctional is None):
        faults.append("a kano question needs its functional and dysfunctional form")
    for text in (question.prompt, question.help, question.functional, question.dysfunctional):
        faults.extend(_text_faults(text, languages))
    if question.show_if is not None:
        target = earlier.get(question.show_if.question)
        if target is None:
            faults.append(
                f"show_if names '{question.show_if.question}', which is not asked before "
                "this question"
            )
        elif target.type in ("text", "matrix", "kano"):
            faults.append(f"show_if cannot test a {target.type} answer")
    return faults


def _text_faults(text: Text | None, languages: list[str]) -> list[str]:
    if text is None:
        return []
    texts = text.values() if isinstance(text, dict) else [text]
    faults = []
    if isinstance(text, dict) and languages[0] not in text:
        faults.append(f"text has no '{languages[0]}' version, the survey's default language")
    for value in texts:
        for _literal, name, _spec, _conversion in string.Formatter().parse(value):
            if name is not None and name not in PIPED_NAMES:
                faults.append(
                    f"unknown name '{{{name}}}' piped into '{value[:60]}'; "
                    f"known: {', '.join(PIPED_NAMES)}"
                )
    return faults


def localise(text: Text | None, language: str, fallback: str) -> str:
    """The text in ``language``, else in the fallback language, else its first version."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    return text.get(language) or text.get(fallback) or next(iter(text.values()), "")


_PLACEHOLDER = re.compile(r"\{(" + "|".join(PIPED_NAMES) + r")\}")


_NAME = r"\{(?P<name>" + "|".join(PIPED_NAMES) + r")\}"
# A salutation at a sentence's start ("Dear {first_name}, "), and a name ending a clause
# (", {first_name}!"): with the name missing (an open link knows nobody) both go, so nobody
# reads "Dear , this takes three minutes."
_SALUTATION = re.compile(r"(?:^|(?<=[.!?]\s))[^.,!?{}\n]{0,30}" + _NAME + r"[^.,!?{}\n]{0,10},\s*")
_TRAILING_NAME = re.compile(r",\s*" + _NAME + r"(?=\s*[.!?]|\s*$)")
_CAPITALISE = "\x00"


def pipe_names(text: str, names: dict[str, str]) -> str:
    """Fill ``{first_name}``-style placeholders; a missing name is left out with the salutation
    or comma around it ("Dear {first_name}, this ..." reads "This ..."), never an error."""

    def unless_named(replacement: str) -> Any:
        def replace(match: re.Match[str]) -> str:
            return match.group(0) if names.get(match.group("name")) else replacement

        return replace

    text = _SALUTATION.sub(unless_named(_CAPITALISE), text)
    text = _TRAILING_NAME.sub(unless_named(""), text)
    text = re.sub(_CAPITALISE + "(.?)", lambda match: match.group(1).upper(), text)
    filled = _PLACEHOLDER.sub(lambda match: names.get(match.group(1), ""), text)
    return re.sub(r" {2,}", " ", filled) if filled != text else filled


def kano_category(functional: str, dysfunctional: str) -> str:
    """Kano's category for one answered pair (A, O, M, I, R or Q)."""
    return _KANO_TABLE[functional][KANO_ANSWERS.index(dysfunctional)]


def question_options(question: QuestionDefinition, page: int) -> dict[str, Any]:
    """What a question row keeps besides code, type, prompt and required (its whole definition)."""
    options = question.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude={"code", "type", "required"}
    )
    options["page"] = page
    fixed = SCORE_SCALES.get(question.type)
    if fixed is not None:
        options["min"], options["max"] = fixed
    if question.choices:
        # The plain list the import path and analytics read (see cpxm.ingest.responses).
        options["choices"] = [choice.value for choice in question.choices]
        options["choice_labels"] = {c.value: c.label for c in question.choices}
    return options


def definition_document(definition: SurveyDefinition) -> dict[str, Any]:
    """The definition as a plain JSON document, the form it is stored and exported in."""
    return definition.model_dump(mode="json", by_alias=True, exclude_none=True)
