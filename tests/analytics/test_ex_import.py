"""The demo's contacts and an import's are attributed to employees and teams the same way.

The demo loads its interactions in bulk (a quarter of a million rows at scale 1 would take
minutes through the row importer), naming each contact's employee by the person who made it.
A real workspace gets the same contacts as a CRM's call reports, whose ``owner_id`` is the HR
system's employee number (``crm-calls``). Here the demo's own CRM calls are written as that
export and read back with ``cpxm import --mapping crm-calls`` into a copy of the demo store:
every call lands on the same employee and so the same team, and the EX-CX page counts each
team's imported contacts exactly as it counts the demo's.
"""

from __future__ import annotations

import csv
import os
import sqlite3
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, aliased

from cpxm.analytics.ex import _contacts, _team_interactions
from cpxm.db import make_engine
from cpxm.identity.models import SourceRecord
from cpxm.ingest.models import ImportLedgerEntry
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import Stakeholder
from tests.served import cpxm_command

CHANNEL_WORDS = {"face_to_face": "F2F", "phone": "Phone", "remote_detailing": "Remote detail",
                 "email": "Email"}  # fmt: skip
CALLS_PER_TEAM = 40
HEADER = ("call_id", "account_id", "call_datetime", "call_channel", "owner_department",
          "call_type", "product", "therapeutic_area", "call_outcome", "call_notes",
          "owner_id")  # fmt: skip


def _demo_calls(engine: Engine) -> list[dict[str, object]]:
    """Up to ``CALLS_PER_TEAM`` CRM calls per team, as the CRM would export them, with the
    demo's employee and team beside each (not in the file)."""
    account = aliased(SourceRecord)
    owner = aliased(SourceRecord)
    employee = aliased(Stakeholder)
    with Session(engine) as session:
        rows = session.execute(
            select(Interaction, account.source_id, owner.source_id, employee.team_id)
            .join(account, account.id == Interaction.source_record_id)
            .join(employee, employee.id == Interaction.employee_id)
            .join(owner, (owner.stakeholder_id == employee.id) & (owner.source_system == "hr"))
            .where(
                account.source_system == "crm",
                Interaction.channel_code.in_(CHANNEL_WORDS),
            )
            .order_by(Interaction.id)
        ).all()
    taken: Counter[int | None] = Counter()
    calls = []
    for interaction, account_id, owner_id, team_id in rows:
        if taken[team_id] >= CALLS_PER_TEAM:
            continue
        taken[team_id] += 1
        calls.append(
            {
                "call_id": f"REIMPORT-{interaction.id}",
                "account_id": account_id,
                "call_datetime": interaction.occurred_at.isoformat() + "Z",
                "call_channel": CHANNEL_WORDS[interaction.channel_code],
                "owner_department": interaction.department_code,
                "call_type": interaction.interaction_type,
                "product": "",
                "therapeutic_area": "",
                "call_outcome": interaction.outcome or "",
                "call_notes": "",
                "owner_id": owner_id,
                "demo_customer": interaction.stakeholder_id,
                "demo_employee": interaction.employee_id,
                "demo_team": team_id,
            }
        )
    return calls


def test_crm_calls_imported_from_the_demo_land_on_the_demos_employees_and_teams(
    _sqlite_demo: Engine, tmp_path: Path
) -> None:
    copy = tmp_path / "demo-copy.db"
    with sqlite3.connect(str(_sqlite_demo.url.database)) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    engine = make_engine(f"sqlite:///{copy}")
    calls = _demo_calls(engine)
    teams = Counter(call["demo_team"] for call in calls)
    assert len(teams) >= 5 and len(calls) >= 200, teams  # field force and MSL teams alike
    with (tmp_path / "calls.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(calls)

    environment = {**os.environ, "CPXM_DATABASE_URL": f"sqlite:///{copy}", "COLUMNS": "250"}
    done = cpxm_command("import", "calls.csv", "--mapping", "crm-calls", environment=environment,
                        cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"created {len(calls)}" in " ".join(done.stdout.split()), done.stdout

    with Session(engine) as session:
        imported = {
            source_id: (customer, employee_id, team_id)
            for source_id, customer, employee_id, team_id in session.execute(
                select(
                    ImportLedgerEntry.source_id,
                    Interaction.stakeholder_id,
                    Interaction.employee_id,
                    Stakeholder.team_id,
                )
                .join(Interaction, Interaction.id == ImportLedgerEntry.entity_id)
                .outerjoin(Stakeholder, Stakeholder.id == Interaction.employee_id)
                .where(
                    ImportLedgerEntry.target == "interactions",
                    ImportLedgerEntry.source_id.like("REIMPORT-%"),
                )
            )
        }
        assert len(imported) == len(calls)
        for call in calls:
            assert imported[str(call["call_id"])] == (
                call["demo_customer"],
                call["demo_employee"],
                call["demo_team"],
            ), call
        # The page's contacts per team: the imported calls alone count as the demo's do.
        ids = [int(str(call["call_id"]).removeprefix("REIMPORT-")) for call in calls]
        reimported = session.scalars(
            select(ImportLedgerEntry.entity_id).where(
                ImportLedgerEntry.target == "interactions",
                ImportLedgerEntry.source_id.like("REIMPORT-%"),
            )
        ).all()
        served = _team_interactions()
        by_team_demo = _contacts(session, served.filter(served.interaction_id.isin(ids)))
        by_team_import = _contacts(session, served.filter(served.interaction_id.isin(reimported)))
    engine.dispose()
    assert by_team_import == by_team_demo
    assert {team: contacts for team, (contacts, _customers) in by_team_demo.items()} == teams
