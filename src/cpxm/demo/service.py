"""Generate, inspect and clear the demo workspace.

Generation works chunk by chunk of stakeholders of one type: each chunk's contacts, silo records,
surveys and feedback are drawn, bulk-loaded and dropped before the next, so memory stays flat as
the scale grows. Every chunk has its own seeded generator, so the same seed and scale always give
the same rows, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlalchemy import Engine, Integer, Table, bindparam, func, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from cpxm.analytics.kept import refresh_kept_summaries
from cpxm.analytics.touch_summaries import refresh_touch_summaries
from cpxm.db import bulk_insert, chunked
from cpxm.demo.activity import ChunkFacts, EventBatch, generate_chunk_events, to_datetime
from cpxm.demo.context import TABLE_COLUMNS, Context, Row
from cpxm.demo.drift import Drift, manifest_drift, plant_drift
from cpxm.demo.effects import manifest_effects
from cpxm.demo.exports import employee_source_id, export_writer
from cpxm.demo.followups import detractor_cases
from cpxm.demo.identities import Identities, SiloRecord, Translator, import_and_resolve
from cpxm.demo.live import LiveSummary, run_live_surveys
from cpxm.demo.models import DemoRun
from cpxm.demo.people import Person, build_people
from cpxm.demo.profiles import people_rows, taxonomy_rows
from cpxm.demo.silos import SYSTEMS, SiloWriter
from cpxm.demo.surveys import (
    EventIndex,
    SurveyWriter,
    demo_survey_versions,
    plan_relationship,
    write_relationship,
)
from cpxm.demo.taxonomy import COMPANY_NAME, HISTORY_DAYS, HISTORY_START, REFERENCE_DATE, TEAMS
from cpxm.demo.teams import WORK_TEAMS, tools_offset, work_team
from cpxm.demo.texts import TextMaker
from cpxm.demo.touchpoints import build_touchpoints, used_systems
from cpxm.demo.waves import write_psp, write_pulse, write_site, write_transactional
from cpxm.governance.demo import prepare_demo_governance
from cpxm.safety.demo import screen_demo_feedback
from cpxm.schema import metadata
from cpxm.stakeholders.models import Stakeholder

ProgressCallback = Callable[[str, int, int], None]
CHUNK_SIZE = 400
INSERT_BATCH = 20_000
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class DemoSummary:
    seed: int
    scale: float
    counts: dict[str, int]  # rows per table
    seconds: float
    # Time spent in bulk inserts per table: the benchmark compares it with the raw insert limit.
    load_seconds: dict[str, float] = field(default_factory=dict)
    live: LiveSummary | None = None  # the last week, lived on the survey machinery


class Loader:
    """Bulk-loads rows into the store's tables and counts them; with a translator, rows are
    rewritten onto the ids import and identity resolution gave the demo's people."""

    def __init__(self, connection: Connection, translator: Translator | None = None) -> None:
        self.connection = connection
        self.translator = translator
        self.counts: Counter[str] = Counter()
        self.seconds: dict[str, float] = defaultdict(float)
        for name, columns in TABLE_COLUMNS.items():
            actual = tuple(column.name for column in metadata.tables[name].columns)
            if actual != columns:
                raise RuntimeError(f"demo generator is out of date for table {name}: {actual}")

    def table(self, name: str) -> Table:
        return metadata.tables[name]

    def dicts(self, name: str, rows: Sequence[dict[str, Any]]) -> None:
        columns = [column.name for column in self.table(name).columns]
        self.tuples(name, [tuple(row.get(column) for column in columns) for row in rows])

    def tuples(self, name: str, rows: Sequence[Row]) -> None:
        if self.translator is not None:
            rows = self.translator.rows(self.connection, self.table(name), rows)
        started = time.perf_counter()
        for batch in chunked(rows, INSERT_BATCH):
            bulk_insert(self.connection, self.table(name), batch)
        self.counts[name] += len(rows)
        self.seconds[name] += time.perf_counter() - started


