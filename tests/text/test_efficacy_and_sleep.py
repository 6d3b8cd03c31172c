"""Lack of efficacy as patients say it, and sleep (issue 18, item 1).

The phrasings here are written for CPXM from general usage, not taken from the Drugs.com
reviews the detector is measured on."""

from __future__ import annotations

import pytest

from cpxm.text import build_catalogue
from cpxm.text.safety import SafetyResult, detect_safety

CATALOGUE = build_catalogue([("cardiaz", "Cardiaz", "semlotrapib")])


def efficacy(result: SafetyResult) -> list[tuple[bool, str | None]]:
    return [(m.reportable, m.reason) for m in result.mentions if m.subtype == "lack_of_efficacy"]


@pytest.mark.parametrize(
    "phrase",
    [
        "Stopped working after two months.",
        "It never worked for me.",
        "It did absolutely nothing for my pain.",
        "Worked great for a year, then it quit working.",
        "It didn't even take the edge off.",
        "My symptoms came back after a month.",
        "Had zero effect.",
        "It was not strong enough.",
        "It made my depression worse.",
        "It worked for a week and then nothing.",
        # Session 11, also written from general usage.
        "It no longer works.",
        "I didn't notice any difference after a month.",
        "It never kicked in.",
        "Honestly it was like taking a sugar pill.",
        "It didn't relieve my pain at all.",
        "I still get breakthrough seizures.",
        "It hardly made a difference.",
        "It is not very effective.",
    ],
)
def test_lack_of_efficacy_in_patients_words_is_reported(phrase: str) -> None:
    result = detect_safety(f"I took 20 mg of Cardiaz every day. {phrase}", CATALOGUE)
    assert (True, None) in efficacy(result), result.mentions


@pytest.mark.parametrize("text", ["Did not help.", "It never worked for me."])
def test_lack_of_efficacy_with_no_medicine_named_goes_to_triage(text: str) -> None:
    # Nothing says it is a medicine that did not work: PV reads it, nothing is dropped.
    assert efficacy(detect_safety(text, CATALOGUE)) == [(False, "low_confidence")]


@pytest.mark.parametrize("text", ["Did not help.", "It never worked for me."])
def test_lack_of_efficacy_is_reported_when_the_source_says_which_medicine(text: str) -> None:
    # A review on a drug's page, a row with a product column: the source names the medicine.
    result = detect_safety(text, CATALOGUE, about_treatment=True)
    assert efficacy(result) == [(True, None)]
    assert "srs" in result.kinds


def test_a_source_about_a_medicine_still_respects_negation() -> None:
    result = detect_safety("No side effects, and it did help.", CATALOGUE, about_treatment=True)
    assert result.kinds == []


@pytest.mark.parametrize(
    "text",
    [
        "The app doesn't work.",
        "No side effects at all with Cardiaz.",
        "I have no side effect from Cardiaz.",
        "Cardiaz works well and I feel great.",
    ],
)
def test_no_lack_of_efficacy_where_there_is_none(text: str) -> None:
    assert not any(reportable for reportable, _ in efficacy(detect_safety(text, CATALOGUE)))


@pytest.mark.parametrize(
    ("text", "event"),
    [
        ("Cardiaz kept me from sleeping.", True),
        ("On Cardiaz I have nightmares every night.", True),
        ("Since Cardiaz I can't fall asleep.", True),
        ("Cardiaz helps me sleep.", False),
        ("I switched back to Cardiaz last year.", False),
        ("Back on the full dose of Cardiaz.", False),
    ],
)
def test_sleep_is_an_event_word_not_a_body_part(text: str, event: bool) -> None:
    assert ("ae" in detect_safety(text, CATALOGUE).kinds) is event
