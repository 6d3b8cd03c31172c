"""Context per clause and the phrasings real patients use (issue 18, item 2), and the reason a
mention opens no case (item 3)."""

from __future__ import annotations

import pytest

from cpxm.text import build_catalogue
from cpxm.text.safety import NOT_REPORTABLE_REASONS, detect_safety

CATALOGUE = build_catalogue(
    [("cardiaz", "Cardiaz", "semlotrapib"), ("glyventa", "Glyventa", "orlaglutide")]
)


def kinds(text: str) -> list[str]:
    return detect_safety(text, CATALOGUE).kinds


@pytest.mark.parametrize(
    "text",
    [
        "Nobody told me Cardiaz could cause nausea, and now I have it every morning.",
        "If you ask me, Cardiaz gave me a rash.",
        "Can Cardiaz cause hair loss? Mine is falling out.",
        "Does Glyventa cause headaches? I get them every afternoon.",
        "To be honest, Glyventa gave me terrible cramps.",
    ],
)
def test_a_later_clause_or_sentence_affirms_the_event(text: str) -> None:
    assert kinds(text) == ["ae"], detect_safety(text, CATALOGUE).mentions


@pytest.mark.parametrize(
    "text",
    [
        "Cardiaz made me feel like a zombie.",
        "I gained 20 lbs in three months on Glyventa.",
        "Since starting Cardiaz my hair is falling out.",
        "No side effects at all with Glyventa except a dry mouth.",
        "I didn’t think Cardiaz would give me headaches but it did, every day.",
    ],
)
def test_patient_phrasings_are_adverse_events(text: str) -> None:
    assert "ae" in kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "Cardiaz did nothing for my pain.",
        "Glyventa didn’t work for me at all.",
        "Took Cardiaz for a month and it did nothing.",
    ],
)
def test_lack_of_efficacy_in_patient_words(text: str) -> None:
    result = detect_safety(text, CATALOGUE)
    assert any(m.subtype == "lack_of_efficacy" for m in result.reportable), result.mentions


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I didn’t see any side effects or weight gain on Cardiaz.", "negated"),
        ("Can Cardiaz cause hair loss?", "hypothetical"),
        ("If I get nausea on Glyventa, who should I call?", "hypothetical"),
        ("My grandad died of a stroke at 60.", "other_person"),
        ("Years ago I had hives with a different medicine.", "historical"),
    ],
)
def test_a_mention_that_opens_no_case_carries_its_reason_and_sentence(
    text: str, reason: str
) -> None:
    result = detect_safety(text, CATALOGUE)
    assert result.kinds == []
    assert result.mentions
    for mention in result.mentions:
        assert mention.reason in NOT_REPORTABLE_REASONS
        stored = mention.as_dict()
        assert stored["reason"] == mention.reason
        assert stored["sentence"] and stored["sentence"] in text
    assert result.mentions[0].reason == reason


def test_a_reportable_mention_has_no_reason() -> None:
    mention = detect_safety("Cardiaz gave me a rash.", CATALOGUE).mentions[0]
    assert mention.reportable
    assert mention.reason is None
    assert mention.as_dict()["reason"] is None


def test_terms_and_sentences_keep_the_writers_apostrophes() -> None:
    mention = detect_safety("Glyventa didn’t work.", CATALOGUE).mentions[0]
    assert mention.term == "didn’t work"
    assert mention.sentence == "Glyventa didn’t work."


def test_a_pronoun_that_points_elsewhere_does_not_affirm() -> None:
    assert kinds("Could Cardiaz cause a rash? I have a question about the dose.") == []
    assert kinds("I never had nausea on Cardiaz, and I have it in the fridge.") == []


@pytest.mark.parametrize(
    "text",
    [
        "Cardiaz really relieves my anxiety.",
        "Glyventa is the only thing that helps my tension headaches.",
        "I have had hormonal migraines since I was 12, and Cardiaz is the first thing that helps.",
        "My pain went from a ten to a three on Cardiaz.",
    ],
)
def test_the_condition_being_treated_opens_no_case(text: str) -> None:
    result = detect_safety(text, CATALOGUE)
    assert "ae" not in result.kinds, result.mentions
    assert any(m.reason == "treated_condition" for m in result.mentions)


@pytest.mark.parametrize(
    "text",
    [
        "Cardiaz made my anxiety worse.",
        "Since starting Glyventa I get migraines every week.",
        "Cardiaz gave me headaches for two years.",
    ],
)
def test_a_treated_condition_that_got_worse_or_came_with_the_drug_is_an_event(text: str) -> None:
    assert "ae" in kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "I don't care about the itchiness that comes with Cardiaz.",
        "I don't mind the dry mouth from Glyventa.",
        "I'm not bothered by the nausea on Cardiaz.",
        "I can live with the headaches Glyventa gives me.",
    ],
)
def test_a_negation_that_accepts_an_effect_is_no_negation(text: str) -> None:
    # A mild effect the writer puts up with is still an event (issue 18's labels count it).
    assert kinds(text) == ["ae"], detect_safety(text, CATALOGUE).mentions


@pytest.mark.parametrize(
    "text", ["No nausea on Cardiaz.", "I did not get a rash on Glyventa.", "I don't mind Cardiaz."]
)
def test_plain_negations_still_negate(text: str) -> None:
    assert kinds(text) == []


@pytest.mark.parametrize(
    ("text", "term", "reportable", "reason"),
    [
        # "not to mention" adds, it does not negate.
        ("Cardiaz gave me nausea, not to mention a rash.", "rash", True, None),
        # Never had it until the medicine: a new event, not a negated one.
        ("I had never had a migraine until I started Cardiaz.", "migraine", True, None),
        # What the writer had before the medicine is the condition it treats.
        (
            "Before taking Cardiaz I had debilitating headaches.",
            "headaches",
            False,
            "treated_condition",
        ),
        (
            "I was suffering from severe, anxiety before Cardiaz.",
            "anxiety",
            False,
            "treated_condition",
        ),
    ],
)
def test_clause_reading_of_patient_phrasings(
    text: str, term: str, reportable: bool, reason: str | None
) -> None:
    mention = next(m for m in detect_safety(text, CATALOGUE).mentions if m.term == term)
    assert (mention.reportable, mention.reason) == (reportable, reason)