def chunks_of(people: list[Person]) -> list[list[Person]]:
    """Stakeholders grouped by type (in order of first id), then cut into fixed-size chunks."""
    by_type: dict[str, list[Person]] = {}
    for person in people:
        by_type.setdefault(person.type, []).append(person)
    return [
        group[start : start + CHUNK_SIZE]
        for group in by_type.values()
        for start in range(0, len(group), CHUNK_SIZE)
    ]


def generate_demo(
    engine: Engine,
    *,
    scale: float = 1.0,
    seed: int = 42,
    progress: ProgressCallback | None = None,
    silo_directory: Path | None = None,
    drift: bool = False,
) -> DemoSummary:
    """Fill an empty, migrated store with the demo workspace and its manifest.

    The people come in as a customer's would: their departmental silos are written as export
    files (into ``silo_directory``, or a temporary one), imported with the shipped templates
    and resolved into golden records; everything else is then generated around those, up to
    the week before the reference date, which is lived on the survey machinery itself
    (``cpxm.demo.live``). With ``drift``, HCPs who drift away are planted too
    (``cpxm.demo.drift``: the ground truth of ``cpxm predict``); off by default, so the
    workspace the other figures and docs are measured on stays as it was.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    started = time.perf_counter()
    report = progress or (lambda _step, _done, _total: None)
    people = build_people(seed, scale)
    ctx = Context(seed, scale, people, plant_drift=drift)
    chunks = chunks_of(people)
    total = 2 * len(chunks) + 3
    # One step name for the whole run, so a progress bar keyed by step shows a single bar.
    step = "Generating the demo workspace"
    report(step, 0, total)
    with engine.begin() as connection:
        loader = Loader(connection)
        for name, rows in taxonomy_rows().items():
            loader.dicts(name, rows)
        loader.dicts("survey_versions", demo_survey_versions())
    with ExitStack() as stack:
        directory = silo_directory or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        files, records = _write_silos(
            ctx, chunks, directory, lambda done: report(step, done, total)
        )
        identities = import_and_resolve(engine, files=files, records=records)
    report(step, len(chunks) + 1, total)
    # The activity is drawn again chunk by chunk from the same seeds, so the silo records it
    # points at are the ones just imported.
    ctx.next_ids["source_records"] = 0
    translator = Translator(identities)
    with engine.begin() as connection:
        bulk_insert(
            connection,
            metadata.tables["demo_source_truth"],
            [
                _answer_key(record_id, ctx.by_id[person_id])
                for record_id, person_id in identities.truth
            ],
        )
        loader = Loader(connection, translator)
        profiles = people_rows(people, seed)
        profiles.pop("stakeholders")  # the golden records come from identity resolution
        for name, rows in profiles.items():
            loader.dicts(name, rows)
        _assign_work_teams(connection, people, identities)
        report(step, len(chunks) + 2, total)
        for number, chunk in enumerate(chunks):
            _generate_chunk(ctx, loader, chunk, number)
            report(step, len(chunks) + number + 3, total)
        counts = _table_counts(connection)
        loader.dicts("demo_runs", [_demo_run(ctx, counts, identities, translator)])
        _reset_sequences(connection)
        report(step, total, total)
    # Before screening and governance, so its comments are screened with the history's and
    # its detractors can open cases.
    live = run_live_surveys(engine, seed=seed, scale=scale, now=REFERENCE_DATE)
    counts = _manifest_counts(engine)  # with the live week's rows
    screen_demo_feedback(engine, report)
    prepare_demo_governance(engine)
    # Planner statistics for the freshly loaded tables: PostgreSQL's autovacuum would gather
    # them later, SQLite never does, and without them it scans every answer to find one
    # question's (the analytics pages' main cost).
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    # What each respondent met before answering, so the journeys and drivers pages' first
    # views read it rather than every interaction (the worker keeps it fresh afterwards).
    with Session(engine) as session, session.begin():
        refresh_touch_summaries(session)
    # The coordination and EX-CX pages' summaries, likewise.
    with Session(engine) as session, session.begin():
        refresh_kept_summaries(session)
    return DemoSummary(
        seed,
        scale,
        counts,
        time.perf_counter() - started,
        dict(sorted(loader.seconds.items())),
        live,
    )


def _assign_work_teams(
    connection: Connection, people: list[Person], identities: Identities
) -> None:
    """Each employee's golden record gets the team they work in (the HR export has no team)."""
    team_ids = {name: len(TEAMS) + index for index, (name, _, _) in enumerate(WORK_TEAMS, 1)}
    stakeholders = metadata.tables["stakeholders"]
    assignments = [
        {"stakeholder": identities.stakeholder_of_person[person.id], "team": team_ids[team]}
        for person in people
        if person.type == "employee"
        and person.id in identities.stakeholder_of_person
        and (team := work_team(person))
    ]
    if assignments:
        connection.execute(
            update(stakeholders)
            .where(stakeholders.c.id == bindparam("stakeholder"))
            .values(team_id=bindparam("team")),
            assignments,
        )


