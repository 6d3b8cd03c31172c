"""The demo workspace: counts, determinism on both engines, silos, texts and planted effects.

``generate_demo`` commits, so these tests build their own stores (a file per module on SQLite, a
dedicated database on PostgreSQL) instead of the rolled-back session of ``conftest``.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cpxm.db import make_engine
from cpxm.demo.answer_key import golden_accuracy, outvoted_last_names
from cpxm.demo.service import clear_demo, existing_demo, generate_demo, store_has_non_demo_data
from cpxm.migrate import upgrade_database
from cpxm.schema import metadata
from cpxm.stakeholders.models import Stakeholder
from tests.conftest import postgres_test_url

from . import checks

T = metadata.tables
SMALL_SCALE = 0.01
EFFECT_SCALE = 0.1
DIGEST_TABLES = (
    "stakeholders",
    "interactions",
    "source_records",
    "invitations",
    "responses",
    "answers",
    "feedback_items",
)


def _sqlite_store(directory: Path) -> Engine:
    engine = make_engine(f"sqlite:///{directory / 'demo.db'}")
    upgrade_database(engine)
    return engine


def _postgres_store() -> Engine:
    engine = make_engine(postgres_test_url("demo_"))
    upgrade_database(engine)
    return engine


def digest(engine: Engine) -> dict[str, str]:
    """A hash per table of its rows in id order, with values in engine-neutral form."""
    digests = {}
    with engine.connect() as connection:
        for name in DIGEST_TABLES:
            table = T[name]
            # When a row was written differs by run, and links' tokens are random by design;
            # what a row says must not differ.
            columns = [
                c
                for c in table.columns
                if c.name not in ("created_at", "updated_at", "imported_at", "token")
            ]
            hasher = hashlib.sha256()
            for row in connection.execute(select(*columns).order_by(table.c.id)):
                hasher.update(repr(tuple(row)).encode())
            digests[name] = hasher.hexdigest()
    return digests


@pytest.fixture(scope="module")
def sqlite_small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = _sqlite_store(tmp_path_factory.mktemp("demo-small"))
    generate_demo(engine, scale=SMALL_SCALE, seed=11)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def postgresql_small() -> Iterator[Engine]:
    engine = _postgres_store()
    generate_demo(engine, scale=SMALL_SCALE, seed=11)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def small_store(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue(f"{request.param}_small")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def effect_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A store large enough for the planted effects to stand out of the noise."""
    engine = _sqlite_store(tmp_path_factory.mktemp("demo-effects"))
    generate_demo(engine, scale=EFFECT_SCALE, seed=7)
    yield engine
    engine.dispose()


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(T[table])).scalar_one())


def test_counts_follow_the_scale_and_the_manifest(small_store: Engine) -> None:
    counts = checks.manifest(small_store)["counts"]
    for table in ("stakeholders", "interactions", "responses", "answers", "feedback_items"):
        assert counts[table] == _count(small_store, table)
    st = T["stakeholders"]
    with small_store.connect() as connection:
        # Golden records: what identity resolution made of the imported silos.
        types: Counter[str] = Counter(
            dict(
                connection.execute(
                    select(st.c.type, func.count())
                    .where(st.c.merged_into_id.is_(None))
                    .group_by(st.c.type)
                ).all()
            )
        )
    people = checks.manifest(small_store)["silos"]["people_by_type"]
    assert people["hcp"] == 30 and people["patient"] == 15 and people["caregiver"] == 6
    for type_ in ("hcp", "patient", "caregiver", "employee"):
        # Resolution splits a few people in two and merges few: close to the truth, not equal.
        assert abs(types[type_] - people[type_]) <= max(2, 0.15 * people[type_]), type_
    assert types["employee"] >= 27 and types["clinical_site"] >= 1
    assert 1_500 < counts["interactions"] < 4_500  # about 250,000 * 0.01
    assert 80 < counts["responses"] < 400  # about 15,000 * 0.01


def test_taxonomy_minimums(small_store: Engine) -> None:
    assert _count(small_store, "therapeutic_areas") >= 3
    assert _count(small_store, "countries") >= 5
    assert _count(small_store, "departments") >= 6
    assert _count(small_store, "channels") >= 10
    with small_store.connect() as connection:
        phases = connection.execute(select(T["products"].c.lifecycle_phase_code).distinct()).all()
        used_channels = connection.execute(
            select(func.count(T["interactions"].c.channel_code.distinct()))
        ).scalar_one()
        moments = connection.execute(
            select(func.count()).where(T["journey_stages"].c.is_moment_of_truth)
        ).scalar_one()
    assert {row[0] for row in phases} == {"preclinical", "clinical", "commercial"}
    assert used_channels >= 10
    assert moments >= 3


