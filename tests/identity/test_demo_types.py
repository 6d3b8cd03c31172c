"""The demo's golden records never mix true people of different types (issue 16 item 4).

``demo_source_truth`` names each silo record's true person; each export writes the person's
true type in its own words, which the shipped templates read into ``type``. A person's type
group is therefore the one their records declare (checked here: every person's records agree),
and a golden record mixes types when it holds records of two people of different groups.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from cpxm.db import make_engine
from cpxm.demo.service import generate_demo
from cpxm.identity.normalise import normalise
from cpxm.migrate import upgrade_database
from cpxm.schema import metadata

T = metadata.tables
# Large enough to fail without the type rules: 1 mixed golden record here, 4 at 0.5, 19 at 1.
SCALE = 0.3


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('demo-types') / 'demo.db'}")
    upgrade_database(engine)
    generate_demo(engine, scale=SCALE, seed=16)
    yield engine
    engine.dispose()


def test_no_golden_record_mixes_people_of_different_types(demo_store: Engine) -> None:
    sr, truth = T["source_records"], T["demo_source_truth"]
    with demo_store.connect() as connection:
        rows = connection.execute(
            select(
                sr.c.id,
                sr.c.source_system,
                sr.c.attributes,
                sr.c.stakeholder_id,
                truth.c.true_stakeholder_id,
            ).join(truth, truth.c.source_record_id == sr.c.id)
        ).all()
    groups_of_person: dict[int, set[str]] = defaultdict(set)
    people_of_golden: dict[int, set[int]] = defaultdict(set)
    for row in rows:
        record = normalise(row.id, row.source_system, row.attributes or {})
        if record.type_group is not None:
            groups_of_person[row.true_stakeholder_id].add(record.type_group)
        people_of_golden[row.stakeholder_id].add(row.true_stakeholder_id)
    assert len(groups_of_person) > 100
    # The answer key holds: one type group per true person.
    assert all(len(groups) == 1 for groups in groups_of_person.values())
    group = {person: next(iter(groups)) for person, groups in groups_of_person.items()}
    mixed = [
        golden
        for golden, people in people_of_golden.items()
        if len({group[p] for p in people if p in group}) > 1
    ]
    kinds = {group[p] for people in people_of_golden.values() for p in people if p in group}
    assert {"professional", "patient", "caregiver", "employee", "organisation"} <= kinds
    assert mixed == []
