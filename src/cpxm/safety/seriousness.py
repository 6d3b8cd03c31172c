"""Seriousness triage per ICH E2A: which of the six criteria a case's words suggest.

The criteria are death, life-threatening, (prolonged) hospitalisation, persistent or significant
disability or incapacity, congenital anomaly or birth defect, and other medically important
events (judged by PV; here: events on the kinds of lists PV uses for that judgement, such as
seizures, anaphylaxis, strokes, suicidal thoughts and emergency visits). This is a *triage*: it
flags cases so serious ones are read first and get the short hand-off clock; a PV officer
confirms or corrects the criteria on the case (``set_seriousness``), and the correction wins.
Recall comes first: words that may describe a criterion flag it, unless the clause negates them
("was not admitted").

Levels: 2 fatal or life-threatening (7-day hand-off), 1 serious (15 days), 0 non-serious.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SERIOUSNESS_CRITERIA = (
    "death",
    "life_threatening",
    "hospitalisation",
    "disability",
    "congenital_anomaly",
    "medically_important",
)
_WORD = r"(?<![\w-])(?:{})(?![\w-])"

_PATTERNS: dict[str, re.Pattern[str]] = {
    criterion: re.compile(_WORD.format("|".join(words)), re.IGNORECASE)
    for criterion, words in {
        "death": [
            r"died",
            r"death",
            r"passed away",
            r"fatal(?:ly)?",
            r"deceased",
            r"killed (?:him|her|them|my \w+)",
            r"verstorben",
            r"gestorben",
            r"décédée?",
            r"est mort",
            r"falleci(?:ó|do|da)",
            r"murió",
            r"死亡",
            r"亡くな",
        ],
        "life_threatening": [
            r"life[- ]threatening",
            r"(?:nearly|almost|could have) (?:died|killed me|been killed)",
            r"almost lost (?:him|her|my life)",
            r"thought I (?:was going to|would) die",
            r"resuscitat\w*",
            r"cpr",
            r"stopped breathing",
            r"anaphylactic shock",
            r"intensive care",
            r"icu",
            r"lebensbedrohlich",
            r"danger de mort",
            r"potencialmente mortal",
        ],
        "hospitalisation": [
            r"hospitali[sz]\w*",
            r"(?:was|were|got|been|be) admitted",
            r"admitted (?:to|into) (?:the )?(?:hospital|ward|icu|clinic)",
            r"(?:in|into|to) (?:the )?hospital(?! pharmacy)",
            r"hospital (?:stay|admission|bed)",
            r"(?:kept|stayed|spent \w+ (?:days?|nights?)) in (?:the )?hospital",
            r"inpatient",
            r"krankenhaus",
            r"klinik aufgenommen",
            r"hospitalisée?",
            r"hospitalizad[oa]",
            r"入院",
        ],
        "disability": [
            r"disabled",
            r"disability",
            r"incapacit\w*",
            r"permanent(?:ly)? (?:damage\w*|disabled|blind|deaf|numb\w*|loss|lost)",
            r"paraly[sz]\w*",
            r"went blind",
            r"lost (?:my|his|her) (?:sight|vision|hearing)",
            r"can(?:no|')t walk (?:any ?more|again)",
            r"can no longer (?:walk|work|see|hear)",
            r"unable to work",
            r"bedridden",
            r"behindert\w*",
            r"invalidité",
        ],
        "congenital_anomaly": [
            r"birth defects?",
            r"congenital",
            r"malformations?",
            r"(?:baby|son|daughter|child|infant) (?:was )?born with",
            r"fehlbildung\w*",
            r"malformación",
            r"先天",
        ],
        "medically_important": [
            r"seizures?",
            r"convulsions?",
            r"anaphyla\w*",
            r"stroke",
            r"heart attack",
            r"myocardial infarction",
            r"cardiac arrest",
            r"suicid\w*",
            r"overdose[sd]?",
            r"liver (?:failure|damage|injury)",
            r"kidney (?:failure|damage)",
            r"renal failure",
            r"pancreatitis",
            r"stevens[- ]johnson",
            r"blood clots?",
            r"pulmonary embolism",
            r"dvt",
            r"deep vein thrombosis",
            r"agranulocytosis",
            r"angioedema",
            r"emergency room",
            r"emergency department",
            r"a ?& ?e",
            r"er visit",
            r"ambulance",
            r"krampfanfall",
            r"crise d'épilepsie",
            r"convulsiones",
            r"けいれん",
        ],
    }.items()
}
# A clause that negates what follows: "was not admitted", "no hospital stay", "without a seizure".
_NEGATION_BEFORE = re.compile(
    r"(?<!\w)(?:no|not|never|without|nor|didn't|did not|wasn't|was not|weren't|haven't|hasn't|"
    r"n't|kein\w*|nicht|pas|jamais|sin|nunca)(?:\s+[\w'’]+){0,3}\s*$",
    re.IGNORECASE,
)
# "almost died" is life-threatening, not death.
_NEAR_MISS_BEFORE = re.compile(
    r"(?<!\w)(?:almost|nearly|could have|would have|might have|thought I (?:was going to|would))"
    r"\s*$",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(r"[.!?;:,。！？\n]|\b(?:but|and then|however|aber|mais|pero)\b", re.I)


def assess(texts: Iterable[str]) -> list[str]:
    """The criteria the texts' words suggest, in ``SERIOUSNESS_CRITERIA`` order."""
    found: set[str] = set()
    for text in texts:
        for criterion, pattern in _PATTERNS.items():
            if criterion in found:
                continue
            for match in pattern.finditer(text):
                clause = _CLAUSE_BREAK.split(text[: match.start()])[-1]
                if criterion == "death" and _NEAR_MISS_BEFORE.search(clause):
                    continue
                if not _NEGATION_BEFORE.search(clause):
                    found.add(criterion)
                    break
    return [criterion for criterion in SERIOUSNESS_CRITERIA if criterion in found]


def level(criteria: Iterable[str]) -> int:
    """2 fatal or life-threatening, 1 any other criterion, 0 none."""
    chosen = set(criteria)
    if chosen & {"death", "life_threatening"}:
        return 2
    return 1 if chosen else 0


def check_criteria(criteria: Iterable[str]) -> list[str]:
    """``criteria`` in canonical order; ValueError naming any unknown one."""
    chosen = set(criteria)
    unknown = sorted(chosen - set(SERIOUSNESS_CRITERIA))
    if unknown:
        raise ValueError(
            f"seriousness criterion '{unknown[0]}' is unknown; expected any of "
            + ", ".join(SERIOUSNESS_CRITERIA)
        )
    return [criterion for criterion in SERIOUSNESS_CRITERIA if criterion in chosen]