def test_same_seed_gives_the_same_rows_on_both_engines(
    sqlite_small: Engine, postgresql_small: Engine
) -> None:
    assert digest(sqlite_small) == digest(postgresql_small)


def test_regenerating_after_clear_is_identical(small_store: Engine) -> None:
    before = digest(small_store)
    tokens_before = _tokens(small_store)
    rules = _count(small_store, "fatigue_rules")
    assert existing_demo(small_store) is not None
    assert not store_has_non_demo_data(small_store)
    clear_demo(small_store)
    assert existing_demo(small_store) is None
    assert _count(small_store, "interactions") == 0
    # The workspace's contact-fatigue rules are not demo data: the next live week needs them.
    assert _count(small_store, "fatigue_rules") == rules > 0
    summary = generate_demo(small_store, scale=SMALL_SCALE, seed=11)
    assert summary.counts["interactions"] > 0
    assert digest(small_store) == before
    # The same rows, but no link of the first demo opens one of the second: tokens owe nothing
    # to the seed.
    tokens_after = _tokens(small_store)
    assert len(tokens_after) == len(tokens_before) > 0
    assert not tokens_after & tokens_before


def _tokens(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(T["invitations"].c.token)).scalars())


def test_later_inserts_get_fresh_ids(small_store: Engine) -> None:
    with Session(small_store) as session:
        highest = session.scalar(select(func.max(Stakeholder.id))) or 0
        added = Stakeholder(kind="person", type="hcp", display_name="Dr. Later Insert")
        session.add(added)
        session.flush()
        assert added.id > highest
        session.rollback()


def test_store_with_other_data_is_recognised(tmp_path: Path) -> None:
    engine = _sqlite_store(tmp_path)
    assert not store_has_non_demo_data(engine)
    with Session(engine) as session:
        session.add(Stakeholder(kind="person", type="hcp", display_name="Dr. Real Customer"))
        session.commit()
    assert store_has_non_demo_data(engine)
    clear_demo(engine)
    assert not store_has_non_demo_data(engine)
    engine.dispose()


def test_ping_pong_lowers_nps(effect_store: Engine) -> None:
    size = checks.manifest(effect_store)["effects"]["ping_pong"]["nps_effect"]
    effect, exposed = checks.ping_pong_effect(effect_store)
    assert exposed >= 60
    assert effect == pytest.approx(size, abs=0.8)


def test_last_touch_weighs_on_nps(effect_store: Engine) -> None:
    weight = checks.manifest(effect_store)["effects"]["peak_end"]["last_touch_weight"]
    assert checks.last_touch_effect(effect_store) == pytest.approx(2 * weight, abs=1.0)


def test_driver_ranking_is_recoverable(effect_store: Engine) -> None:
    truth = checks.manifest(effect_store)["effects"]["nps_drivers"]["weights"]
    found = checks.driver_weights(effect_store)
    assert max(found, key=lambda code: found[code]) == max(truth, key=lambda code: truth[code])
    for code, weight in truth.items():
        assert found[code] == pytest.approx(weight, abs=0.3)


def test_late_inquiry_answers_precede_disengagement(effect_store: Engine) -> None:
    ratio, late = checks.late_answer_rate_ratio(effect_store)
    spec = checks.manifest(effect_store)["effects"]["late_medical_inquiry_disengagement"]
    assert late >= 40
    assert ratio == pytest.approx(spec["rate_multiplier"], abs=0.25)


def test_onboarding_speed_drives_psp_csat(effect_store: Engine) -> None:
    slope, pairs = checks.onboarding_slope(effect_store)
    spec = checks.manifest(effect_store)["effects"]["onboarding_speed_psp_csat"]
    assert pairs >= 40
    assert slope == pytest.approx(spec["csat_slope_per_day"], abs=0.05)


