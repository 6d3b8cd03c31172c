"""The survey page's definition editor: YAML text in, every fault with where it is, out.

Checks the same way saving does (``cpxm.surveys.definition.parse_definition``), so what the
editor calls valid is what ``cpxm survey create`` and ``POST /api/v1/surveys`` accept; it only
turns a fault's location (``["pages", 0, "questions", 2, "choices"]``) into words a person finds
in the text ("page 1, question 3 'visit_rating': choices").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from cpxm.surveys.definition import DefinitionError, SurveyDefinition, parse_definition

MAX_DEFINITION_CHARACTERS = 200_000
# libyaml's loader when PyYAML was built with it: the check runs on every pause in typing.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Fault:
    where: str
    message: str


@dataclass
class Checked:
    document: dict[str, Any] | None = None
    definition: SurveyDefinition | None = None
    faults: list[Fault] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """What the definition holds, in a line, once it is valid."""
        if self.definition is None:
            return ""
        questions = self.definition.questions()
        types = sorted({question.type for _page, question in questions})
        logic = sum(question.show_if is not None for _page, question in questions)
        return (
            f"{len(self.definition.pages)} page(s), {len(questions)} question(s) "
            f"({', '.join(types)}), {logic} with display logic, "
            f"languages: {', '.join(self.definition.all_languages())}"
        )


def check_text(text: str) -> Checked:
    """Parse ``text`` (YAML or JSON) and check it as a survey definition."""
    if len(text) > MAX_DEFINITION_CHARACTERS:
        return Checked(
            faults=[
                Fault(
                    "the text",
                    f"is {len(text):,} characters; a definition may have at most "
                    f"{MAX_DEFINITION_CHARACTERS:,}",
                )
            ]
        )
    try:
        document = yaml.load(text, Loader=_LOADER) if text.strip() else None  # noqa: S506
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "the text"
        problem = getattr(error, "problem", None) or str(error)
        return Checked(faults=[Fault(where, f"is not valid YAML: {problem}")])
    if not isinstance(document, dict):
        return Checked(
            faults=[Fault("the text", "must be one survey definition: code, name, pages, ...")]
        )
    try:
        definition = parse_definition(document)
    except DefinitionError as error:
        return Checked(document=document, faults=faults_of(error, document))
    return Checked(document=document, definition=definition)


def faults_of(error: DefinitionError, document: dict[str, Any]) -> list[Fault]:
    detail = error.detail
    if isinstance(detail, str):
        return [Fault("the definition", detail)]
    return [
        Fault(describe_location(document, list(item.get("loc", []))), str(item.get("msg", "")))
        for item in detail
        if isinstance(item, dict)
    ]


def describe_location(document: dict[str, Any], loc: list[Any]) -> str:
    """``["pages", 0, "questions", 2, "code"]`` as "page 1, question 3 'nps': code"."""
    words: list[str] = []
    node: Any = document
    index = 0
    while index < len(loc):
        part = loc[index]
        following = loc[index + 1] if index + 1 < len(loc) else None
        if part in ("pages", "questions", "choices", "rows") and isinstance(following, int):
            item = node[part][following] if _has(node, part, following) else None
            label = {"pages": "page", "questions": "question", "choices": "choice", "rows": "row"}
            text = f"{label[part]} {following + 1}"
            if isinstance(item, dict) and isinstance(item.get("code"), str):
                text += f" '{item['code']}'"
            words.append(text)
            node = item
            index += 2
            continue
        words.append(str(part))
        node = node.get(part) if isinstance(node, dict) else None
        index += 1
    if not words:
        return "the definition"
    last_is_field = bool(loc) and not isinstance(loc[-1], int)
    if not last_is_field or len(words) == 1:
        return ", ".join(words)
    *path, last = words
    return f"{', '.join(path)}: {last}"


def _has(node: Any, key: str, position: int) -> bool:
    return (
        isinstance(node, dict)
        and isinstance(node.get(key), list)
        and 0 <= position < len(node[key])
    )


def as_text(document: dict[str, Any]) -> str:
    """A definition as the YAML the editor shows (keys in the order they were written)."""
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


# A new survey starts from this: one of every question type, two languages side by side, and
# display logic, so the editor shows how each is written.
STARTER = """\
code: site_visit_pulse
name:
  en: Your visit from our team
  de: Ihr Besuch von unserem Team
