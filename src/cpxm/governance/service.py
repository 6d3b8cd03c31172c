"""Load, show and apply the RACI matrix; the caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cpxm.auth import signatures
from cpxm.auth.models import ElectronicSignature
from cpxm.auth.signatures import Signer
from cpxm.errors import DomainError, FieldError, field_error
from cpxm.governance.models import ACTIVITIES, RaciAssignment
from cpxm.stakeholders.models import STAKEHOLDER_TYPES
from cpxm.workspace.models import Country, Department, Team, TherapeuticArea, User

SCOPE_FIELDS = ("department", "country", "therapeutic_area", "stakeholder_type")
LETTER_KEYS = {"responsible": "R", "accountable": "A", "consulted": "C", "informed": "I"}
KEY_OF_LETTER = {letter: key for key, letter in LETTER_KEYS.items()}


class GovernanceError(FieldError):
    """A matrix that cannot be loaded; ``problems`` lists every problem with where it is (and
    ``detail`` carries them in the API's validation-error shape, located at the YAML field)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__([field_error("yaml", problem, None) for problem in problems])
        self.problems = problems


@dataclass(frozen=True)
class Party:
    """A team or a person named in the matrix."""

    team_id: int | None
    user_id: int | None
    label: str  # "team:Customer service DE" or "user:lead@example.org"


@dataclass
class Raci:
    """Who is R, A, C and I for one activity in one scope."""

    responsible: list[Party] = field(default_factory=list)
    accountable: list[Party] = field(default_factory=list)
    consulted: list[Party] = field(default_factory=list)
    informed: list[Party] = field(default_factory=list)


@dataclass(frozen=True)
class LoadReport:
    teams_created: int
    assignments: int
    activities: list[str]


def load_matrix(session: Session, *, text: str) -> LoadReport:
    """Replace the whole matrix by the YAML in ``text`` (teams it declares are created).

    Everything is checked before anything changes; every problem is reported at once, each with
    where it is (``raci[2].accountable[0]``), so one edit fixes the file.
    """
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise GovernanceError([f"not valid YAML: {error}"]) from None
    if not isinstance(document, dict):
        raise GovernanceError(["the file must be a mapping with 'raci' (and optionally 'teams')"])
    problems: list[str] = []
    teams_created = _ensure_teams(session, document.get("teams") or [], problems)
    rows = _parse_rows(session, document.get("raci"), problems)
    if problems:
        raise GovernanceError(problems)
    session.execute(delete(RaciAssignment))
    session.add_all(rows)
    session.flush()
    return LoadReport(
        teams_created=teams_created,
        assignments=len(rows),
        activities=sorted({row.activity for row in rows}),
    )


def _ensure_teams(session: Session, teams: Any, problems: list[str]) -> int:
    if not isinstance(teams, list):
        problems.append("teams: expected a list of {name, department, country, therapeutic_area}")
        return 0
    created = 0
    for index, entry in enumerate(teams):
        where = f"teams[{index}]"
        if not isinstance(entry, dict) or not str(entry.get("name", "")).strip():
            problems.append(f"{where}: a team needs a name")
            continue
        name = str(entry["name"]).strip()
        codes = {
            "department": _code(session, Department, entry.get("department"), where, problems),
            "country": _code(session, Country, entry.get("country"), where, problems),
            "therapeutic_area": _code(
                session, TherapeuticArea, entry.get("therapeutic_area"), where, problems
            ),
        }
        if session.scalar(select(Team).where(Team.name == name)) is None:
            session.add(
                Team(
                    name=name,
                    department_code=codes["department"],
                    country_code=codes["country"],
                    therapeutic_area_code=codes["therapeutic_area"],
                )
            )
            created += 1
    session.flush()
    return created


def _code(session: Session, model: Any, value: Any, where: str, problems: list[str]) -> str | None:
    if value is None:
        return None
    code = str(value)
    if session.get(model, code) is None:
        label = {
            "departments": "department",
            "countries": "country",
            "therapeutic_areas": "therapeutic area",
        }[model.__tablename__]
        problems.append(f"{where}: unknown {label} code '{code}'")
        return None
    return code


def _parse_rows(session: Session, raci: Any, problems: list[str]) -> list[RaciAssignment]:
    if not isinstance(raci, list):
        problems.append("raci: expected a list of {activity, scope, responsible, ...}")
        return []
    rows: list[RaciAssignment] = []
    for index, entry in enumerate(raci):
        where = f"raci[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping")
            continue
        activity = entry.get("activity")
        if activity not in ACTIVITIES:
            problems.append(f"{where}.activity: '{activity}' is not one of {', '.join(ACTIVITIES)}")
            continue
        scope = entry.get("scope") or {}
        if not isinstance(scope, dict) or set(scope) - set(SCOPE_FIELDS):
            problems.append(f"{where}.scope: use only {', '.join(SCOPE_FIELDS)}")
            continue
        stakeholder_type = scope.get("stakeholder_type")
        if stakeholder_type is not None and stakeholder_type not in STAKEHOLDER_TYPES:
            problems.append(f"{where}.scope.stakeholder_type: unknown type '{stakeholder_type}'")
        department = _code(session, Department, scope.get("department"), where, problems)
        country = _code(session, Country, scope.get("country"), where, problems)
        area = _code(session, TherapeuticArea, scope.get("therapeutic_area"), where, problems)
        if not entry.get("responsible"):
            problems.append(f"{where}.responsible: every activity needs someone Responsible")
        for key, letter in LETTER_KEYS.items():
            parties = entry.get(key) or []
            if isinstance(parties, str):
                parties = [parties]
            for position, text in enumerate(parties):
                party = _party(session, str(text), f"{where}.{key}[{position}]", problems)
                if party is None:
                    continue
                rows.append(
                    RaciAssignment(
                        activity=activity,
                        letter=letter,
                        department_code=department,
                        country_code=country,
                        therapeutic_area_code=area,
                        stakeholder_type=stakeholder_type,
                        team_id=party.team_id,
                        user_id=party.user_id,
                    )
                )
    return rows


