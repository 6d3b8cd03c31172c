"""Golden-record attributes chosen per attribute from a stakeholder's source records.

Per attribute, among the records that know a value, values are grouped by what they say rather
than how they are written (case, spacing, accents, nicknames and initials folded; phones by
their digits). The value most records agree on wins: a trusted source's typo does not outvote
two other systems that spell the name alike. When no value has more support than another, the
most trusted source system wins, then the most recently updated record, then the most complete
one (most attributes known), then the lowest record id so the choice is stable. Within the
winning group the shown spelling is the fullest one: a name rather than a nickname or an
initial, with its accents, in mixed case rather than a system's capitals.

A record whose first and last name are the other records' last and first name was entered the
wrong way round: it votes with its names swapped. The rule that decided and a reason a steward
can read ("agreement 3 of 4", "most trusted source") are kept with the value
(``identity_attribute_provenance``), so a reader can tell why a name is there.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from cpxm.identity.normalise import NICKNAMES, TITLES, _kind, _phone, fold
from cpxm.identity.standardise import (
    COMMON_RATIO,
    COMMON_RECORDS,
    NamePopulation,
    accented,
    build,
    name_key,
    standardise,
)
from cpxm.stakeholders.models import STAKEHOLDER_TYPES

DEFAULT_TRUST_ORDER = (
    "crm",
    "medical_information",
    "patient_support",
    "events",
    "call_centre",
    "email_platform",
)
ATTRIBUTES = (
    "type",
    "first_name",
    "last_name",
    "display_name",
    "specialty",
    "professional_id",
    "email",
    "phone",
    "address_line",
    "postal_code",
    "city",
    "country_code",
    "language",
    "birth_date",
)
RULES = ("only_source", "agreement", "trust", "recency", "completeness")
REASONS = {
    "only_source": "only source",
    "trust": "most trusted source",
    "recency": "most recent",
    "completeness": "most complete record",
}
ONLY_SOURCE = REASONS["only_source"]
# Words before a surname that belong to it (lower-cased).
PARTICLES = frozenset(
    "de del della der den di da das do dos du la le van von ten ter zu st st. bin ibn al el".split()  # noqa: SIM905
)
# Titles written before a name; "M." is left alone, as it is as often an initial as Monsieur.
_TITLES = TITLES - {"m"}
TYPE_WORDS = {"consumer": "patient", "physician": "hcp", "nurse": "hcp", "pharmacist": "hcp"}


@dataclass(frozen=True)
class Candidate:
    """One source record as survivorship sees it."""

    record_id: int
    source_system: str
    updated_at: datetime
    values: dict[str, Any]  # golden-record fields this record knows


class Choice(NamedTuple):
    """The surviving value, the record it was taken from, the rule that decided and why."""

    value: Any
    record_id: int
    rule: str  # one of RULES
    reason: str  # for a steward: "agreement 3 of 4", "most trusted source" ...


def _flat(attributes: dict[str, Any]) -> dict[str, Any]:
    """The record's known values in one level: a value in ``address`` counts where the top
    level has none (``address.zip``); empty strings and nested objects are not values."""
    flat: dict[str, Any] = {}
    nested = attributes.get("address")
    for source in (nested if isinstance(nested, dict) else {}, attributes):
        for key, value in source.items():
            if value is not None and value != "" and not isinstance(value, dict):
                flat[key] = value
    return flat


def _get(flat: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = flat.get(key)
        if value is not None:
            return value
    return None


def _name_parts(attributes: dict[str, Any]) -> tuple[str | None, str | None]:
    first = _get(attributes, "first_name", "given_name", "first")
    last = _get(attributes, "last_name", "family_name", "last")
    if first or last:
        return first, last
    # A person known by one name field (an import's ``name``, a registration's attendee) is
    # split as people write names, so its first and last name can agree with other systems'.
    full = _get(attributes, "name", "attendee", "requester_name", "caller_name")
    if not full:
        return None, None
    text = str(full)
    if "," in text:
        last_part, _, first_part = text.partition(",")
        return first_part.strip() or None, last_part.strip() or None
    tokens = text.split()
    while len(tokens) > 1 and tokens[0].rstrip(".").lower() in _TITLES:
        tokens = tokens[1:]
    if len(tokens) < 2:
        return None, tokens[0] if tokens else None
    # The particles before a surname belong to it: Zacharie Le Roux, Ana de la Fuente.
    split = len(tokens) - 1
    if split > 1 and tokens[split].lower() in PARTICLES:
        split -= 1  # a surname filed particle last (Dussen van) keeps its particle
    while split > 1 and tokens[split - 1].lower() in PARTICLES:
        split -= 1
    return " ".join(tokens[:split]), " ".join(tokens[split:])


def golden_values(attributes: dict[str, Any], countries: set[str]) -> dict[str, Any]:
    """The golden-record fields one source record knows, in the store's types."""
    kind = _kind(attributes)
    attributes = _flat(attributes)
    raw_type = _get(attributes, "type", "account_type", "role", "caller_type", "requester_type")
    folded = str(raw_type).strip().lower().replace(" ", "_") if raw_type else None
    stakeholder_type = TYPE_WORDS.get(folded or "", folded)
    values: dict[str, Any] = {
        "type": stakeholder_type if stakeholder_type in STAKEHOLDER_TYPES else None,
        "specialty": _get(attributes, "specialty", "profession"),
        "professional_id": _get(attributes, "professional_id"),
        "email": (str(_get(attributes, "email", "email_address") or "").lower() or None),
        "phone": _get(attributes, "phone", "phone_number", "mobile"),
        "address_line": _get(attributes, "address_line", "street", "line1"),
        "postal_code": _get(attributes, "postal_code", "postcode", "zip"),
        "city": _get(attributes, "city"),
        "language": _get(attributes, "language", "lang"),
    }
    country = _get(attributes, "country")
    values["country_code"] = country if country in countries else None
    birth = _get(attributes, "birth_date", "dob", "date_of_birth")
    try:
        values["birth_date"] = date.fromisoformat(str(birth)[:10]) if birth else None
    except ValueError:
        values["birth_date"] = None
    if kind == "organisation":
        name = _get(attributes, "account_name", "name")
        values |= {"first_name": None, "last_name": None, "display_name": name}
    else:
        first, last = _name_parts(attributes)
        full = " ".join(part for part in (first, last) if part) or None
        values |= {"first_name": first, "last_name": last, "display_name": full}
    for key, value in values.items():
        if isinstance(value, str):
            values[key] = value.strip() or None
    return values


