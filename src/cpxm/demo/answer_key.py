"""The golden records scored against the demo's answer key, attribute by attribute.

Identity resolution is scored pair by pair elsewhere (``benchmarks/identity_demo.py``); this
asks what a steward sees: does the golden record show the person's true name, birth date and
e-mail? Each golden person record is compared with the true person most of its source records
belong to, so a wrong link costs here too.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from cpxm.identity.survivorship import _folded, golden_values
from cpxm.schema import metadata

SCORED = ("first_name", "last_name", "birth_date", "email")
T = metadata.tables


@dataclass
class AttributeScore:
    """One attribute over the golden person records whose true person has a value for it.

    Counts are kept by how many of the golden record's sources give the attribute (1, 2, 3
    for three or more): a value one system alone misspelt cannot be put right by any rule,
    so the accuracy that survivorship answers for is the one over records with several.
    """

    attribute: str
    equal: Counter[int] = field(default_factory=Counter)
    wrong: Counter[int] = field(default_factory=Counter)
    missing: int = 0  # the person has a value, the golden record none
    # Of the wrong ones, golden names that are only the true name's initial (``M.`` for Maaya):
    # no source gave more, so no rule could show the name.
    initials: Counter[int] = field(default_factory=Counter)
    examples: list[tuple[int, Any, Any]] = field(default_factory=list)  # id, golden, true

    def shown(self, sources: int = 1) -> int:
        """Golden records showing a value that ``sources`` or more of their records give."""
        return self.right(sources) + sum(n for k, n in self.wrong.items() if k >= sources)

    def right(self, sources: int = 1) -> int:
        return sum(n for k, n in self.equal.items() if k >= sources)

    def accuracy(self, sources: int = 1) -> float:
        """Of the values shown, with at least ``sources`` sources, the share equal to the truth."""
        shown = self.shown(sources)
        return self.right(sources) / shown if shown else 1.0

    def initial_only(self, sources: int = 1) -> int:
        return sum(n for k, n in self.initials.items() if k >= sources)

    def accuracy_in_full(self, sources: int = 1) -> float:
        """The same, leaving out golden names that are only an initial of the true name."""
        shown = self.shown(sources) - self.initial_only(sources)
        return self.right(sources) / shown if shown else 1.0


def golden_accuracy(connection: Connection, examples: int = 10) -> dict[str, AttributeScore]:
    """Per attribute, how many golden person records show the true value, a wrong one or none."""
    truth, stakeholders, records = T["demo_source_truth"], T["stakeholders"], T["source_records"]
    countries = set(connection.scalars(select(T["countries"].c.code)))
    votes: dict[int, Counter[int]] = defaultdict(Counter)
    sources: dict[int, Counter[str]] = defaultdict(Counter)
    true_values: dict[int, tuple[Any, ...]] = {}
    for row in connection.execute(
        select(
            records.c.stakeholder_id,
            records.c.attributes,
            truth.c.true_stakeholder_id,
            *(truth.c[name] for name in SCORED),
        )
        .join(truth, truth.c.source_record_id == records.c.id)
        .where(truth.c.last_name.is_not(None) | truth.c.first_name.is_not(None))
    ):
        if row.stakeholder_id is None:
            continue
        votes[row.stakeholder_id][row.true_stakeholder_id] += 1
        true_values[row.true_stakeholder_id] = tuple(row[3:])
        given = golden_values(row.attributes or {}, countries)
        sources[row.stakeholder_id].update(name for name in SCORED if given.get(name))
    scores = {name: AttributeScore(name) for name in SCORED}
    golden_rows = connection.execute(
        select(stakeholders.c.id, *(stakeholders.c[name] for name in SCORED)).where(
            stakeholders.c.status == "active"
        )
    )
    for row in golden_rows:
        counts = votes.get(row.id)
        if not counts:
            continue
        person = min(counts.items(), key=lambda item: (-item[1], item[0]))[0]
        for name, golden, true in zip(SCORED, row[1:], true_values[person], strict=True):
            score = scores[name]
            if true is None:
                continue  # nothing to be right about (an e-mail the person never gave)
            given_by = min(sources[row.id][name], 3)
            if golden is None:
                score.missing += 1
            elif golden == true:
                score.equal[given_by] += 1
            else:
                score.wrong[given_by] += 1
                if _initial_of(golden, true):
                    score.initials[given_by] += 1
                elif len(score.examples) < examples:
                    score.examples.append((row.id, golden, true))
    return scores


def _initial_of(golden: Any, true: Any) -> bool:
    """``M.`` (or ``M``) shown for Maaya."""
    if not isinstance(golden, str) or not isinstance(true, str):
        return False
    letters = _folded(golden)
    return len(letters) == 1 and _folded(true).startswith(letters)


@dataclass
class Disagreement:
    """Golden records showing a last name most of their own sources agree against."""

    records: int  # golden person records with three or more sources giving a last name
    outvoted: int
    examples: list[tuple[int, str, list[str]]]  # id, golden last name, the sources' ones

    @property
    def share(self) -> float:
        return self.outvoted / self.records if self.records else 0.0


NAME_FIELDS = ("first_name", "last_name", "given_name", "family_name", "first", "last")


def outvoted_last_names(
    connection: Connection, *, full_names: bool = True, examples: int = 10
) -> Disagreement:
    """The issue's measure, with no answer key: more than half of a golden record's sources
    agree on a last name other than the one it shows (letter case aside; accents count, except
    that showing Müller where most sources wrote Muller is the spelling a steward wants).

    ``full_names=False`` counts only sources with a last-name field of their own, leaving out
    those known by one name field (``Dr G. Downs``): the measure as issue 16 took it."""
    stakeholders, records = T["stakeholders"], T["source_records"]
    countries = set(connection.scalars(select(T["countries"].c.code)))
    given: dict[int, list[str]] = defaultdict(list)
    for stakeholder_id, attributes in connection.execute(
        select(records.c.stakeholder_id, records.c.attributes).where(
            records.c.stakeholder_id.is_not(None)
        )
    ):
        attributes = attributes or {}
        if not full_names and not any(attributes.get(key) for key in NAME_FIELDS):
            continue
        last = golden_values(attributes, countries).get("last_name")
        if last:
            given[stakeholder_id].append(str(last))
    found = Disagreement(0, 0, [])
    for stakeholder_id, last_name in connection.execute(
        select(stakeholders.c.id, stakeholders.c.last_name).where(
            stakeholders.c.status == "active", stakeholders.c.kind == "person"
        )
    ):
        names = given.get(stakeholder_id, [])
        if len(names) < 3 or last_name is None:
            continue
        found.records += 1
        spelling, agreeing = Counter(name.casefold() for name in names).most_common(1)[0]
        if (
            spelling != last_name.casefold()
            and agreeing * 2 > len(names)
            and not _accented_spelling_of(last_name, spelling)
        ):
            found.outvoted += 1
            if len(found.examples) < examples:
                found.examples.append((stakeholder_id, last_name, names))
    return found


def _accented_spelling_of(shown: str, spelling: str) -> bool:
    return _folded(shown) == _folded(spelling) and sum(not ch.isascii() for ch in shown) > sum(
        not ch.isascii() for ch in spelling
    )