def _answer_key(record_id: int, person: Person) -> Row:
    """A silo record's true person, with the name, birth date and e-mail it really has."""
    if person.kind == "organisation":
        return (record_id, person.id, None, None, None, None)
    return (
        record_id,
        person.id,
        person.first_name,
        person.last_name,
        person.birth_date,
        person.email,
    )


@dataclass
class _ChunkStart:
    """A chunk's draws up to its silo records; drawn the same way every time for one seed."""

    rng: np.random.Generator
    texts: TextMaker
    events: EventBatch
    facts: ChunkFacts
    relationship: tuple[Any, Any] | None  # planned and unanswered relationship waves (HCPs)
    silos: SiloWriter
    drift: Drift | None = None  # planted drifters among HCPs


def _start_chunk(ctx: Context, chunk: list[Person], number: int) -> _ChunkStart:
    rng = np.random.default_rng([ctx.seed, 3, number])
    texts = TextMaker(rng)
    events, facts = generate_chunk_events(chunk, rng)
    relationship = None
    drift = None
    if chunk[0].type == "hcp":
        planned, unanswered, bursts = plan_relationship(rng, chunk, facts.change_day)
        relationship = (planned, unanswered)
        events = EventBatch.concat([events, bursts])
        for index in np.flatnonzero(facts.silent).tolist():
            change = to_datetime(float(facts.change_day[index]))
            ctx.silent_detractors[chunk[index].id] = change.isoformat()
    if chunk[0].type == "hcp" and ctx.plant_drift and relationship is not None:
        planned, unanswered = relationship
        # Its own generator, drawn last: the rest of the chunk is drawn as without it.
        drift_rng = np.random.default_rng([ctx.seed, 7, number])
        eligible = ~facts.silent & np.array([p.survey_withdrawn_at is None for p in chunk])
        drift, events = plant_drift(drift_rng, len(chunk), eligible, events)
        relationship = drift.answering(drift_rng, planned, unanswered)
        for index, driver in drift.driver.items():
            ctx.drifters[chunk[index].id] = {
                "day": float(drift.day[index]) if index not in drift.decoys else None,
                "driver": driver,
                "decoy": index in drift.decoys,
            }
    events = events.sorted()
    # Fields the silos gained later draw from their own generator, so the contacts, responses
    # and planted effects drawn after the silos stay as they were.
    silos = SiloWriter(rng, ctx, REFERENCE_DATE, np.random.default_rng([ctx.seed, 4, number]))
    silos.add_people(chunk, used_systems(events), ctx.by_id)
    return _ChunkStart(rng, texts, events, facts, relationship, silos, drift)


def _write_silos(
    ctx: Context, chunks: list[list[Person]], directory: Path, done: Callable[[int], None]
) -> tuple[list[tuple[Path, str]], list[SiloRecord]]:
    """Every chunk's silo records, and the employees of the HR system, as export files."""
    records: list[SiloRecord] = []
    with export_writer(directory) as exports:
        for number, chunk in enumerate(chunks):
            silos = _start_chunk(ctx, chunk, number).silos
            for record, (_, person_id) in zip(silos.records, silos.truth, strict=True):
                record_id, system, source_id, attributes = (
                    cast(int, record[0]),
                    cast(str, record[1]),
                    cast(str, record[2]),
                    cast(dict[str, Any], record[4]),
                )
                exports.add_record(system, source_id, attributes, ctx.by_id[person_id])
                records.append(SiloRecord(record_id, system, source_id, person_id))
            done(number + 1)
        for person in ctx.people:
            if person.type == "employee":
                exports.add_employee(person)
                records.append(SiloRecord(None, "hr", employee_source_id(person), person.id))
        files = list(exports.files())
    return files, records