_SEPARATORS = re.compile(r"[\W_]+")
_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Za-z]")
_NOT_LETTERS = re.compile(r"[^a-z]")
# Attributes whose values are compared as codes: spacing and punctuation mean nothing.
_CODES = ("postal_code", "professional_id")
Rank = tuple[int, float, int, int]


@lru_cache(maxsize=200_000)
def _folded(text: str) -> str:
    """Case, spacing, punctuation and accents folded: Gérard, GERARD and gerard alike."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", text.casefold()).strip()


def _agreement_key(attribute: str, value: Any) -> Any:
    """What a value says, so that differently written values of one thing agree."""
    if not isinstance(value, str):
        return value
    if attribute == "email":
        return value.strip().lower()
    if attribute == "phone":
        # International, national and trunk formats of one number share their last digits.
        return _phone(value) or _folded(value)
    if attribute in _CODES:
        return _NOT_ALPHANUMERIC.sub("", value).upper() or value
    key = _folded(value) or value
    if attribute == "first_name":
        return " ".join(NICKNAMES.get(token, token) for token in key.split())
    return key


def _transliterated_key(attribute: str, value: Any) -> Any:
    """The key of the value with umlauts written out (Müller -> mueller), so a system that
    transliterates agrees with one that keeps them; ``None`` when it is the same key."""
    if not isinstance(value, str) or value.isascii() or attribute not in _TEXT_NAMES:
        return None
    written_out = fold(value)
    return written_out if written_out != _folded(value) else None


_TEXT_NAMES = ("first_name", "last_name", "display_name", "city", "address_line")


def _is_initial(key: Any) -> bool:
    return isinstance(key, str) and len(key) == 1


def _is_nickname(value: str) -> bool:
    return any(token in NICKNAMES for token in _folded(value).split())


_DOUBLED_SEPARATOR = re.compile(r"([-' .])\1")


def _shown_preference(attribute: str, value: Any) -> tuple[bool, bool, int, bool]:
    """Lower is better: a name over its nickname, no doubled hyphen or space (a slip of the
    keyboard: Klaus--Jürgen), accents kept, mixed case over capitals."""
    if not isinstance(value, str):
        return (False, False, 0, False)
    if attribute == "email":
        return (False, False, 0, value != value.lower())  # addresses are shown as written to
    nickname = attribute == "first_name" and _is_nickname(value)
    doubled = _DOUBLED_SEPARATOR.search(value) is not None
    accents = sum(1 for ch in value if not ch.isascii())
    one_case = value == value.upper() or value == value.lower()
    return (nickname, doubled, -accents, one_case)


def _rule_between(winner: Rank, runner_up: Rank) -> str:
    """Which tie-break separated the best records of two equally supported values."""
    if winner[0] != runner_up[0]:
        return "trust"
    if winner[1] != runner_up[1]:
        return "recency"
    return "completeness"


def _swapped_records(ranked: Sequence[tuple[Rank, Candidate]]) -> frozenset[int]:
    """Records whose first and last name are the others' last and first name.

    A record is a suspect when its names, read the other way round, agree with more of the
    other records than as entered (a slip of the keyboard or an initial still agrees); it is
    swapped only if that still holds counting the records that are not suspects themselves,
    so two records that differ only in order (one of them is right, nothing says which) are
    left as they are.
    """
    names = []
    for _, c in ranked:
        first, last = c.values.get("first_name"), c.values.get("last_name")
        if isinstance(first, str) and isinstance(last, str):
            first_key, last_key = _folded(first), _folded(last)
            if first_key and last_key and first_key != last_key:
                names.append((c.record_id, first_key, last_key))
    if len(names) < 2 or len(names) > _MOST_NAMES_COMPARED:
        return _NONE
    if len({(first, last) for _, first, last in names}) == 1 or {n[1][0] for n in names}.isdisjoint(
        n[2][0] for n in names
    ):
        return _NONE  # all alike, or no first name of one starts as another's last name

    def votes(among: Sequence[tuple[int, str, str]]) -> set[int]:
        swapped = set()
        for record_id, first, last in names:
            as_entered = turned = 0
            for other_id, other_first, other_last in among:
                if other_id != record_id:
                    as_entered += _alike(first, other_first) + _alike(last, other_last)
                    turned += _alike(last, other_first) + _alike(first, other_last)
            if turned > as_entered:
                swapped.add(record_id)
        return swapped

    suspects = votes(names)
    if not suspects:
        return _NONE
    return frozenset(suspects & votes([n for n in names if n[0] not in suspects]))


# Records of one golden record compared pairwise for swapped names; more is a mass duplicate.
_MOST_NAMES_COMPARED = 30


def _alike(left: str, right: str) -> bool:
    """One name however keyed: the same, an initial of the other, or one slip apart."""
    if left == right:
        return True
    if len(left) == 1 or len(right) == 1:
        return left[0] == right[0]
    return (
        min(len(left), len(right)) >= 4
        and abs(len(left) - len(right)) <= 1
        and (_slips(left, right) <= 1)
    )


_NONE: frozenset[int] = frozenset()


class _Group:
    """Records whose values for one attribute say the same thing."""

    __slots__ = ("best", "shown", "support", "swapped")

    def __init__(self, rank: Rank) -> None:
        self.best = rank  # of its best-ranked record: ties between groups fall back to it
        self.support = 0
        self.swapped = 0
        self.shown: list[tuple[Rank, Candidate, Any]] = []

    def add(self, rank: Rank, swapped: bool) -> None:
        self.support += 1
        self.swapped += swapped
        self.best = min(self.best, rank)

    def absorb(self, other: _Group) -> None:
        self.support += other.support
        self.swapped += other.swapped
        self.best = min(self.best, other.best)
        self.shown += other.shown


def _choose_one(
    attribute: str,
    known: Sequence[tuple[Rank, Candidate, Any, bool]],
    addresses: Sequence[str] = (),
    population: NamePopulation | None = None,
) -> Choice:
    """The surviving value of one attribute among the (rank, record, value, swapped) that
    know it, in rank order; ``addresses``: the letters of the person's e-mail addresses;
    ``population``: how the store writes names, for ties between two spellings of one."""
    _, best, value, _ = known[0]
    if len(known) == 1:
        return Choice(value, best.record_id, "only_source", REASONS["only_source"])
    if all(other == value for _, _, other, _ in known):
        # Most attributes of most golden records: every source writes it alike.
        reason = f"agreement {len(known)} of {len(known)}"
        swapped = sum(1 for *_, turned in known if turned)
        if swapped:
            reason += f", {swapped} with first and last name swapped"
        return Choice(value, best.record_id, "agreement", reason)
    groups: dict[Any, _Group] = {}
    initials: list[tuple[Rank, Candidate, Any, bool, str]] = []
    for rank, c, value, swapped in known:
        key = _agreement_key(attribute, value)
        if attribute == "first_name" and _is_initial(key):
            initials.append((rank, c, value, swapped, key))
            continue
        group = groups.setdefault(key, _Group(rank))
        group.add(rank, swapped)
        group.shown.append((rank, c, value))
    # One group per person however a system writes umlauts: Müller, Muller and Mueller.
    for key in list(groups):
        keeper = groups.get(key)
        if keeper is None:
            continue  # absorbed already
        for _, _, value in list(keeper.shown):
            other_key = _transliterated_key(attribute, value)
            if other_key is not None and other_key != key and other_key in groups:
                keeper.absorb(groups.pop(other_key))
    full_names = {k: g for k, g in groups.items() if isinstance(k, str)}
    for rank, c, value, swapped, initial in initials:
        # An initial agrees with the full name it abbreviates and is never shown over it; when
        # several start with its letter (Candelas and a typo's Caandelas) it takes no side.
        matches = [g for k, g in full_names.items() if k[:1] == initial]
        if len(matches) == 1:
            matches[0].add(rank, swapped)
        elif not matches:
            group = groups.setdefault(initial, _Group(rank))
            group.add(rank, swapped)
            group.shown.append((rank, c, value))
    ordered = sorted(groups.values(), key=lambda g: (-g.support, g.best))
    winner = ordered[0]
    total = len(known)
    if len(ordered) == 1 or winner.support > ordered[1].support:
        rule, reason = "agreement", f"agreement {winner.support} of {total}"
    else:
        tied = [g for g in ordered if g.support == winner.support]
        spelled = [g for g in tied if _in_addresses(g, addresses)]
        names = attribute in ("first_name", "last_name")
        written_out = [g for g in tied if not _is_initial(_folded(str(g.shown[0][2])))]
        # Each rule asks whether the tied values are spellings of one name only when its own
        # evidence is there: the slips between two street addresses cost a millisecond a pair.
        usual = _most_written(attribute, tied, population) if names else None
        if len(spelled) == 1 and _spellings_of_one_name(tied):
            # Two systems, two spellings: the one the person's e-mail address is made of
            # (rangel in gregory.rangel@...) is not the one with the slip of the keyboard.
            winner = spelled[0]
            rule, reason = "agreement", f"agreement {winner.support} of {total} and the e-mail"
        elif len(written_out) == 1 and attribute == "first_name" and _one_surname(tied):
            # Catherine against K.: an initial of another letter (heard, not read) says less
            # than a name written out in full.
            winner = written_out[0]
            rule = "agreement"
            reason = f"agreement {winner.support} of {total}, written out against an initial"
        elif usual is not None and _spellings_of_one_name(tied):
            winner, count = usual
            rule = "agreement"
            reason = (
                f"agreement {winner.support} of {total}, as {count} records of the store spell it"
            )
        elif (
            central := _closest_to_the_others(tied, ordered) if len(ordered) > 2 else None
        ) is not None:
            winner = central
            rule = "agreement"
            reason = f"agreement {winner.support} of {total}, closest to the other spellings"
        else:
            rule = _rule_between(winner.best, ordered[1].best)
            reason = REASONS[rule]
    if rule == "agreement" and winner.swapped:
        reason += f", {winner.swapped} with first and last name swapped"
    _, shown_record, shown_value = winner.shown[0]
    if any(value != shown_value for _, _, value in winner.shown):
        spelling = Counter(value for _, _, value in winner.shown)
        _, shown_record, shown_value = min(
            winner.shown,
            key=lambda item: (_shown_preference(attribute, item[2]), -spelling[item[2]], item[0]),
        )
    return Choice(shown_value, shown_record.record_id, rule, reason)


def _closest_to_the_others(tied: Sequence[_Group], groups: Sequence[_Group]) -> _Group | None:
    """Of spellings equally supported, the one the other spellings are slips of, if one is.

    Slips scatter around the true spelling: Amna and Anan are each one slip from Anna and
    two from each other. Only spellings of one name count; two names tell nothing.
    """
    if not _spellings_of_one_name(groups):
        return None
    words = {id(g): _folded(str(g.shown[0][2])) for g in groups}
    distance = {
        id(g): sum(
            other.support * _slips(words[id(g)], words[id(other)])
            for other in groups
            if other is not g
        )
        for g in tied
    }
    ranked = sorted(tied, key=lambda g: distance[id(g)])
    return ranked[0] if distance[id(ranked[0])] < distance[id(ranked[1])] else None


def _one_surname(groups: Sequence[_Group]) -> bool:
    """Whether the records behind these given names agree on the surname (a slip aside): a
    given name against an initial means nothing where the records differ in order too."""
    surnames = {
        _folded(str(c.values.get("last_name") or "")) for g in groups for _, c, _ in g.shown
    }
    first = next(iter(surnames))
    return bool(first) and all(other and _alike(first, other) for other in surnames)


def _most_written(
    attribute: str, tied: Sequence[_Group], population: NamePopulation | None
) -> tuple[_Group, int] | None:
    """Of two spellings of one name equally supported, the one the store's records write far
    more often (Gérard against Gérrd), and how many write it: a slip is seldom made twice,
    a name is shared by many. Thresholds as for the population's own corrections."""
    if population is None or not population.usable or attribute not in ("first_name", "last_name"):
        return None
    counts = population.counts(attribute)
    written = sorted(
        ((counts.get(_folded(str(g.shown[0][2])), 0), i) for i, g in enumerate(tied)), reverse=True
    )
    (most, best), runner_up = written[0], written[1][0]
    if most >= max(COMMON_RECORDS, COMMON_RATIO * runner_up):
        return tied[best], most
    return None


