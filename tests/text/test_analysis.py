from __future__ import annotations

from pathlib import Path

import pytest

from cpxm.text import analyse_text, build_catalogue
from cpxm.text.language import detect_language
from cpxm.text.pii import find_pii, redact
from cpxm.text.safety import detect_safety
from cpxm.text.sentiment import analyse_sentiment, vader_compound
from cpxm.text.themes import TaxonomyError, detect_themes, load_taxonomy

CATALOGUE = build_catalogue(
    [("cardiaz", "Cardiaz", "semlotrapib"), ("glyventa", "Glyventa", "orlaglutide")]
)


def contexts(text: str) -> list[tuple[str, str, bool]]:
    return [
        (mention.subtype, mention.context, mention.reportable)
        for mention in detect_safety(text, CATALOGUE).mentions
    ]


@pytest.mark.parametrize(
    ("text", "context", "reportable"),
    [
        ("Since starting Cardiaz I get headaches every day.", "affirmed", True),
        ("No side effects at all with Cardiaz.", "negated", False),
        ("I have not had any dizziness since starting Glyventa.", "negated", False),
        ("If I get nausea on Glyventa, who should I call?", "hypothetical", False),
        ("My mother had a rash after starting Cardiaz.", "other_person", True),
        ("Years ago I had hives with a different medicine.", "historical", False),
        ("Back in 2019 I had a bad rash on Cardiaz and never told anyone.", "historical", True),
        ("Keine Nebenwirkungen mit Cardiaz.", "negated", False),
        ("Cardiazを使い始めてから頭痛があります。", "affirmed", True),
    ],
)
def test_safety_context_is_labelled(text: str, context: str, reportable: bool) -> None:
    found = contexts(text)
    assert found, text
    assert (found[0][1], found[0][2]) == (context, reportable)


def test_family_history_without_a_treatment_is_not_reportable() -> None:
    result = detect_safety("My grandad died of a stroke at 60.", CATALOGUE)
    assert result.kinds == []
    assert {mention.context for mention in result.mentions} == {"other_person"}


def test_an_exception_ends_a_negation() -> None:
    found = contexts("No nausea, but I did get a rash.")
    assert [(subtype, context) for subtype, context, _ in found][:2] == [
        ("adverse_event", "negated"),
        ("adverse_event", "affirmed"),
    ]


def test_figurative_words_are_not_events() -> None:
    assert detect_safety("Prior authorisation is a real headache.", CATALOGUE).mentions == []
    assert detect_safety("I am sick of waiting for the rep.", CATALOGUE).kinds == []


def test_complaints_and_special_situations() -> None:
    assert detect_safety("The pen leaked and the box arrived damaged.", CATALOGUE).kinds == ["pc"]
    subtypes = {
        m.subtype
        for m in detect_safety(
            "My 7-year-old son took two tablets of Cardiaz by mistake.", CATALOGUE
        ).mentions
    }
    assert {"overdose", "medication_error", "paediatric"} <= subtypes
    assert detect_safety("Can Glyventa be used during breastfeeding?", CATALOGUE).kinds == []
    assert detect_safety("I am pregnant and still on Glyventa.", CATALOGUE).kinds == ["srs"]
    assert detect_safety("The portal does not work.", CATALOGUE).kinds == []
    assert detect_safety("Glyventa is not working anymore.", CATALOGUE).kinds == ["srs"]


def test_misspelt_products_are_found_but_common_words_are_not() -> None:
    found = {
        (m.code, m.fuzzy) for m in CATALOGUE.find("I take cardias and Gliventa, not semlotrapib")
    }
    assert found == {("cardiaz", True), ("glyventa", True), ("cardiaz", False)}
    assert CATALOGUE.find("my cardiac nurse and the cardiologist") == []


def test_pii_is_found_and_redacted() -> None:
    text = (
        "My name is Jane Doe, DOB: 12/03/1961, patient ID AB12345. I live at 14 Baker Street. "
        "Call +49 30 1234567 or mail jane@example.org"
    )
    spans = find_pii(text)
    assert [span.kind for span in spans] == [
        "person",
        "date_of_birth",
        "identifier",
        "address",
        "phone",
        "email",
    ]
    redacted = redact(text, spans)
    assert "Jane" not in redacted and "1234567" not in redacted and "@" not in redacted
    assert find_pii("Phase III results from 2019 at 20 mg") == []


def test_known_names_are_redacted_without_a_cue() -> None:
    spans = find_pii("Thanks from Sager, the visit was good", known_names=["Sager"])
    assert [span.kind for span in spans] == ["person"]


def test_domain_sentiment_beats_plain_vader_on_domain_phrases() -> None:
    stock = "Velcora was out of stock at the wholesaler twice this quarter."
    assert vader_compound(stock) == 0.0
    assert analyse_sentiment(stock).label == "negative"
    assert analyse_sentiment("No side effects at all, which is a relief.").label == "positive"
    assert analyse_sentiment("Oh great, another week without my delivery.").label == "negative"
    assert analyse_sentiment("Ihr Außendienst kommt viel zu oft vorbei.", "de").label == "negative"


def test_language_detection() -> None:
    assert detect_language("The nurse called me the day after.") == "en"
    assert detect_language("Die Hotline ist dauernd besetzt.") == "de"
    assert detect_language("Impossible de joindre la ligne d'assistance.") == "fr"
    assert detect_language("La línea de ayuda siempre está ocupada.") == "es"
    assert detect_language("看護師さんの対応がとても丁寧でした。") == "ja"


def test_themes_and_a_broken_taxonomy_file(tmp_path: Path) -> None:
    assert {"access_reimbursement", "supply_availability"} <= set(
        detect_themes("Prior authorisation takes weeks and it is out of stock.")
    )
    broken = tmp_path / "themes.yaml"
    broken.write_text("themes:\n  cost:\n    label: Cost\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="theme 'cost' has no cues"):
        load_taxonomy(broken)


def test_whole_analysis() -> None:
    result = analyse_text("Since Glyvnta I feel dizzy. Email me: a@b.org", catalogue=CATALOGUE)
    assert result.safety.kinds == ["ae"]
    assert result.pii_kinds == ["email"]
    assert result.redacted_text.endswith("[EMAIL]")
    assert result.sentiment.label in ("negative", "neutral")
