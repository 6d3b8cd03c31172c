"""Names standardised on evidence from the person's own e-mail and from the population.

Survivorship by agreement puts right what several sources spell alike; a value only one
system gives, or one every system spells differently, it cannot. A steward puts those right
from two kinds of evidence, and so does this module, one source record at a time, before the
sources vote:

- **the person's e-mail address** (``marc.fouquet@...``, ``mfouquet12@...``): it says what an
  initial stood for, the full name behind a nickname and how a name one slip away is spelt,
  and weighs a little on which name is the given name (many addresses put the surname first).
  It counts only where both of its parts match the record's two names, one of them exactly (or
  as an initial), so a family's shared address or another person's says nothing;
- **the population**: how often the store's other person records write a name as a given name
  and as a surname, and how they spell it. A surname in the given-name field that thousands
  of records hold as a surname and almost none as a given name was entered the wrong way
  round; a spelling no other record has, one slip from a name many records share, is a slip of
  the keyboard; a name written without the accents most records give it gets them back.

Nothing here reads an answer key: the counts are the store's own source records (``build``),
kept with each resolution run so that a merge accepted later chooses with the same evidence.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cpxm.identity.normalise import NICKNAMES

# A spelling at most this many records give (a slip of the keyboard is seldom made twice; a
# variant such as Jonathan against Jonathon is written by many) ...
RARE_RECORDS = 2
# ... is corrected to a neighbour one slip away that this many records hold ...
COMMON_RECORDS = 5
# ... and at least this many times as many as hold the spelling itself.
COMMON_RATIO = 5
# Records the population holds before its counts are evidence at all.
SMALLEST_POPULATION = 1_000
# Odds (given name : surname, as a product over both fields) from which a record's two names
# are read the other way round. The e-mail's order counts only as this factor: many people's
# addresses put the surname first (patients' private ones, whole companies).
SWAP_ODDS = 10.0
EMAIL_ORDER_ODDS = 3.0

_SEPARATORS = re.compile(r"[\W_]+")
_NOT_LETTERS = re.compile(r"[^a-z]")
_EMAIL_PARTS = re.compile(r"[._\-+]+")


def _letters(key: str) -> str:
    return _NOT_LETTERS.sub("", key)


@dataclass
class NamePopulation:
    """How the store's person records write names: counts per folded name as a given name
    and as a surname, and the commonest spelling of each (accents kept, not in capitals)."""

    first: dict[str, int] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    spelling: dict[str, str] = field(default_factory=dict)
    records: int = 0
    _neighbours: dict[str, dict[str, list[str]]] = field(default_factory=dict, repr=False)
    _found: dict[str, dict[str, str | None]] = field(default_factory=dict, repr=False)
    _by_letters: dict[str, str] | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "last": self.last,
            "spelling": self.spelling,
            "records": self.records,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> NamePopulation | None:
        if not data:
            return None
        return cls(
            first=dict(data.get("first", {})),
            last=dict(data.get("last", {})),
            spelling=dict(data.get("spelling", {})),
            records=int(data.get("records", 0)),
        )

    @property
    def usable(self) -> bool:
        return self.records >= SMALLEST_POPULATION

    def counts(self, attribute: str) -> dict[str, int]:
        return self.first if attribute == "first_name" else self.last

    def spelt(self, key: str) -> str | None:
        return self.spelling.get(key)

    def by_letters(self, letters: str) -> str | None:
        """The key whose letters these are (``desousa`` -> ``de sousa``), if one is known."""
        if self._by_letters is None:
            found: dict[str, str] = {}
            for counts in (self.last, self.first):
                for key in sorted(counts, key=lambda k: -counts[k]):
                    found.setdefault(_letters(key), key)
            self._by_letters = found
        return self._by_letters.get(letters)

    def usual(self, key: str) -> str:
        """The key, or the common name a rare key is one slip from (as either name)."""
        if self.first.get(key, 0) + self.last.get(key, 0) > RARE_RECORDS:
            return key
        return (
            self.common_neighbour("first_name", key)
            or self.common_neighbour("last_name", key)
            or key
        )

    def common_neighbour(self, attribute: str, key: str) -> str | None:
        """The one common key a slip away from a rare ``key``, if there is exactly one."""
        cache = self._found.setdefault(attribute, {})
        if key not in cache:
            cache[key] = self._common_neighbour(attribute, key)
        return cache[key]

    def _common_neighbour(self, attribute: str, key: str) -> str | None:
        counts = self.counts(attribute)
        own = counts.get(key, 0)
        if len(key) < 3 or own > RARE_RECORDS:
            return None
        index = self._neighbours.get(attribute)
        if index is None:
            index = defaultdict(list)
            for common, n in counts.items():
                if n >= COMMON_RECORDS and len(common) >= 3:
                    for variant in _deletions(common):
                        index[variant].append(common)
            self._neighbours[attribute] = index
        found = {
            common
            for variant in _deletions(key)
            for common in index.get(variant, ())
            if common != key
            and counts[common] >= max(COMMON_RECORDS, COMMON_RATIO * own)
            and one_slip(key, common)
        }
        return found.pop() if len(found) == 1 else None


def one_slip(left: str, right: str) -> bool:
    """Exactly one keying slip apart: a letter left out, added or changed, or two neighbours
    swapped. Linear, unlike the edit distance: it runs for every name and address part."""
    if left == right:
        return False
    if len(left) == len(right):
        differ = [i for i, (a, b) in enumerate(zip(left, right, strict=True)) if a != b]
        if len(differ) == 1:
            return True
        return (
            len(differ) == 2
            and differ[1] == differ[0] + 1
            and left[differ[0]] == right[differ[1]]
            and left[differ[1]] == right[differ[0]]
        )
    short, long = (left, right) if len(left) < len(right) else (right, left)
    if len(long) - len(short) != 1:
        return False
    index = next((i for i, (a, b) in enumerate(zip(short, long)) if a != b), len(short))  # noqa: B905
    return short[index:] == long[index + 1 :]


def _deletions(key: str) -> set[str]:
    """The key and every key with one character dropped: two keys one slip apart share one."""
    return {key} | {key[:i] + key[i + 1 :] for i in range(len(key))}


def name_key(attribute: str, value: str, fold: Any) -> str:
    """The folded key of a name (case, accents and punctuation aside), as the population
    counts it: ``Max`` as a surname and ``Max`` as a given name are one name."""
    key: str = fold(value) or ""
    return key


def build(names: Iterable[tuple[str | None, str | None]], fold: Any) -> NamePopulation:
    """The population of (first name, last name) pairs of the store's person records."""
    first: Counter[str] = Counter()
    last: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    records = 0
    for given, family in names:
        if not given and not family:
            continue
        records += 1
        for attribute, value, counts in (
            ("first_name", given, first),
            ("last_name", family, last),
        ):
            if not value:
                continue
            key = name_key(attribute, value, fold)
            if len(key) < 2:
                continue  # an initial says nothing about how a name is written
            counts[key] += 1
            if not (value.isupper() or value.islower()):
                spellings[fold(value) or key][value] += 1
    spelling = {
        key: min(seen, key=lambda s: (-seen[s], -_accents(s), s)) for key, seen in spellings.items()
    }
    return NamePopulation(dict(first), dict(last), spelling, records)