def _spellings_of_one_name(groups: Sequence[_Group]) -> bool:
    """Whether the values differ as slips of the keyboard do, not as two names (a first and
    a last name the other way round) do: those an address holding both cannot decide."""
    words = [_folded(str(g.shown[0][2])) for g in groups]
    # Each a slip or two from another: Anan and Amna are two apart, each one from Anna.
    return all(
        any(
            abs(len(word) - len(other)) <= min(2, len(word) // 3)
            and _slips(word, other) <= min(2, len(word) // 3)
            for other in words
            if other is not word
        )
        for word in words
    )


def _slips(left: str, right: str) -> int:
    """Keying slips between two words: letters left out, added, changed or swapped with the
    next (the optimal string alignment distance)."""
    if left == right:
        return 0
    previous2: list[int] = []
    previous = list(range(len(right) + 1))
    for i, a in enumerate(left, 1):
        current = [i]
        for j, b in enumerate(right, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b))
            if i > 1 and j > 1 and a == right[j - 2] and left[i - 2] == b:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]


def _in_addresses(group: _Group, addresses: Sequence[str]) -> bool:
    """Whether the name is spelled out in one of the person's e-mail addresses."""
    if not addresses:
        return False
    for _, _, value in group.shown:
        letters = _NOT_LETTERS.sub("", _folded(str(value)))
        if len(letters) >= 3 and any(letters in address for address in addresses):
            return True
    return False