def _party(session: Session, text: str, where: str, problems: list[str]) -> Party | None:
    kind, _, name = text.partition(":")
    name = name.strip()
    if kind == "team":
        team = session.scalar(select(Team).where(Team.name == name))
        if team is None:
            problems.append(f"{where}: no team named '{name}' (declare it under 'teams')")
            return None
        return Party(team_id=team.id, user_id=None, label=f"team:{team.name}")
    if kind == "user":
        user = session.scalar(select(User).where(User.email == name.lower()))
        if user is None:
            problems.append(f"{where}: no user '{name}' (add one with `cpxm user add`)")
            return None
        return Party(team_id=None, user_id=user.id, label=f"user:{user.email}")
    problems.append(f"{where}: '{text}' should read 'team:NAME' or 'user:EMAIL'")
    return None


def resolve(
    session: Session,
    *,
    activity: str,
    department: str | None = None,
    country: str | None = None,
    therapeutic_area: str | None = None,
    stakeholder_type: str | None = None,
) -> Raci:
    """The R, A, C and I for ``activity`` in this scope: per letter, the most specific rows
    whose every filled scope field matches."""
    if activity not in ACTIVITIES:
        raise DomainError(f"unknown activity '{activity}'; choose one of {', '.join(ACTIVITIES)}")
    wanted = {
        "department_code": department,
        "country_code": country,
        "therapeutic_area_code": therapeutic_area,
        "stakeholder_type": stakeholder_type,
    }
    rows = session.scalars(select(RaciAssignment).where(RaciAssignment.activity == activity)).all()
    best: dict[str, tuple[int, list[RaciAssignment]]] = {}
    for row in rows:
        specificity = 0
        matches = True
        for column, value in wanted.items():
            required = getattr(row, column)
            if required is None:
                continue
            if required != value:
                matches = False
                break
            specificity += 1
        if not matches:
            continue
        current = best.get(row.letter)
        if current is None or specificity > current[0]:
            best[row.letter] = (specificity, [row])
        elif specificity == current[0]:
            current[1].append(row)
    labels = _labels(session, [row for _, found in best.values() for row in found])
    raci = Raci()
    for letter, (_, found) in best.items():
        parties = [
            Party(team_id=row.team_id, user_id=row.user_id, label=labels[row.id]) for row in found
        ]
        getattr(raci, KEY_OF_LETTER[letter]).extend(parties)
    return raci


