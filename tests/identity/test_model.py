"""The linkage model's building blocks: normalisation, the edit-distance shortcut, chain rule."""

from __future__ import annotations

import random

import duckdb

from cpxm.identity.linkage import _one_edit
from cpxm.identity.normalise import normalise
from cpxm.identity.service import _Components


def test_umlauts_written_any_way_compare_equal() -> None:
    names = [
        normalise(1, "crm", {"first_name": "Jürgen", "last_name": "Müller"}),
        normalise(2, "events", {"attendee": "Mueller, Juergen"}),
        normalise(3, "call_centre", {"caller_name": "Jurgen MULLER"}),
    ]
    assert {(n.first_name, n.last_name) for n in names} == {("jurgen", "muller")}


def test_given_name_kept_when_surname_missing() -> None:
    record = normalise(1, "febrl_b", {"first_name": "Pascale"})
    assert record.first_name == "pascale" and record.last_name is None


def test_one_edit_shortcut_agrees_with_the_edit_distance() -> None:
    rng = random.Random(7)
    # Two-byte letters too: DuckDB's edit distance counts bytes, its prefixes characters.
    alphabet = "0123456789-abéü"
    pairs: list[tuple[str | None, str]] = []
    for _ in range(3_000):
        left = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        right = list(left)
        for _ in range(rng.randint(0, 2)):
            at = rng.randrange(len(right) + 1)
            kind = rng.randrange(4)
            if kind == 0 and at < len(right):
                right[at] = rng.choice(alphabet)
            elif kind == 1 and at < len(right):
                del right[at]
            elif kind == 2:
                right.insert(at, rng.choice(alphabet))
            elif at + 1 < len(right):
                right[at], right[at + 1] = right[at + 1], right[at]
        pairs.append((left, "".join(right)))
    pairs += [("", ""), ("", "a"), ("é", "e"), ("ab", "ba"), (None, "a")]
    connection = duckdb.connect()
    connection.execute("CREATE TABLE p (x_l VARCHAR, x_r VARCHAR)")
    connection.executemany("INSERT INTO p VALUES (?, ?)", pairs)
    disagreements = connection.execute(
        # Unknown (NULL) counts as not one edit, as in a CASE's WHEN.
        f"SELECT count(*) FROM p WHERE coalesce({_one_edit('x')}, false)"  # noqa: S608
        " <> (damerau_levenshtein(x_l, x_r) <= 1)"
    ).fetchone()
    close = connection.execute("SELECT count(*) FROM p WHERE damerau_levenshtein(x_l, x_r) <= 1")
    assert disagreements == (0,)
    assert (close.fetchone() or (0,))[0] > 1_000  # the sample does exercise the near pairs


def _components() -> _Components:
    ids = {1: "A", 2: None, 3: "B", 4: None}
    return _Components(
        parent={},
        apart={},
        identifiers={
            record: (1, frozenset([pid] if pid else []), frozenset()) for record, pid in ids.items()
        },
    )


def test_a_chain_may_not_join_two_professional_ids() -> None:
    components = _components()
    assert components.union(1, 2)  # id A with a record that has none
    assert not components.union(2, 3)  # would chain A and B into one person
    assert components.find(3) != components.find(1)
    assert components.union(3, 4)  # B's own group still grows


def test_a_direct_pair_stands_on_its_score() -> None:
    components = _components()
    # Two single records: the model compared them directly, their ids already counted.
    assert components.union(1, 3)
    assert components.find(1) == components.find(3)


def test_people_decisions_override_the_chain_rule() -> None:
    components = _components()
    components.union(1, 2)
    assert components.union(2, 3, force=True)


def test_other_scripts_institutions_and_mobiles_are_compared() -> None:
    record = normalise(
        1,
        "events",
        {"attendee": "Ota, Kumiko", "city": "横浜市", "organisation": "St. Mori Hospital"},
    )
    assert (record.city, record.institution) == ("横浜市", "st mori hospital")
    call = normalise(2, "call_centre", {"caller_name": "Kumiko Ota", "mobile": "+81 3-1234-5678"})
    assert call.phone == "312345678" and call.institution is None
    organisation = normalise(3, "crm", {"account_name": "Mori Hospital", "type": "hospital"})
    assert organisation.kind == "organisation" and organisation.institution is None


def test_a_chain_may_join_copies_of_one_id_with_slips_in_them() -> None:
    # A CRM's three copies of one person: the original id and two typed with slips.
    ids = {1: "1676184", 2: None, 3: "7676186", 4: "1676148", 5: "2931755"}
    components = _Components(
        parent={},
        apart={},
        identifiers={
            record: (1, frozenset([pid] if pid else []), frozenset()) for record, pid in ids.items()
        },
    )
    assert components.union(1, 2)
    assert components.union(2, 3)  # two slips from the original: one person's copy
    assert components.union(3, 4)  # a dropped and an added digit, neighbours swapped
    assert not components.union(4, 5)  # a different id entirely: another person
    assert components.find(5) != components.find(1)