def _person_name(chosen: dict[str, Choice]) -> None:
    """Names in capitals written as names, and a person's shown name made of them."""
    for attribute in ("first_name", "last_name"):
        choice = chosen.get(attribute)
        if choice is not None and _in_capitals(choice.value):
            # A system that keeps names in capitals (French CRMs keep surnames so) says
            # nothing about how the name is written: a steward shows it as a name.
            chosen[attribute] = choice._replace(
                value=_as_name(choice.value), reason=f"{choice.reason}, capitals written as a name"
            )
    first, last = chosen.get("first_name"), chosen.get("last_name")
    named = last or first
    if named is not None:
        chosen["display_name"] = Choice(
            " ".join(str(c.value) for c in (first, last) if c is not None),
            named.record_id,
            named.rule,
            "the chosen first and last name",
        )


def _in_capitals(value: Any) -> bool:
    return isinstance(value, str) and value.isupper() and sum(ch.isalpha() for ch in value) > 1


def _as_name(value: str) -> str:
    """LE ROUX -> Le Roux, O'BRIEN -> O'Brien, JEAN-PIERRE -> Jean-Pierre."""
    return re.sub(r"[^\W\d_]+", lambda word: word.group(0).capitalize(), value.lower())


def name_population(candidates: Iterable[Candidate]) -> NamePopulation:
    """How these records (a store's) write given names and surnames, as evidence for
    standardising one person's (``cpxm.identity.standardise``)."""
    return build(
        (
            (c.values.get("first_name"), c.values.get("last_name"))
            for c in candidates
            if c.values.get("first_name") or c.values.get("last_name")
        ),
        _folded,
    )


