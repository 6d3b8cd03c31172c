"""Make a bigger PostgreSQL demo store from a demo store by tiling its people and their facts.

    uv run python benchmarks/scale_tile.py --source cpxm_s10 --target cpxm_s30 --copies 3

Generating the demo at scale 30 end to end (identity resolution and text analysis of every
comment included) takes hours on a 2-core machine, and the scale benchmarks only need the data's
volume and shape. This copies the source database (``CREATE DATABASE ... TEMPLATE``), then adds
``copies - 1`` shifted copies of every stakeholder and the facts hung on them: interactions,
invitations, responses, answers, feedback items and their themes. Each copy's ids are offset past
the source's largest id, every reference to a copied table is offset the same way, and values that
must stay unique (invitation and resume tokens) get a suffix; surveys, questions, journeys and the
other reference tables are shared, as they would be in a company k times the size. The daily
interaction counts follow through the store's own triggers.

The figures of the bigger store are the source's, with k times the n (every person appears k
times): it is a volume benchmark, not new behaviour. Loopback only; the target is dropped first.
"""

from __future__ import annotations

import argparse
import sys
import time

import psycopg
from psycopg import sql
from sqlalchemy import Table

# Copied per tile, parents before children (each child's references are offset by its parent's).
TILED_TABLES = (
    "stakeholders",
    "interactions",
    "invitations",
    "responses",
    "answers",
    "feedback_items",
    "feedback_themes",
)
# Text columns that must stay unique across copies.
UNIQUE_TEXT = {"invitations": ("token",), "responses": ("resume_token",)}


def _tables() -> dict[str, Table]:
    import cpxm.app  # noqa: F401 -- registers every domain's models on the metadata
    from cpxm.schema import metadata

    return {name: metadata.tables[name] for name in TILED_TABLES}


def _select_list(table: Table, offsets: dict[str, int], copy: int) -> list[sql.Composable]:
    """Each column as the copy writes it: ids and references shifted, unique text suffixed."""
    items: list[sql.Composable] = []
    for column in table.columns:
        name = sql.Identifier(column.name)
        targets = {fk.column.table.name for fk in column.foreign_keys}
        shift_by = None
        if column.primary_key and column.name == "id":
            shift_by = offsets[table.name]
        elif targets & offsets.keys():
            shift_by = offsets[next(iter(targets & offsets.keys()))]
        if shift_by is not None:
            items.append(sql.SQL("{} + {}").format(name, sql.Literal(shift_by * copy)))
        elif column.name in UNIQUE_TEXT.get(table.name, ()):
            items.append(sql.SQL("{} || {}").format(name, sql.Literal(f"-tile{copy}")))
        else:
            items.append(name)
    return items


def tile(url: str, source: str, target: str, copies: int) -> dict[str, int]:
    admin = psycopg.connect(f"{url}/postgres", autocommit=True)
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(target)))
    started = time.perf_counter()
    admin.execute(
        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(target), sql.Identifier(source)
        )
    )
    print(f"copied {source} to {target} in {time.perf_counter() - started:.0f} s", flush=True)
    admin.close()

    tables = _tables()
    counts: dict[str, int] = {}
    with psycopg.connect(f"{url}/{target}") as connection:
        offsets: dict[str, int] = {}
        for name, table in tables.items():
            if "id" in table.columns:
                largest = connection.execute(
                    sql.SQL("SELECT coalesce(max(id), 0) FROM {}").format(sql.Identifier(name))
                ).fetchone()
                offsets[name] = int(largest[0] if largest else 0) + 1
        for copy in range(1, copies):
            for name, table in tables.items():
                started = time.perf_counter()
                columns = sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)
                statement = sql.SQL("INSERT INTO {table} ({columns}) SELECT {values} FROM {table}")
                where: sql.Composable = sql.SQL("")
                if "id" in table.columns:
                    # Only the source's own rows: earlier copies sit above the offset.
                    where = sql.SQL(" WHERE id < {}").format(sql.Literal(offsets[name]))
                elif name == "feedback_themes":
                    where = sql.SQL(" WHERE feedback_item_id < {}").format(
                        sql.Literal(offsets["feedback_items"])
                    )
                cursor = connection.execute(
                    statement.format(
                        table=sql.Identifier(name),
                        columns=columns,
                        values=sql.SQL(", ").join(_select_list(table, offsets, copy)),
                    )
                    + where
                )
                counts[name] = counts.get(name, 0) + cursor.rowcount
                print(
                    f"copy {copy}: {name} +{cursor.rowcount:,} rows"
                    f" in {time.perf_counter() - started:.0f} s",
                    flush=True,
                )
        for name in offsets:
            connection.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({name}, 'id'), "
                    "(SELECT max(id) FROM {table}))"
                ).format(name=sql.Literal(name), table=sql.Identifier(name))
            )
        connection.commit()
    with psycopg.connect(f"{url}/{target}", autocommit=True) as connection:
        started = time.perf_counter()
        connection.execute("VACUUM ANALYZE")
        print(f"vacuum analyze in {time.perf_counter() - started:.0f} s", flush=True)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--source", required=True, help="database holding a demo store")
    parser.add_argument("--target", required=True, help="database to create (dropped first)")
    parser.add_argument("--copies", type=int, default=3, help="how many times the people")
    args = parser.parse_args(argv)
    if args.copies < 2:
        parser.error("--copies must be at least 2")
    counts = tile(args.server, args.source, args.target, args.copies)
    print("rows added: " + ", ".join(f"{name} {count:,}" for name, count in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