kind: transactional
status: draft
default_language: en
languages: [en, de]
introduction:
  en: "Dear {first_name}, this takes about three minutes."
  de: "Guten Tag {first_name}, das dauert etwa drei Minuten."
thank_you:
  en: Thank you. Your answers help us improve.
  de: Danke. Ihre Antworten helfen uns, besser zu werden.
audience:
  stakeholder_types: [hcp]
  countries: []
  therapeutic_areas: []
pages:
  - title: {en: "Overall", de: "Insgesamt"}
    questions:
      - code: nps
        type: nps
        required: true
        prompt:
          en: How likely are you to recommend us to a colleague?
          de: Wie wahrscheinlich empfehlen Sie uns einem Kollegen?
      - code: nps_reason_low
        type: text
        prompt:
          en: What should we do better?
          de: Was sollten wir besser machen?
        show_if: {question: nps, max: 6}
      - code: satisfaction
        type: csat
        prompt:
          en: "How satisfied were you with the visit?"
          de: "Wie zufrieden waren Sie mit dem Besuch?"
      - code: effort
        type: ces
        prompt:
          en: "It was easy to get what I needed."
          de: "Es war einfach, das Nötige zu bekommen."
  - title: {en: "Details", de: "Details"}
    questions:
      - code: usefulness
        type: rating
        min: 1
        max: 5
        min_label: {en: "Not useful", de: "Nicht hilfreich"}
        max_label: {en: "Very useful", de: "Sehr hilfreich"}
        prompt:
          en: "How useful was the information?"
          de: "Wie hilfreich waren die Informationen?"
      - code: topic
        type: single_choice
        prompt: {en: "What was the main topic?", de: "Was war das Hauptthema?"}
        choices:
          - {value: dosing, label: {en: "Dosing", de: "Dosierung"}}
          - {value: safety, label: {en: "Safety", de: "Sicherheit"}}
          - {value: access, label: {en: "Access and reimbursement", de: "Zugang und Erstattung"}}
      - code: materials
        type: multiple_choice
        prompt:
          en: "Which materials did you receive?"
          de: "Welche Materialien haben Sie erhalten?"
        choices:
          - {value: leaflet, label: {en: "Leaflet", de: "Broschüre"}}
          - {value: samples, label: {en: "Samples", de: "Muster"}}
      - code: aspects
        type: matrix
        min: 1
        max: 5
        prompt: {en: "Rate each aspect.", de: "Bewerten Sie jeden Aspekt."}
        rows:
          - {value: punctuality, label: {en: "Punctuality", de: "Pünktlichkeit"}}
          - {value: knowledge, label: {en: "Knowledge", de: "Fachwissen"}}
      - code: portal_kano
        type: kano
        prompt: {en: "An online ordering portal", de: "Ein Online-Bestellportal"}
        functional:
          en: "If we offered it, how would you feel?"
          de: "Wenn wir es anbieten, wie fänden Sie das?"
        dysfunctional:
          en: "If we did not offer it, how would you feel?"
          de: "Wenn nicht, wie fänden Sie das?"
      - code: listened
        type: prem
        prompt: {en: "Did the team listen to you?", de: "Hat das Team Ihnen zugehört?"}
        choices:
          - {value: "yes", label: {en: "Yes, always", de: "Ja, immer"}}
          - {value: sometimes, label: {en: "Sometimes", de: "Manchmal"}}
          - {value: "no", label: {en: "No", de: "Nein"}}
"""