class _Person(Mapping[tuple[str, str], int]):
    """What standardising one record needs to know of its person's other records, counted
    only when asked: most records need none of it (``given_by`` counts of each name key)."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.candidates = candidates
        self._counts: Counter[tuple[str, str]] | None = None
        self._spellings: dict[str, str] | None = None

    def _names(self) -> Iterator[tuple[str, str]]:
        for c in self.candidates:
            for attribute in ("first_name", "last_name"):
                value = c.values.get(attribute)
                if isinstance(value, str):
                    yield attribute, value

    def _given_by(self) -> Counter[tuple[str, str]]:
        if self._counts is None:
            self._counts = Counter((a, name_key(a, v, _folded)) for a, v in self._names())
        return self._counts

    def __getitem__(self, key: tuple[str, str]) -> int:
        return self._given_by()[key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._given_by())

    def __len__(self) -> int:
        return len(self._given_by())

    def spellings(self) -> Mapping[str, str]:
        """The person's own spellings by their letters, written as names, not in capitals."""
        if self._spellings is None:
            self._spellings = {}
            for _, value in self._names():
                if len(value) > 2 and not value.isupper():
                    self._spellings.setdefault(_NOT_LETTERS.sub("", _folded(value)), value)
        return self._spellings


class _Spellings(Mapping[str, str]):
    def __init__(self, person: _Person) -> None:
        self.person = person

    def __getitem__(self, key: str) -> str:
        return self.person.spellings()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.person.spellings())

    def __len__(self) -> int:
        return len(self.person.spellings())