def _generate_chunk(ctx: Context, loader: Loader, chunk: list[Person], number: int) -> None:
    start = _start_chunk(ctx, chunk, number)
    rng, texts, events, facts, silos = (
        start.rng,
        start.texts,
        start.events,
        start.facts,
        start.silos,
    )
    type_ = chunk[0].type
    drift = start.drift
    touch = build_touchpoints(rng, chunk, events, facts, ctx, silos, texts)
    writer = SurveyWriter(ctx, rng, texts)
    if start.relationship is not None:
        planned, unanswered = start.relationship
        write_relationship(
            writer, chunk, planned, unanswered, EventIndex(events), facts.silent, drift
        )
    product_codes = [row[7] for row in touch.interactions]  # product_code of each contact
    # The tools of the team whose employee made each contact (row[11]: employee_id).
    tools = [
        0.0 if row[11] is None else tools_offset(work_team(ctx.by_id[int(row[11])]))
        for row in touch.interactions
    ]
    write_transactional(writer, chunk, events, touch.ids, product_codes, tools)
    if type_ == "patient":
        write_psp(writer, chunk, facts)
    elif type_ in ("investigator", "site_staff"):
        write_site(writer, chunk)
    elif type_ == "employee":
        write_pulse(writer, chunk)
    cases, case_events = detractor_cases(ctx, rng, writer.rows.detractors)

    loader.tuples("interactions", touch.interactions)
    loader.tuples("invitations", writer.rows.invitations)
    loader.tuples("responses", writer.rows.responses)
    loader.tuples("answers", writer.rows.answers)
    loader.tuples("feedback_items", touch.feedback + writer.rows.feedback)
    loader.tuples("cases", cases)
    loader.tuples("case_events", case_events)


def _table_counts(connection: Connection) -> dict[str, int]:
    counts = {}
    for table in metadata.sorted_tables:
        if table.name == "demo_runs":
            continue
        rows = int(connection.execute(select(func.count()).select_from(table)).scalar_one())
        if rows:
            counts[table.name] = rows
    return dict(sorted(counts.items()))


def _manifest_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        manifest = connection.execute(
            select(DemoRun.manifest).order_by(DemoRun.id.desc()).limit(1)
        ).scalar_one()
    return dict(manifest["counts"])