def test_silent_detractors_stop_engaging_without_complaining(effect_store: Engine) -> None:
    silent_ratio, others_ratio, count = checks.silent_detractor_drop(effect_store)
    spec = checks.manifest(effect_store)["effects"]["silent_detractors"]
    assert count == spec["count"] > 5
    assert silent_ratio < 0.35 < 0.8 < others_ratio
    r, a, q = T["responses"], T["answers"], T["questions"]
    with effect_store.connect() as connection:
        lowest = connection.execute(
            select(func.min(a.c.value_number))
            .join(r, r.c.id == a.c.response_id)
            .join(q, q.c.id == a.c.question_id)
            .where(r.c.stakeholder_id.in_(spec["stakeholder_ids"]), q.c.code == "nps")
        ).scalar_one()
    assert lowest is None or lowest >= 7


def test_silos_are_imported_and_resolved_with_a_complete_answer_key(
    effect_store: Engine,
) -> None:
    sr, truth, st = T["source_records"], T["demo_source_truth"], T["stakeholders"]
    runs = T["import_runs"]
    with effect_store.connect() as connection:
        records = connection.execute(
            select(
                sr.c.id,
                sr.c.source_system,
                sr.c.attributes,
                st.c.id.label("golden_id"),
                st.c.merged_into_id,
                truth.c.true_stakeholder_id,
            )
            .join(truth, truth.c.source_record_id == sr.c.id, isouter=True)
            .join(st, st.c.id == sr.c.stakeholder_id, isouter=True)
        ).all()
        imports = connection.execute(
            select(runs.c.mapping_name, runs.c.status, runs.c.rows_quarantined)
        ).all()
    # Every record came in through an import with a shipped template, none quarantined.
    assert {run.mapping_name for run in imports} >= {
        "crm-person-accounts",
        "crm-accounts",
        "event-registrations",
        "email-subscribers",
        "medical-information-requesters",
        "call-centre-callers",
        "psp-enrolments",
        "hr-employees",
    }
    assert all(run.status == "completed" and run.rows_quarantined == 0 for run in imports)
    # Every record has its true person and a golden record that identity resolution chose.
    assert records and all(row.true_stakeholder_id is not None for row in records)
    assert all(row.golden_id is not None and row.merged_into_id is None for row in records)
    per_person = Counter(row.true_stakeholder_id for row in records)
    assert sum(1 for n in per_person.values() if n >= 2) >= 0.3 * len(per_person)
    assert {row.source_system for row in records} >= {
        "crm",
        "events",
        "email_platform",
        "medical_information",
        "call_centre",
        "patient_support",
        "hr",
    }
    # The silos disagree the way real ones do: one person, differently written first names.
    first_names: dict[int, set[str]] = {}
    for row in records:
        if row.attributes.get("first_name"):
            first_names.setdefault(row.true_stakeholder_id, set()).add(row.attributes["first_name"])
    varied = [names for names in first_names.values() if len(names) >= 2]
    assert len(varied) >= 0.1 * len(first_names)
    crm = [row for row in records if row.source_system == "crm" and row.attributes.get("last_name")]
    assert any(row.attributes.get("email") is None for row in crm)
    assert any("," in (row.attributes.get("name") or "") for row in records)
    # Linked as the truth says, nearly always: pairwise precision and recall of the clusters.
    true_pairs = _pairs(Counter((row.true_stakeholder_id, row.id) for row in records))
    found_pairs = _pairs(Counter((row.golden_id, row.id) for row in records))
    both = len(true_pairs & found_pairs)
    assert both / len(found_pairs) >= 0.95 and both / len(true_pairs) >= 0.9