def _standardised(
    candidates: Sequence[Candidate], population: NamePopulation | None
) -> tuple[Sequence[Candidate], dict[tuple[int, str], tuple[Any, str]]]:
    """Each record's names as its person's e-mail and the population say they are written
    (``cpxm.identity.standardise``), and per changed (record, field) the value and why."""
    addresses = [str(c.values["email"]) for c in candidates if c.values.get("email")]
    if not addresses and (population is None or not population.usable):
        return candidates, {}
    person = _Person(candidates)
    spellings = _Spellings(person)
    notes: dict[tuple[int, str], tuple[Any, str]] = {}
    changed: list[Candidate] = []
    for c in candidates:
        first, last = c.values.get("first_name"), c.values.get("last_name")
        if not (isinstance(first, str) or isinstance(last, str)):
            changed.append(c)
            continue
        found = standardise(
            first if isinstance(first, str) else None,
            last if isinstance(last, str) else None,
            addresses=addresses,
            population=population,
            fold=_folded,
            given_by=person,
            spellings=spellings,
        )
        if not found.notes:
            changed.append(c)
            continue
        values = dict(c.values)
        values["first_name"], values["last_name"] = found.first_name, found.last_name
        for attribute, why in found.notes.items():
            notes[(c.record_id, attribute)] = (values[attribute], why)
        changed.append(Candidate(c.record_id, c.source_system, c.updated_at, values))
    return changed, notes