def _demo_run(
    ctx: Context, counts: dict[str, int], identities: Identities, translator: Translator
) -> dict[str, Any]:
    # The manifest speaks of the golden records the product sees, and of the rows it kept.
    person_to_stakeholder = identities.stakeholder_of_person
    silent = {
        person_to_stakeholder[person_id]: change
        for person_id, change in ctx.silent_detractors.items()
        if person_id in person_to_stakeholder
    }
    dropped_feedback = translator.dropped.get("feedback_items", set())

    def kept(ids: list[int]) -> list[int]:
        return sorted(set(ids) - dropped_feedback)

    manifest = {
        "generator_version": GENERATOR_VERSION,
        "company": COMPANY_NAME,
        "seed": ctx.seed,
        "scale": ctx.scale,
        "reference_date": REFERENCE_DATE.isoformat(),
        "history_start": HISTORY_START.isoformat(),
        "history_days": HISTORY_DAYS,
        "counts": counts,
        "effects": {
            **manifest_effects(silent),
            **(
                {
                    "drift": manifest_drift(
                        {
                            person_to_stakeholder[person_id]: planted
                            for person_id, planted in ctx.drifters.items()
                            if person_id in person_to_stakeholder
                        }
                    )
                }
                if ctx.plant_drift
                else {}
            ),
        },
        "silos": {
            "systems": [*SYSTEMS, "hr"],
            "truth_table": "demo_source_truth",
            "imported_rows": identities.imports,
            "review_pairs": identities.review_pairs,
            "people_by_type": dict(sorted(Counter(person.type for person in ctx.people).items())),
            "people_without_records": len(ctx.people) - len(person_to_stakeholder),
            "rows_dropped": translator.dropped_count(),
            "note": (
                "each silo was imported from an export file with a shipped template and "
                "resolved by identity resolution; demo_source_truth.true_stakeholder_id is the "
                "generator's id of the true person (first_name, last_name, birth_date and "
                "email are that person's true ones), and rows_dropped counts generated rows the "
                "resolved workspace could not hold (a person with no record, or a second "
                "invitation in one wave for two people resolved into one)"
            ),
        },
        "text_truth": {
            "safety_mentions_by_situation": {
                situation: kept(ids) for situation, ids in sorted(ctx.safety_feedback.items())
            },
            "pii_by_kind": {kind: kept(ids) for kind, ids in sorted(ctx.pii_feedback.items())},
            "feedback_languages": dict(sorted(ctx.feedback_languages.items())),
            "note": (
                "feedback_items ids; a safety mention is reportable when its situation is "
                "'affirmed' or 'family' (about a real patient), not when negated, hypothetical "
                "or historical"
            ),
        },
    }
    return {
        "id": 1,
        "seed": ctx.seed,
        "scale": ctx.scale,
        "generated_at": datetime.now(UTC).replace(tzinfo=None, microsecond=0),
        "manifest": manifest,
    }


def _reset_sequences(connection: Connection) -> None:
    """After loading explicit ids, move PostgreSQL's sequences past them for later inserts."""
    if connection.dialect.name != "postgresql":
        return
    for table in metadata.sorted_tables:
        id_column = table.columns.get("id")
        if (
            id_column is None
            or not id_column.primary_key
            or not isinstance(id_column.type, Integer)
        ):
            continue
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                f'COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM "{table.name}"'
            )
        )


def existing_demo(engine: Engine) -> DemoRun | None:
    """The store's demo run, if it holds a demo."""
    with Session(engine) as session:
        return session.scalars(select(DemoRun).order_by(DemoRun.id.desc()).limit(1)).first()


def store_has_non_demo_data(engine: Engine) -> bool:
    """True when the store holds stakeholders that no demo run generated."""
    with Session(engine) as session:
        has_stakeholders = session.scalar(select(func.count()).select_from(Stakeholder)) or 0
        has_demo = session.scalar(select(func.count()).select_from(DemoRun)) or 0
    return bool(has_stakeholders) and not has_demo


# Workspace settings the migrations seed, not demo data: clearing them would leave the next
# demo's surveys sent with no contact-fatigue rule at all, and change every patient pseudonym.
# The change counter's one row is what its triggers count in (migration 0032).
KEPT_BY_CLEAR = frozenset({"fatigue_rules", "workspace_settings", "analytics_change_counter"})
# Append-only tables refuse deletes of rows younger than a year (migrations 0021, 0023).
_DELETE_GUARDS = ("audit_log_no_early_delete", "electronic_signatures_no_early_delete")


def clear_demo(engine: Engine) -> None:
    """Delete every row of every table, children first, so a demo can be generated again; the
    workspace's contact-fatigue rules stay."""
    tables = [
        table for table in reversed(metadata.sorted_tables) if table.name not in KEPT_BY_CLEAR
    ]
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            return
        # The audit log and the signatures refuse deletes of rows younger than a year; a demo
        # is regenerated whole, its trail with it, so the guards step aside in this transaction
        # only and are put back, as they were, before the transaction commits.
        guards = []
        for name in _DELETE_GUARDS:
            guard = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,)
            ).scalar()
            if guard is not None:
                connection.exec_driver_sql(f"DROP TRIGGER {name}")
                guards.append(guard)
        for table in tables:
            connection.execute(table.delete())
        for guard in guards:
            connection.exec_driver_sql(guard)