def test_golden_names_and_emails_are_the_true_ones(effect_store: Engine) -> None:
    """Golden attributes scored against the true people (``demo_source_truth``).

    Where three or more sources give a name or an e-mail, survivorship has something to weigh;
    a value only one system gives (and misspelt) no rule can put right, so the figure over all
    golden records is reported beside it. ``benchmarks/identity_golden.py`` prints the same
    at scale 1.
    """
    with effect_store.connect() as connection:
        outvoted = outvoted_last_names(connection)
        scores = golden_accuracy(connection)
        truth = T["demo_source_truth"]
        people = connection.execute(
            select(truth.c.last_name, truth.c.birth_date, truth.c.email).where(
                truth.c.last_name.is_not(None)
            )
        ).all()
    # The answer key knows each person's name, and their birth date and e-mail where they have one.
    assert people and all(row.last_name for row in people)
    assert any(row.birth_date for row in people) and any(row.email for row in people)
    report = {
        name: (score.accuracy(), score.accuracy_in_full(), score.accuracy(3), score.shown(3))
        for name, score in scores.items()
    }
    print(f"outvoted last names: {outvoted.outvoted} of {outvoted.records}; accuracy {report}")
    # No golden last name that most of its own sources agree against (issue 16: 11%).
    assert outvoted.records >= 300 and outvoted.outvoted <= 0.01 * outvoted.records
    for name in ("first_name", "last_name", "email"):
        assert scores[name].shown(3) >= 250, name
        assert scores[name].accuracy(3) >= 0.99, (name, scores[name].examples)
    # Issue 16: 99% of golden names and e-mails are the true ones, over every golden record.
    # E-mails reach it here; last names reach it at scale 1 (benchmarks/identity_golden.py),
    # where the store holds enough records for its counts of names to be evidence: at this
    # scale a name is seldom held by five records, so fewer slips are put right. A given name
    # every source gives only as an initial (``M.`` for Maaya, no e-mail to spell it out) no
    # rule can write in full: those are counted apart. Given names stay short of the target
    # (docs/identity-resolution.md gives the figure at scale 1 and says what is left: mostly
    # golden records of one source whose person's other records were not linked to them).
    # Here (seed 7) given names written in full are 96.2% right, last names 97.6%.
    assert scores["email"].accuracy() >= 0.99, scores["email"].examples
    assert scores["last_name"].accuracy() >= 0.97, scores["last_name"].examples
    assert scores["first_name"].accuracy_in_full() >= 0.96, scores["first_name"].examples
    assert scores["first_name"].accuracy() >= 0.95, scores["first_name"].examples
    assert scores["first_name"].initial_only() <= 0.02 * scores["first_name"].shown()
    assert scores["birth_date"].accuracy() >= 0.99


def _pairs(memberships: Counter[tuple[int, int]]) -> set[tuple[int, int]]:
    """Record pairs in one cluster, from (cluster, record) memberships."""
    clusters: dict[int, list[int]] = {}
    for cluster, record in memberships:
        clusters.setdefault(cluster, []).append(record)
    return {
        (low, high)
        for members in clusters.values()
        for index, low in enumerate(sorted(members))
        for high in sorted(members)[index + 1 :]
    }


def test_comments_carry_negations_family_and_personal_data(effect_store: Engine) -> None:
    truth = checks.manifest(effect_store)["text_truth"]
    for situation in ("affirmed", "negated", "family", "hypothetical", "historical"):
        assert truth["safety_mentions_by_situation"].get(situation)
    assert set(truth["pii_by_kind"]) >= {"phone", "email"}
    assert len(truth["feedback_languages"]) >= 4
    fb = T["feedback_items"]
    with effect_store.connect() as connection:
        kinds: dict[str, int] = dict(
            connection.execute(
                select(fb.c.source_kind, func.count()).group_by(fb.c.source_kind)
            ).all()
        )
        negated = (
            connection.execute(
                select(fb.c.text).where(
                    fb.c.id.in_(truth["safety_mentions_by_situation"]["negated"])
                )
            )
            .scalars()
            .all()
        )
        emails = (
            connection.execute(select(fb.c.text).where(fb.c.id.in_(truth["pii_by_kind"]["email"])))
            .scalars()
            .all()
        )
    assert set(kinds) >= {"survey_comment", "call_note", "call_centre_log", "medical_inquiry"}
    assert any(re.search(r"\b(no|not|none|keine|aucun|ningún)\b", t, re.I) for t in negated)
    assert all("@" in t for t in emails)


def test_invitations_have_unguessable_tokens_and_triggers(effect_store: Engine) -> None:
    inv, s = T["invitations"], T["surveys"]
    with effect_store.connect() as connection:
        tokens = connection.execute(select(inv.c.token)).scalars().all()
        untriggered = connection.execute(
            select(func.count())
            .select_from(inv.join(s, s.c.id == inv.c.survey_id))
            .where(s.c.code == "post_interaction", inv.c.trigger_interaction_id.is_(None))
        ).scalar_one()
        statuses = set(connection.execute(select(T["responses"].c.status).distinct()).scalars())
    assert len(tokens) == len(set(tokens))
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", token) for token in tokens)  # 128 bits
    assert untriggered == 0
    assert statuses == {"complete", "partial"}