def _with_notes(chosen: dict[str, Choice], notes: dict[tuple[int, str], tuple[Any, str]]) -> None:
    """Say in a name's reason that records behind it were standardised, and why."""
    for attribute in ("first_name", "last_name"):
        choice = chosen.get(attribute)
        if choice is None:
            continue
        key = _agreement_key(attribute, choice.value)
        whys = [
            why
            for (_, noted), (value, why) in notes.items()
            if noted == attribute and _agreement_key(attribute, value) == key
        ]
        if whys:
            more = f" (and {len(whys) - 1} more)" if len(whys) > 1 else ""
            chosen[attribute] = choice._replace(reason=f"{choice.reason}; {whys[0]}{more}")


def choose(
    candidates: Sequence[Candidate],
    trust_order: Sequence[str] = DEFAULT_TRUST_ORDER,
    population: NamePopulation | None = None,
) -> dict[str, Choice]:
    """Per attribute, the surviving value, the record it came from and the deciding rule.

    Names are first standardised record by record on the person's e-mail and, given a
    ``population``, on how the store's other records write them."""
    as_given = candidates
    candidates, notes = _standardised(candidates, population)
    chosen = _choose(candidates, trust_order, population)
    if notes:
        _with_notes(chosen, notes)
    if len(as_given) > 1:
        _accents_of_the_person(chosen, as_given)
    if population is not None:
        _accents_restored(chosen, candidates, population)
    return chosen


def _accents_of_the_person(chosen: dict[str, Choice], candidates: Sequence[Candidate]) -> None:
    """A name chosen without accents takes those the person's records write on its letters,
    in an initial (``É.``) or a misspelt form (``Étiennne``): systems drop accents, people do
    not add them by mistake, so the accent one record kept is the person's. Where records
    accent it differently, the accents most of them write."""
    changed = False
    for attribute in ("first_name", "last_name"):
        choice = chosen.get(attribute)
        if choice is None or not isinstance(choice.value, str):
            continue
        if not choice.value.isascii():
            continue  # a spelling with accents was chosen: the records' vote stands
        written = Counter(
            accented_value
            for c in candidates
            if isinstance(other := c.values.get(attribute), str) and not other.isascii()
            if (accented_value := _with_accents_of(choice.value, other)) != choice.value
        )
        if written:
            value = written.most_common(1)[0][0]
            chosen[attribute] = choice._replace(
                value=value, reason=f"{choice.reason}; accents as the person's records write it"
            )
            changed = True
    if changed:
        _person_name(chosen)


def _base_letter(ch: str) -> str:
    return unicodedata.normalize("NFD", ch)[:1].lower()


def _with_accents_of(value: str, other: str) -> str:
    """``value`` with the accents ``other`` writes on the same letters, where ``other`` is
    an initial of it or a spelling of it (the letters before and after a slip aligned)."""
    key, other_key = _folded(value), _folded(other)
    if not key or not other_key:
        return value
    if len(other_key) == 1:
        if key[0] != other_key:
            return value
        pairs = [(0, 0)]
    elif key == other_key or _slips(key, other_key) <= 2:
        shorter = min(len(value), len(other))
        prefix = 0
        while prefix < shorter and _base_letter(value[prefix]) == _base_letter(other[prefix]):
            prefix += 1
        pairs = [(i, i) for i in range(prefix)]
        suffix = 1
        while suffix <= shorter - prefix and _base_letter(value[-suffix]) == _base_letter(
            other[-suffix]
        ):
            pairs.append((len(value) - suffix, len(other) - suffix))
            suffix += 1
    else:
        return value
    letters = list(value)
    for mine, theirs in pairs:
        plain, marked = value[mine], other[theirs]
        if (
            plain.isascii()
            and plain.isalpha()
            and not marked.isascii()
            and _base_letter(marked) == plain.lower()
        ):
            letters[mine] = marked.lower() if plain.islower() else marked.upper()
    return "".join(letters)