def test_a_link_between_two_records_that_know_ids_stands_on_its_score() -> None:
    # 1 and 2 are one group; 3 is a copy with another id typed in, scored a match with 2
    # directly (the model saw both ids); 4 knows no id and links to 3's group by name alone.
    ids = {1: "5399458", 2: "5399458", 3: "9920408", 4: None, 5: "1533923"}
    components = _Components(
        parent={},
        apart={},
        identifiers={
            record: (1, frozenset([pid] if pid else []), frozenset()) for record, pid in ids.items()
        },
        knows={record: (pid is not None, False) for record, pid in ids.items()},
    )
    assert components.union(1, 2)
    assert components.union(2, 3)  # both know an id: the model weighed the difference
    assert components.union(5, 4)
    assert not components.union(4, 1)  # through a record without one: two ids, refused


def test_a_name_turned_round_with_an_initial_is_compared_and_counts() -> None:
    """``Arif, E.`` (a medical-information request) is Arif Etzold with his names turned and
    the surname cut to an initial: no key but the turned names joins the two."""
    from cpxm.identity.linkage import score_pairs

    records = [
        normalise(1, "crm", {"first_name": "Arif", "last_name": "Etzold", "city": "Niesky"}),
        normalise(2, "medical_information", {"requester_name": "Arif, E.", "city": "Niesky"}),
        normalise(3, "crm", {"first_name": "Anna", "last_name": "Schmidt", "city": "Niesky"}),
        normalise(4, "events", {"attendee": "Eva Arnold", "city": "Niesky"}),
        normalise(5, "crm", {"first_name": "Jonas", "last_name": "Weber", "city": "Bonn"}),
    ]
    assert (records[1].first_name, records[1].last_name, records[1].first_initial) == (
        None,
        "arif",
        "e",
    )
    scores = {(low, high): p for low, high, p in score_pairs(records, threshold=0.0001)[0]}
    assert scores[(1, 2)] >= 0.9
    # Others in the town who share an initial are compared, and stay apart.
    assert all(p < 0.5 for pair, p in scores.items() if pair != (1, 2))


def test_a_one_letter_title_before_a_surname_alone_is_an_initial() -> None:
    """``M.`` is Monsieur before a full name; before a surname alone it is an initial, and
    dropping it left ``Dr M. Kyle`` with no given name to compare."""
    kyle = normalise(1, "medical_information", {"requester_name": "Dr M. Kyle"})
    assert (kyle.first_name, kyle.last_name, kyle.first_initial) == (None, "kyle", "m")
    jean = normalise(2, "medical_information", {"requester_name": "M. Jean Dupont"})
    assert (jean.first_name, jean.last_name) == ("jean", "dupont")


def test_the_blocking_rules_left_out_find_no_pair_the_others_miss() -> None:
    """Rules implied by another were left out of ``_blocking_rules`` for speed: on records
    with initials, nicknames, swapped and missing names, every pair such a rule would find
    is found by the rules kept (and the kept rules do find such pairs, so this can fail)."""
    from splink.internals.blocking_rule_creator_utils import to_blocking_rule_creator

    from cpxm.identity.linkage import _blocking_rules, load_records

    rng = random.Random(5)
    given = ["anna", "a", "bill", "william", "ben", "b", "clara", "", "meyer", "bond"]
    surnames = ["meyer", "meier", "bond", "benson", "clara", "", "ann"]
    records = [
        normalise(
            index,
            "crm",
            {
                "first_name": rng.choice(given),
                "last_name": rng.choice(surnames),
                "birth_date": rng.choice(["1970-01-02", "1980-05-06", ""]),
                "city": rng.choice(["bonn", "koeln", ""]),
                "institution": rng.choice(["charite", "uniklinik", ""]),
            },
        )
        for index in range(600)
    ]
    connection = duckdb.connect()
    load_records(connection, records)
    kept = " OR ".join(
        f"({rule})"
        if isinstance(rule, str)
        else f"({to_blocking_rule_creator(rule).get_blocking_rule('duckdb').blocking_rule_sql})"
        for rule in _blocking_rules()
    )
    left_out = [
        "l.first_name = r.first_name AND l.last_name = r.last_name",
        "l.first_name = r.first_name AND l.dob = r.dob",
        "l.first_name = r.first_name AND l.city = r.city",
        "l.first_name = r.first_name AND l.institution = r.institution",
        "l.first_name = r.last_name AND l.last_name = r.first_name",
    ]
    for rule in left_out:
        query = (
            f"SELECT count(*), count(*) FILTER (WHERE NOT coalesce({kept}, false))"  # noqa: S608
            f" FROM cpxm_records l JOIN cpxm_records r"
            f" ON {rule} AND l.kind = r.kind AND l.unique_id <> r.unique_id"
        )
        found, missed = connection.execute(query).fetchone() or (0, 0)
        assert found > 0, rule
        assert missed == 0, rule
