"""The Splink model: blocking, priors and scoring of source-record pairs, in-process DuckDB.

Splink sees only the normalised frame (``cpxm.identity.normalise``), so the store may be SQLite
or PostgreSQL. Every comparison level starts from fixed m and u probabilities written down
here, because an unsupervised model cannot learn them from a few dozen records (the first
imports of a new tenant): it scored a true pair 0.80 and two different people sharing a surname
and postcode 0.9986. From ``U_TRAINING_RECORDS`` records u is measured by random sampling with a
fixed seed, and from ``M_TRAINING_RECORDS`` m is refined by expectation maximisation (both in
``cpxm.identity.training``). The prior always comes from agreement on strong identifiers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import numpy as np
import splink.comparison_level_library as cll
import splink.comparison_library as cl

# Splink reads and writes every SQL through sqlglot's DuckDB dialect, which sqlglot loads on
# first use: with Splink itself, not inside the first resolve (0.05 s of a FEBRL4 run).
import sqlglot.dialects.duckdb  # noqa: F401
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from cpxm.identity.normalise import COLUMNS, Normalised
from cpxm.identity.training import U_TRAINING_RECORDS, train

# Agreements that almost always mean the same person: used to estimate the prior probability
# that two records match, assuming they find this share of the true matches.
IDENTIFIER_RULES = (
    "l.professional_id = r.professional_id",
    "l.email = r.email",
    "l.phone = r.phone AND l.last_name = r.last_name",
    "l.full_name = r.full_name AND l.dob = r.dob",
    "l.full_name = r.full_name AND l.postal_code = r.postal_code",
)
IDENTIFIER_RECALL = 0.5
# Columns whose value frequencies adjust the weight of an exact match (see _term_frequencies).
# Column -> what tells its holders apart within one system: different people holding one
# name differ in contact details; different people at one phone or postcode differ in name.
TERM_FREQUENCY_COLUMNS = {
    "full_name": "coalesce(email, phone, dob, postal_code, address)",
    "initial_surname": "coalesce(email, phone, dob, postal_code, address)",
    "email": "full_name",
    "phone": "full_name",
    "postal_code": "full_name",
}
# A value only one person holds still happens to be someone else's this often, in records.
# At 0.2 (until 2026-12-06) a rare surname beside an initial (``A. Verdier``, the store's only
# Verdier) could not outweigh the prior on its own: 0.01 linked 24 more of the demo's initials
# at the same precision and left FEBRL1-4 as they were. Splink's tf_minimum_u_value bounds it.
TERM_FREQUENCY_FLOOR = 0.01
Edge = tuple[int, int, float]


def _blocking_rules() -> list[Any]:
    # Every rule also requires the same kind, so a person never pairs with an organisation.
    # The name-only rules find records that share nothing else comparable with their twin
    # (an event registration with a name and postcode, a newsletter subscriber with a name).
    # Leave out any rule another implies: each costs Splink a join and a test against every
    # earlier rule. The same first name implies the same initial, and the same surname its first
    # three letters, so first name + surname, + date of birth, + city or + institution, and
    # the two names swapped, are found by the initial's or the prefix's rule below (the same
    # pairs, tested; 0.09 s of CPU of a FEBRL4 resolve).
    return [
        block_on("professional_id", "kind"),
        block_on("email", "kind"),
        block_on("phone", "kind"),
        block_on("last_name", "dob", "kind"),
        block_on("postal_code", "first_initial", "kind"),
        block_on("last_name", "city", "kind"),
        # The same given name, and a slip after the surname's third letter (Coutrier for
        # Couturier) or none, nothing else shared.
        "l.first_name = r.first_name AND left(l.last_name, 3) = left(r.last_name, 3)"
        " AND l.kind = r.kind",
        block_on("last_name", "first_initial", "kind"),
        block_on("last_name", "postal_code", "kind"),
        block_on("dob", "postal_code", "kind"),
        block_on("address", "city", "kind"),
        block_on("dob", "city", "kind"),
        block_on("dob", "address", "kind"),
        block_on("dob", "first_initial", "kind"),
        # An initial, or a given name, and a slip in the surname at one workplace or in one
        # town (K. Hendrson at the hospital).
        block_on("first_initial", "institution", "kind"),
        block_on("first_initial", "city", "kind"),
        # Turned round (Junitz Steffen for Steffen Junitz), or turned round with one of them an
        # initial: the full name against the other's surname.
        "l.last_name = r.first_name AND l.first_initial = left(r.last_name, 1) AND l.kind = r.kind",
        "l.first_name = r.last_name AND left(l.last_name, 1) = r.first_initial AND l.kind = r.kind",
        # A copy with a slip in every name and key: the start of the street, or of the id,
        # usually survives (45 mcinnes stret, 7911921 for 7912921).
        "l.postal_code = r.postal_code AND left(l.address, 8) = left(r.address, 8)"
        " AND l.kind = r.kind",
        "left(l.professional_id, 4) = left(r.professional_id, 4)"
        " AND left(l.address, 4) = left(r.address, 4) AND l.kind = r.kind",
    ]


def _level(level: Any, m: float, u: float) -> Any:
    return level.configure(m_probability=m, u_probability=u)


def _sql(condition: str, m: float, u: float, *, tf_column: str | None = None) -> Any:
    level = cll.CustomLevel(condition)
    if tf_column is not None:
        # The level's own u is the average; a frequent value (Smith, a switchboard) counts
        # less and a rare one more. The floor keeps a value shared by half the file from
        # counting as evidence against.
        level.configure(
            tf_adjustment_column=tf_column,
            tf_minimum_u_value=1e-6,
            disable_tf_exact_match_detection=True,
        )
    return _level(level, m, u)


def _exact(column: str, m: float, u: float, *, tf: bool = False) -> Any:
    return _sql(f"{column}_l = {column}_r", m, u, tf_column=column if tf else None)


def _one_edit(column: str) -> str:
    """``damerau_levenshtein(l, r) <= 1``, with cheap tests first.

    DuckDB's edit distance counts bytes. Of two values of one length, those that differ in
    at most one byte are one edit apart and those that differ in three or more are not; only
    two differing bytes (perhaps two swapped neighbours) need the edit distance. Of values
    whose lengths differ, only those one byte apart can be (a dropped or doubled character).
    The byte count sits in a CASE because DuckDB refuses values of different lengths (and
    empty ones), and DuckDB tests a condition's second part only where the first left the
    answer open. The edit distance, ten times dearer, was most of the time of dates, ids and
    postcodes; the byte count halved what the older prefix test below left of it.
    """
    left, right = f"{column}_l", f"{column}_r"
    differing = (
        f"(CASE WHEN {left} = {right} THEN 0"
        f" WHEN strlen({left}) = strlen({right}) THEN hamming({left}, {right}) END)"
    )
    # One edit touches at most two adjacent characters, so in a value of n characters the
    # first or the last (n - 1) // 2 still agree.
    half = f"((length({left}) - 1) // 2)"
    return (
        f"({differing} <= 1 OR (({differing} = 2 OR abs(strlen({left}) - strlen({right})) = 1)"
        f" AND (left({left}, {half}) = left({right}, {half})"
        f" OR right({left}, {half}) = right({right}, {half}))"
        f" AND damerau_levenshtein({left}, {right}) <= 1))"
    )


def _comparison(name: str, null_sql: str, *levels: Any) -> Any:
    return cl.CustomComparison(
        comparison_levels=[cll.CustomLevel(null_sql).configure(is_null_level=True), *levels],
        output_column_name=name,
    )


def _either_null(column: str) -> str:
    return f"{column}_l IS NULL OR {column}_r IS NULL"


def _comparisons(*, term_frequencies: bool) -> list[Any]:
    """Levels with (m, u): m = share of true pairs at the level, u = share of random pairs.

    Names are one comparison so their levels can see both parts: a swapped first and last
    name is a strong match, and a shared surname with a different first name must count
    against it (colleagues in one practice, a family at one address). Postcode, city and
    street are one comparison too, because they agree together: counted separately, one
    shared address outvoted a different first name and date of birth. Different e-mails and
    phones count only a little: people have several. Term frequencies need a large file: in
    a small one the pair itself makes its own phone number look common.
    """
    tf = term_frequencies
    same_first = "first_name_l = first_name_r"
    same_last = "last_name_l = last_name_r"
    near_first = "jaro_winkler_similarity(first_name_l, first_name_r) >= 0.88"
    near_last = "jaro_winkler_similarity(last_name_l, last_name_r) >= 0.9"
    # One side has only an initial, or a given name the other side starts with (Marie and
    # Marie-Christine, Hans and Hans-Georg).
    compatible_first = (
        "first_initial_l = first_initial_r AND (first_name_l IS NULL OR first_name_r IS NULL"
        " OR starts_with(first_name_l, first_name_r) OR starts_with(first_name_r, first_name_l))"
    )
    no_place = (
        "(postal_code_l IS NULL OR postal_code_r IS NULL)"
        " AND (city_l IS NULL OR city_r IS NULL) AND (address_l IS NULL OR address_r IS NULL)"
    )
    return [
        _comparison(
            "name",
            f"({_either_null('last_name')}) AND ({_either_null('first_name')})",
            _sql(
                f"{same_first} AND {same_last}",
                0.68,
                0.00005,
                tf_column="full_name" if tf else None,
            ),
            # Entered the wrong way round, possibly with a slip in one of the two parts.
            _sql(
                "(first_name_l = last_name_r AND jaro_winkler_similarity(last_name_l, first_name_r)"
                " >= 0.88) OR (last_name_l = first_name_r AND"
                " jaro_winkler_similarity(first_name_l, last_name_r) >= 0.88)",
                0.06,
                0.000002,
            ),
            # Turned round with one of them an initial (``E. Arif`` for Arif Etzold).
            _sql(
                "(last_name_l = first_name_r AND first_initial_l = left(last_name_r, 1))"
                " OR (first_name_l = last_name_r AND left(last_name_l, 1) = first_initial_r)",
                0.02,
                0.000002,
            ),
            _sql(
                f"{same_last} AND {near_first}",
                0.06,
                0.0002,
                tf_column="initial_surname" if tf else None,
            ),
            _sql(f"{same_first} AND {near_last}", 0.08, 0.0002),
            # A slip in each part (caitqlin sommargva for caitlin sommariva).
            _sql(f"{near_first} AND {near_last}", 0.03, 0.00005),
            # The initials first: DuckDB then computes the similarity for few pairs. With the
            # surname exact, weighted by how rare the initial and surname are together.
            _sql(
                f"{compatible_first} AND {same_last}",
                0.05,
                0.0005,
                tf_column="initial_surname" if tf else None,
            ),
            _sql(f"{compatible_first} AND {near_last}", 0.02, 0.0005),
            # One side has no given name at all (not even an initial): the surname alone,
            # which a different given name would count against.
            _sql(
                "(first_initial_l IS NULL OR first_initial_r IS NULL)"
                f" AND ({same_last} OR {near_last})",
                0.02,
                0.0005,
            ),
            _sql(same_last, 0.01, 0.003),
            # One side has no surname: the given names still count (a registration that
            # kept only the first name), and a missing surname alone says little.
            _sql(f"({_either_null('last_name')}) AND ({same_first} OR {near_first})", 0.02, 0.0005),
            _sql(same_first, 0.015, 0.01),
            _sql(_either_null("last_name"), 0.01, 0.01),
            _level(cll.ElseLevel(), 0.005, 0.9757),
        ),
        _comparison(
            "dob",
            _either_null("dob"),
            _exact("dob", 0.90, 0.0002),
            _sql(_one_edit("dob"), 0.06, 0.003),
            _level(cll.ElseLevel(), 0.04, 0.9968),
        ),
        _comparison(
            "email",
            _either_null("email"),
            _exact("email", 0.75, 0.00002, tf=tf),
            _sql("split_part(email_l, '@', 1) = split_part(email_r, '@', 1)", 0.05, 0.0002),
            _level(cll.ElseLevel(), 0.20, 0.99978),
        ),
        _comparison(
            "phone",
            _either_null("phone"),
            _exact("phone", 0.80, 0.00005, tf=tf),
            _level(cll.ElseLevel(), 0.20, 0.99995),
        ),
        _comparison(
            "place",
            no_place,
            # Cheap tests before the string similarity: DuckDB evaluates it only for the
            # pairs the first part of a condition left.
            _sql(
                f"({_either_null('postal_code')} OR postal_code_l = postal_code_r)"
                " AND jaro_winkler_similarity(address_l, address_r) >= 0.9",
                0.55,
                0.0002,
            ),
            # The same street with a mistyped postcode, or no postcode but the same city.
            _sql(
                f"(city_l = city_r OR {_one_edit('postal_code')})"
                " AND jaro_winkler_similarity(address_l, address_r) >= 0.9",
                0.08,
                0.00005,
            ),
            _exact("postal_code", 0.25, 0.004, tf=tf),
            _sql(
                f"{_one_edit('postal_code')}"
                " OR jaro_winkler_similarity(address_l, address_r) >= 0.8",
                0.05,
                0.01,
            ),
            _sql(f"city_l = city_r AND ({_either_null('postal_code')})", 0.05, 0.04),
            _level(cll.ElseLevel(), 0.05, 0.9458),
        ),
        # Where a person works: people move and systems spell institutions their own way,
        # so a different one counts a little against, a shared one for.
        _comparison(
            "institution",
            _either_null("institution"),
            _exact("institution", 0.70, 0.01),
            _sql("jaro_winkler_similarity(institution_l, institution_r) >= 0.9", 0.10, 0.005),
            _level(cll.ElseLevel(), 0.20, 0.985),
        ),
        # Specialty: weak (many share one, systems word it differently), but it tells two
        # namesakes apart.
        _comparison(
            "specialty",
            _either_null("specialty"),
            _exact("specialty", 0.85, 0.1),
            _level(cll.ElseLevel(), 0.15, 0.9),
        ),
        _comparison(
            "professional_id",
            _either_null("professional_id"),
            _exact("professional_id", 0.90, 0.00001),
            # A typed id with one slip (two digits swapped) is still strong evidence.
            _sql(_one_edit("professional_id"), 0.06, 0.0001),
            _level(cll.ElseLevel(), 0.04, 0.99989),
        ),
    ]


def _settings(prior: float, *, size: int) -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=prior,
        blocking_rules_to_generate_predictions=_blocking_rules(),
        comparisons=_comparisons(term_frequencies=size >= U_TRAINING_RECORDS),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def load_records(connection: duckdb.DuckDBPyConnection, records: Sequence[Normalised]) -> None:
    """Copy the normalised records into the DuckDB table ``cpxm_records``.

    DuckDB scans a dict of NumPy arrays directly. Building a pyarrow table from Python lists
    instead made pyarrow import pandas (2-4 s on this machine, more than a whole FEBRL4 resolve).
    Column by column with getattr: dataclasses.asdict deep-copies and took a second per 10,000.
    """
    columns: dict[str, Any] = {
        name: np.array([getattr(record, name) for record in records], dtype=object)
        for name in COLUMNS
        if name != "unique_id"
    }
    columns["unique_id"] = np.array([record.unique_id for record in records], dtype=np.int64)
    connection.register("cpxm_input", columns)
    casts = ", ".join(
        "unique_id" if name == "unique_id" else f"{name}::VARCHAR AS {name}" for name in COLUMNS
    )
    connection.execute(f"CREATE TABLE cpxm_records AS SELECT {casts} FROM cpxm_input")  # noqa: S608
    connection.unregister("cpxm_input")


def score_pairs(
    records: Sequence[Normalised],
    *,
    threshold: float,
    step: Callable[[str], None] = lambda _label: None,
) -> tuple[list[Edge], int]:
    """Every blocked pair scoring at least ``threshold``, lower id first; and pairs scored."""
    if len(records) < 2:
        return [], 0
    logging.getLogger("splink").setLevel(logging.ERROR)
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    load_records(connection, records)
    db_api = DuckDBAPI(connection)
    frame = db_api.register("cpxm_records", table_name="cpxm_records")
    prior = _prior(connection, len(records))
    # The settings are ours and fixed (tests cover them): Splink's check of their columns
    # against the input parses every level with sqlglot again, a tenth of a second.
    linker = Linker(
        frame, _settings(prior, size=len(records)), log_level=None, validate_settings=False
    )
    step("training")
    if len(records) >= U_TRAINING_RECORDS:
        _term_frequencies(connection, db_api, linker)
    train(connection, linker, len(records), prior)
    step("scoring")
    predictions = linker.inference.predict(
        threshold_match_probability=threshold, warning_mode="never"
    )
    table = predictions.physical_name  # Splink's own table: no user input reaches the SQL
    columns = (
        "least(unique_id_l, unique_id_r), greatest(unique_id_l, unique_id_r), match_probability"
    )
    relation = connection.sql(f"SELECT {columns} FROM {table}")  # noqa: S608
    edges = [(int(low), int(high), float(p)) for low, high, p in relation.fetchall()]
    connection.close()
    return edges, len(edges)


def _prior(connection: duckdb.DuckDBPyConnection, size: int) -> float:
    """Share of all pairs that match, from pairs agreeing on an exact identifier.

    Splink's own estimator counts pairs per rule over the whole table; this one counts the
    distinct pairs any identifier joins, so records sharing several identifiers count once.
    """
    # One join per rule (an OR of equalities would be a nested loop), united to distinct pairs.
    joins = " UNION ".join(
        "SELECT l.unique_id, r.unique_id FROM cpxm_records l JOIN cpxm_records r "  # noqa: S608
        f"ON {rule} AND l.unique_id < r.unique_id AND l.kind = r.kind"
        for rule in IDENTIFIER_RULES
    )
    joined = connection.sql(f"SELECT count(*) FROM ({joins})").fetchall()  # noqa: S608
    matching = int(joined[0][0]) / IDENTIFIER_RECALL
    total_pairs = size * (size - 1) / 2
    return min(0.5, max(matching, 1.0) / total_pairs)


def _term_frequencies(
    connection: duckdb.DuckDBPyConnection, db_api: DuckDBAPI, linker: Linker
) -> None:
    """Register, per column, how often a value belongs to someone other than its holder.

    Splink's own frequency counts records, so a name only one person holds, recorded by four
    systems, looks four times as common as a name seen once, and the pair weighs less for
    being a good match. Here a value's count is discounted by the records of one holder. The
    number of holders is the most any one system shows, counted as distinct values of what
    tells holders apart (``TERM_FREQUENCY_COLUMNS``), so a system's own duplicates of one
    person do not count as two. Values with one holder fall to the floor, values with many
    keep most of their count. Counting records per system instead gave demo F1 0.949, this 0.955.
    """
    for column, holder in TERM_FREQUENCY_COLUMNS.items():
        connection.execute(
            f"""
            CREATE TABLE cpxm_tf_{column} AS
            WITH per_system AS (
                SELECT {column} AS value, count(*) AS records,
                    greatest(count(DISTINCT {holder}), 1) AS holders
                FROM cpxm_records WHERE {column} IS NOT NULL GROUP BY {column}, source_system
            ), per_value AS (
                SELECT value, sum(records) AS records, max(holders) AS holders
                FROM per_system GROUP BY value
            )
            SELECT value AS {column},
                greatest(records * (1 - 1 / holders), {TERM_FREQUENCY_FLOOR})
                    / (SELECT sum(records) FROM per_value) AS tf_{column}
            FROM per_value
            """  # noqa: S608 -- column names are constants above
        )
        frame = db_api.register(f"cpxm_tf_{column}", table_name=f"cpxm_tf_{column}")
        linker.table_management.register_term_frequency_lookup(frame, column)