def _labels(session: Session, rows: list[RaciAssignment]) -> dict[int, str]:
    team_ids = {row.team_id for row in rows if row.team_id is not None}
    user_ids = {row.user_id for row in rows if row.user_id is not None}
    teams = (
        dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids))).all())
        if team_ids
        else {}
    )
    users = (
        dict(session.execute(select(User.id, User.email).where(User.id.in_(user_ids))).all())
        if user_ids
        else {}
    )
    return {
        row.id: f"team:{teams[row.team_id]}"
        if row.team_id is not None
        else f"user:{users[row.user_id]}"  # type: ignore[index]
        for row in rows
    }


@dataclass(frozen=True)
class MatrixRow:
    activity: str
    scope: dict[str, str]
    parties: dict[str, list[str]]  # "responsible" -> ["team:...", ...]


def matrix(session: Session) -> list[MatrixRow]:
    """The matrix grouped by activity and scope, in a stable order, for the page and YAML."""
    rows = session.scalars(select(RaciAssignment).order_by(RaciAssignment.id)).all()
    labels = _labels(session, list(rows))
    grouped: dict[tuple[Any, ...], MatrixRow] = {}
    for row in rows:
        scope = {
            name: value
            for name, value in (
                ("department", row.department_code),
                ("country", row.country_code),
                ("therapeutic_area", row.therapeutic_area_code),
                ("stakeholder_type", row.stakeholder_type),
            )
            if value is not None
        }
        key = (row.activity, tuple(sorted(scope.items())))
        if key not in grouped:
            grouped[key] = MatrixRow(
                activity=row.activity,
                scope=scope,
                parties={name: [] for name in LETTER_KEYS},
            )
        grouped[key].parties[KEY_OF_LETTER[row.letter]].append(labels[row.id])
    order = {activity: position for position, activity in enumerate(ACTIVITIES)}
    return sorted(
        grouped.values(),
        key=lambda item: (order[item.activity], len(item.scope), sorted(item.scope.items())),
    )


def dump_matrix(session: Session) -> str:
    """The matrix as YAML that :func:`load_matrix` reads back unchanged."""
    teams = session.scalars(select(Team).order_by(Team.name)).all()
    document: dict[str, Any] = {
        "teams": [
            {
                key: value
                for key, value in (
                    ("name", team.name),
                    ("department", team.department_code),
                    ("country", team.country_code),
                    ("therapeutic_area", team.therapeutic_area_code),
                )
                if value is not None
            }
            for team in teams
        ],
        "raci": [
            {
                "activity": row.activity,
                **({"scope": row.scope} if row.scope else {}),
                **{key: parties for key, parties in row.parties.items() if parties},
            }
            for row in matrix(session)
        ],
    }
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


MATRIX_RECORD_KIND = "governance_matrix"
MATRIX_RECORD_ID = "raci"


def matrix_state(session: Session) -> dict[str, str]:
    """The matrix as signed: its YAML, which names every team, scope and party."""
    return {"yaml": dump_matrix(session)}


def replace_matrix(session: Session, *, text: str, signer: Signer) -> LoadReport:
    """Replace the matrix by ``text`` under ``signer``'s electronic signature.

    Routing decides who handles complaints, medical inquiries and safety cases, so a change is a
    regulated decision: it is signed, and the signature binds the new matrix's YAML.
    """
    report = load_matrix(session, text=text)
    signatures.sign(
        session,
        signer=signer,
        record_kind=MATRIX_RECORD_KIND,
        record_id=MATRIX_RECORD_ID,
        action="replace",
        state=matrix_state(session),
    )
    return report


def matrix_signatures(session: Session) -> list[tuple[ElectronicSignature, bool]]:
    """Every signed change of the matrix, oldest first, with whether it is the matrix now."""
    current = matrix_state(session)
    return [
        (signature, signatures.still_matches(signature, current))
        for signature in signatures.signatures_of(
            session, record_kind=MATRIX_RECORD_KIND, record_id=MATRIX_RECORD_ID
        )
    ]