def _accents_restored(
    chosen: dict[str, Choice], candidates: Sequence[Candidate], population: NamePopulation
) -> None:
    """A name only one record gives, without the accents most records write it with, takes
    them (``Gerard`` -> ``Gérard``). Several records writing it alike are the person's own
    spelling: a name is written without its accents by different people too."""
    for attribute in ("first_name", "last_name"):
        choice = chosen.get(attribute)
        if choice is None or not isinstance(choice.value, str):
            continue
        key = _folded(choice.value)
        giving = [c for c in candidates if _folded(str(c.values.get(attribute) or "")) == key]
        if len(giving) != 1:
            continue
        spelt = accented(choice.value, population, _folded)
        if spelt != choice.value:
            chosen[attribute] = choice._replace(
                value=spelt, reason=f"{choice.reason}; accents as most records write it"
            )
    if "first_name" in chosen or "last_name" in chosen:
        _person_name(chosen)


def _choose(
    candidates: Sequence[Candidate],
    trust_order: Sequence[str],
    population: NamePopulation | None = None,
) -> dict[str, Choice]:
    if len(candidates) == 1:
        # Most golden records have one source: nothing to weigh, and a resolve makes many.
        only = candidates[0]
        alone = {
            attribute: Choice(only.values[attribute], only.record_id, "only_source", ONLY_SOURCE)
            for attribute in ATTRIBUTES
            if only.values.get(attribute) is not None
        }
        _person_name(alone)
        return alone
    trust = {system: rank for rank, system in enumerate(trust_order)}
    ranked = sorted(
        (
            (
                trust.get(c.source_system, len(trust)),
                -c.updated_at.timestamp(),
                -sum(1 for v in c.values.values() if v is not None),
                c.record_id,
            ),
            c,
        )
        for c in candidates
    )
    # Each attribute's (rank, record, value, swapped) in rank order, in one pass: a resolve
    # chooses for thousands of golden records, and most of their attributes agree.
    known: dict[str, list[tuple[Rank, Candidate, Any, bool]]] = {}
    for rank, c in ranked:
        for attribute, value in c.values.items():
            if value is not None:
                known.setdefault(attribute, []).append((rank, c, value, False))
    swapped = _swapped_records(ranked)
    if swapped:
        for attribute, other in (("first_name", "last_name"), ("last_name", "first_name")):
            known[attribute] = [
                (rank, c, c.values.get(other), True) if c.record_id in swapped else entry
                for entry in known.get(attribute, [])
                for rank, c, _, _ in (entry,)
            ]
    person = "first_name" in known or "last_name" in known
    addresses: list[str] | None = None
    chosen: dict[str, Choice] = {}
    for attribute in ATTRIBUTES:
        values = known.get(attribute)
        if not values or (attribute == "display_name" and person):
            continue  # a person's shown name is made of the chosen first and last name
        _, best, value, _ = values[0]
        if len(values) == 1:
            chosen[attribute] = Choice(value, best.record_id, "only_source", ONLY_SOURCE)
        elif not swapped and (
            values[1][2] == value if len(values) == 2 else all(e[2] == value for e in values)
        ):
            count = len(values)
            chosen[attribute] = Choice(
                value, best.record_id, "agreement", f"agreement {count} of {count}"
            )
        else:
            if addresses is None:
                addresses = [
                    _NOT_LETTERS.sub("", str(entry[2]).partition("@")[0].lower())
                    for entry in known.get("email", ())
                ]
            names = attribute in ("first_name", "last_name")
            chosen[attribute] = _choose_one(
                attribute, values, addresses if names else (), population if names else None
            )
    _person_name(chosen)
    return chosen