def _accents(value: str) -> int:
    return sum(1 for ch in value if not ch.isascii())


@dataclass(frozen=True)
class Standardised:
    """A record's names after standardisation, and for each changed field why."""

    first_name: str | None
    last_name: str | None
    notes: dict[str, str]


def _email_cuts(addresses: Iterable[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Each address's local part in letters cut at each separator into (given name, surname)
    as written (``juan.pablo.perez``: juan + pabloperez, juanpablo + perez); and one word read
    as an initial and the surname (``jperez12``: j + perez), as mail services suggest."""
    cuts: list[tuple[str, str]] = []
    initials: list[tuple[str, str]] = []
    for address in dict.fromkeys(addresses):
        found, initial = _address_cuts(address)
        cuts.extend(found)
        initials.extend(initial)
    return cuts, initials


@lru_cache(maxsize=100_000)
def _address_cuts(address: str) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    local = address.partition("@")[0].lower()
    parts = [p for p in (_letters(p) for p in _EMAIL_PARTS.split(local)) if p]
    cuts = tuple(("".join(parts[:i]), "".join(parts[i:])) for i in range(1, len(parts)))
    if len(parts) == 1 and len(parts[0]) >= 5:
        return cuts, ((parts[0][:1], parts[0][1:]),)
    return cuts, ()


def _matches(letters: str, part: str) -> int:
    """2 when equal, 1 when one slip apart (a name of four letters or more), else 0."""
    if not letters or not part:
        return 0
    if letters == part:
        return 2
    if (len(letters) == 1 or len(part) == 1) and letters[0] == part[0]:
        return 1  # an initial
    if min(len(letters), len(part)) >= 4 and one_slip(letters, part):
        return 1
    return 0


def standardise(
    first: str | None,
    last: str | None,
    *,
    addresses: Iterable[str],
    population: NamePopulation | None,
    fold: Any,
    given_by: Mapping[tuple[str, str], int],
    spellings: Mapping[str, str],
) -> Standardised:
    """One record's given name and surname as the evidence says they are written."""
    notes: dict[str, str] = {}
    if not first and not last:
        return Standardised(first, last, notes)
    addresses = list(addresses)
    cuts, initials = _email_cuts(addresses)
    # Either part may be the given name: many write their address surname first.
    emails = [*cuts, *((b, a) for a, b in cuts), *initials]
    first_key = name_key("first_name", first, fold) if first else ""
    last_key = name_key("last_name", last, fold) if last else ""

    # 1. Order: the e-mail's, and how the population uses each name.
    if first_key and last_key and first_key != last_key:
        odds = 1.0
        evidence: list[str] = []
        if population is not None and population.usable:
            pop_odds = _as_given(population, population.usual(last_key)) * _as_surname(
                population, population.usual(first_key)
            )
            if pop_odds > 1:
                odds *= pop_odds
                evidence.append("the population")
        entered = turned = False
        first_letters, last_letters = _letters(first_key), _letters(last_key)
        # (given, surname) as the address writes them, and jsmith@'s initial and surname.
        for given, family in cuts:
            entered |= _matches(first_letters, given) + _matches(last_letters, family) >= 3
            turned |= _matches(last_letters, given) + _matches(first_letters, family) >= 3
        for given, family in initials:  # jsmith@ says which name is the surname
            entered |= first_letters[:1] == given and _matches(last_letters, family) > 0
            turned |= last_letters[:1] == given and _matches(first_letters, family) > 0
        if turned and not entered:
            odds *= EMAIL_ORDER_ODDS
            evidence.append("the e-mail")
        elif entered:
            odds /= EMAIL_ORDER_ODDS
        if odds >= SWAP_ODDS:
            first, last = last, first
            first_key, last_key = (
                name_key("first_name", first or "", fold),
                name_key("last_name", last or "", fold),
            )
            note = "first and last name turned by " + " and ".join(evidence)
            notes["first_name"] = notes["last_name"] = note

    # 2. Each name against the e-mail: an initial spelt out, a nickname's full name, a slip.
    # Twice round: a surname put right lets the address spell out the initial beside it.
    spelt_by_email: set[str] = set()
    for attribute in ("first_name", "last_name", "first_name") if emails else ():
        if attribute in spelt_by_email:
            continue
        value = first if attribute == "first_name" else last
        key = first_key if attribute == "first_name" else last_key
        other_key = last_key if attribute == "first_name" else first_key
        if not value or not other_key:
            continue
        fixed = _from_email(attribute, value, key, other_key, emails, population, fold, spellings)
        if fixed is None:
            continue
        new_value, why = fixed
        if attribute == "first_name":
            first, first_key = new_value, name_key(attribute, new_value, fold)
        else:
            last, last_key = new_value, name_key(attribute, new_value, fold)
        notes[attribute] = _joined(notes.get(attribute), why)
        spelt_by_email.add(attribute)

    # 3. A rare spelling one slip from a common name, unless another record of the person
    # spells it so too: two systems seldom make one slip.
    if population is not None and population.usable:
        for attribute in ("first_name", "last_name"):
            value = first if attribute == "first_name" else last
            if not value or attribute in spelt_by_email:
                continue
            key = name_key(attribute, value, fold)
            common = population.common_neighbour(attribute, key)
            if common is None or given_by.get((attribute, key), 0) >= 2:
                continue
            spelt = spellings.get(_letters(common)) or population.spelt(common)
            if spelt is None:
                continue
            counts = population.counts(attribute)
            why = f"{value} spelt so by {counts.get(key, 0)} records, {spelt} by {counts[common]}"
            notes[attribute] = _joined(notes.get(attribute), why)
            if attribute == "first_name":
                first = spelt
            else:
                last = spelt
    return Standardised(first, last, notes)


def _joined(before: str | None, why: str) -> str:
    return f"{before}; {why}" if before else why


def _as_given(population: NamePopulation, key: str) -> float:
    """Odds that a name is a given name rather than a surname, from the records' use of it."""
    return (population.first.get(key, 0) + 1) / (population.last.get(key, 0) + 1)


def _as_surname(population: NamePopulation, key: str) -> float:
    return 1 / _as_given(population, key)


def accented(value: str, population: NamePopulation | None, fold: Any) -> str:
    """The population's spelling when most records write this name with the accents
    ``value`` lacks (``Gerard`` -> ``Gérard``); else ``value``."""
    if population is None or not population.usable or (value.isupper() and len(value) > 1):
        return value
    spelt = population.spelt(fold(value) or "")
    if spelt is not None and _accents(spelt) > _accents(value) and spelt.lower() != value.lower():
        return spelt
    return value


def _from_email(
    attribute: str,
    value: str,
    key: str,
    other_key: str,
    emails: list[tuple[str, str]],
    population: NamePopulation | None,
    fold: Any,
    spellings: Mapping[str, str],
) -> tuple[str, str] | None:
    """The name the e-mail spells where this one is an initial, a nickname or a slip."""
    own, other = _letters(key), _letters(other_key)
    for given, family in emails:
        mine, theirs = (given, family) if attribute == "first_name" else (family, given)
        if len(mine) < 2 or not (
            other == theirs
            or (len(other) == 1 and theirs[:1] == other)
            or (len(theirs) == 1 and other[:1] == theirs)
        ):
            continue  # the other name must be the e-mail's exactly (or an initial of it)
        if own == mine:
            return None  # the e-mail spells it as the record does
        if len(own) == 1 and mine[:1] == own:
            why = "the initial spelt out by the e-mail"
        elif attribute == "first_name" and _letters(NICKNAMES.get(fold(value) or "", "")) == mine:
            why = "the full name of the nickname, as in the e-mail"
        elif len(own) >= 4 and one_slip(own, mine):
            why = "spelt as in the e-mail"
        else:
            continue
        # As the person's other records write it, else as the population does.
        spelt = spellings.get(mine)
        if spelt is None and population is not None:
            found = population.by_letters(mine)
            spelt = population.spelt(found) if found else None
        if spelt is None:
            if len(own) == 1:
                continue  # a spelling no record gives (accents, capitals) is not invented
            spelt = mine.capitalize() if value[:1].isupper() else mine
            if _letters(fold(spelt) or "") != mine:
                continue
        return spelt, why
    return None
