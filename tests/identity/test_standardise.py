"""Names standardised on the person's e-mail and the population, as a steward would.

Each case is one a CRM holds: a record with first and last name the wrong way round, an initial
the person's address spells out, a slip only one record makes, and the cases that must be left
alone: a rare name two systems agree on, a common variant spelling, a surname-first address.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from cpxm.identity.service import fitted_match_threshold
from cpxm.identity.standardise import NamePopulation, build, one_slip
from cpxm.identity.survivorship import Candidate, _folded, choose

OLD = datetime(2025, 1, 1)
_ids = iter(range(1, 10_000))

GIVEN = ["Oliver", "Marc", "Anna", "Phillip", "Tracy", "Jonathan", "Gérard", "Julia"]
FAMILY = ["Akhtar", "Fouquet", "Solis", "Nixon", "Weber", "Schmidt", "Roux", "Campbell"]


def record(system: str = "crm", **values: Any) -> Candidate:
    return Candidate(next(_ids), system, OLD, values)


def population(extra: list[tuple[str, str]] = ()) -> NamePopulation:  # type: ignore[assignment]
    """1,200 records of eight given names and eight surnames, each written one way."""
    names = [(GIVEN[i % 8], FAMILY[(i // 8) % 8]) for i in range(1_200)]
    return build([*names, *extra], _folded)


def names(chosen: dict[str, Any]) -> tuple[str, str]:
    return chosen["first_name"].value, chosen["last_name"].value


def test_a_record_entered_the_wrong_way_round_is_turned_by_the_population() -> None:
    chosen = choose([record(first_name="Akhtar", last_name="Oliver")], population=population())
    assert names(chosen) == ("Oliver", "Akhtar")
    assert "first and last name turned by the population" in chosen["first_name"].reason
    # Without the population's evidence nothing says which is which: kept as entered.
    alone = choose([record(first_name="Akhtar", last_name="Oliver")])
    assert names(alone) == ("Akhtar", "Oliver")


def test_an_address_written_surname_first_does_not_turn_a_record() -> None:
    chosen = choose(
        [record(first_name="Tracy", last_name="Nixon", email="nixon.tracy@example.com")],
        population=population(),
    )
    assert names(chosen) == ("Tracy", "Nixon")


def test_an_initial_is_spelt_out_by_the_e_mail_and_a_slip_put_right() -> None:
    chosen = choose(
        [record(first_name="P.", last_name="Soolis", email="phillip.solis@hospital.example")],
        population=population(),
    )
    assert names(chosen) == ("Phillip", "Solis")
    assert chosen["first_name"].reason == "only source; the initial spelt out by the e-mail"
    assert chosen["last_name"].reason == "only source; spelt as in the e-mail"
    # An address of initial and surname (jsmith@) spells the surname, not the given name.
    short = choose(
        [record(first_name="J.", last_name="Scmidt", email="jschmidt42@example.net")],
        population=population(),
    )
    assert names(short) == ("J.", "Schmidt")


def test_a_slip_one_record_makes_takes_the_common_spelling() -> None:
    chosen = choose([record(first_name="Marc", last_name="Foquuet")], population=population())
    assert names(chosen)[1] == "Fouquet"
    assert re.search(r"Foquuet spelt so by 0 records, Fouquet by \d{3}", chosen["last_name"].reason)


def test_spellings_the_evidence_does_not_support_are_kept() -> None:
    # Two systems agree on the rare spelling: a slip is seldom made twice.
    agreed = choose(
        [
            record("crm", first_name="Marc", last_name="Foquet"),
            record("events", first_name="Marc", last_name="Foquet"),
        ],
        population=population(),
    )
    assert names(agreed)[1] == "Foquet"
    # A variant many records write (Jonathon beside Jonathan) is a name, not a slip.
    variant = population([("Jonathon", "Weber")] * 6)
    assert names(
        choose([record(first_name="Jonathon", last_name="Weber")], population=variant)
    ) == (
        "Jonathon",
        "Weber",
    )
    # A store too small to say how names are written corrects nothing.
    small = build([("Marc", "Fouquet")] * 50, _folded)
    assert names(choose([record(first_name="Marc", last_name="Foquuet")], population=small)) == (
        "Marc",
        "Foquuet",
    )


def test_accents_come_back_only_where_one_record_alone_dropped_them() -> None:
    alone = choose([record(first_name="Gerard", last_name="Roux")], population=population())
    assert names(alone)[0] == "Gérard"
    assert alone["first_name"].reason.endswith("accents as most records write it")
    # Three systems writing it without accents are the person's own spelling.
    several = choose(
        [record(system, first_name="Gerard", last_name="Roux") for system in ("crm", "events")],
        population=population(),
    )
    assert names(several)[0] == "Gerard"


def test_the_population_survives_its_json() -> None:
    made = population()
    again = NamePopulation.from_json(made.as_json())
    assert again is not None and again.as_json() == made.as_json() and again.usable
    assert NamePopulation.from_json(None) is None


def test_one_slip() -> None:
    assert one_slip("fouquet", "foquuet")  # two neighbours swapped
    assert not one_slip("fouquet", "faquuet")  # and a third changed
    assert one_slip("fouquet", "fouqet") and one_slip("rangel", "ramgel")
    assert one_slip("raymond", "raymodn") and one_slip("anna", "annna")
    assert not one_slip("anna", "anna") and not one_slip("anna", "bob")


def test_the_fitted_match_threshold_lowers_the_bar_only_where_the_model_is_sure() -> None:
    # Clean separation: 2,000 pairs near certain and a few in between; the links the model
    # would make down to 0.6 are expected 99.9% right.
    clean = [0.9999] * 2_000 + [0.6, 0.7, 0.8]
    assert fitted_match_threshold(clean, review=0.5) == 0.6
    # Many uncertain pairs: the expected precision below 0.9 is too low, the default stands.
    hard = [0.9999] * 500 + [0.95] * 300 + [0.6] * 200
    assert fitted_match_threshold(hard, review=0.5) == 0.9
    # Never below the review threshold, never above the default, nothing scored: the default.
    assert fitted_match_threshold(clean, review=0.75) == 0.8
    assert fitted_match_threshold([], review=0.5) == 0.9
