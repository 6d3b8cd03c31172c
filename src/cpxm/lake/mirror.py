"""The store's analytic tables in the lake, in the store's own shape, for analytics on Spark.

The analytics are Ibis expressions over the store's tables by name and schema
(:mod:`cpxm.analytics.query`); to run the same expressions on Spark, the lake holds those tables
as they are in the store, under ``PATH/store/<table>``, and Spark registers each as a view of
the table's name. Same names, same columns, same types: one expression, every engine.

What the mirror withholds, as the lake's datasets do (:mod:`cpxm.lake.datasets`):

- people's identity and every word of free text: the columns are there (the shape is the
  store's) but empty, so a query that needs them is one that names people, and runs on the
  store under its access rules (:func:`cpxm.analytics.query.runs_on_lake`);
- secrets (invitation and resume tokens), empty likewise;
- every row of a confidential survey (responses, answers, invitations, comments and their
  themes): an employee pulse answer only leaves CPXM inside a group of the minimum size, so
  the pulse reports stay on the store.

The mirror carries the store's internal ids (joins need them), so only a role that may see
people's identity may write it.
"""

from __future__ import annotations

from typing import Any

import ibis.expr.datatypes as dt
import pyarrow as pa
from sqlalchemy import Float, Numeric, Table, and_, false, literal, not_, select
from sqlalchemy.sql.elements import ColumnElement

from cpxm.lake.datasets import ROW, Column, Dataset
from cpxm.schema import metadata

MIRROR_FOLDER = "store"

# The tables the dashboard reports read (metrics, drivers, coordination, journeys, overview,
# impact, speed), each numbered by its id, or by the column given here where it has none.
MIRRORED_TABLES: dict[str, str | None] = {
    "stakeholders": "id",
    "surveys": "id",
    "questions": "id",
    "answers": "id",
    "responses": "id",
    "invitations": "id",
    "interactions": "id",
    "interaction_daily_counts": None,  # one bucket: a row per day, channel and department
    "journeys": "id",
    "journey_stages": "id",
    "feedback_items": "id",
    "feedback_themes": "feedback_item_id",
    "products": None,
    "kpi_values": "id",
}

# Columns present but empty in the mirror: identity, free text, secrets.
WITHHELD: dict[str, frozenset[str]] = {
    "stakeholders": frozenset(
        {
            "display_name",
            "first_name",
            "last_name",
            "professional_id",
            "email",
            "phone",
            "address_line",
            "postal_code",
            "city",
            "birth_date",
        }
    ),
    "answers": frozenset({"value_text"}),
    "interactions": frozenset({"notes"}),
    "feedback_items": frozenset({"text"}),
    "invitations": frozenset({"token", "send_error"}),
    "responses": frozenset({"resume_token"}),
}


def _arrow_type(type_: dt.DataType) -> pa.DataType:
    # Timestamps without a zone, as the store keeps them (naive UTC): Spark reads them as
    # TIMESTAMP_NTZ and hands them back as they are, whatever the reader's time zone.
    if type_.is_timestamp():
        return pa.timestamp("us")
    return type_.to_pyarrow()


def withheld(table_name: str) -> frozenset[str]:
    return WITHHELD.get(table_name, frozenset())


def _confidential_survey_ids() -> Any:
    surveys = metadata.tables["surveys"]
    return select(surveys.c.id).where(surveys.c.confidential.is_not(false()))


def _confidential_response_ids() -> Any:
    responses = metadata.tables["responses"]
    return select(responses.c.id).where(responses.c.survey_id.in_(_confidential_survey_ids()))


def _rows_left_out(name: str, table: Table) -> ColumnElement[bool] | None:
    """The rows of a confidential survey, which never leave the store row by row."""
    if name in ("responses", "invitations"):
        return table.c.survey_id.in_(_confidential_survey_ids())
    if name == "answers":
        return table.c.response_id.in_(_confidential_response_ids())
    if name == "feedback_items":
        return and_(
            table.c.response_id.is_not(None),
            table.c.response_id.in_(_confidential_response_ids()),
        )
    if name == "feedback_themes":
        items = metadata.tables["feedback_items"]
        return table.c.feedback_item_id.in_(
            select(items.c.id).where(items.c.response_id.in_(_confidential_response_ids()))
        )
    return None


def _dataset(name: str, numbered_by: str | None) -> Dataset:
    from cpxm.analytics.query import table as ibis_table

    sql_table = metadata.tables[name]
    schema = ibis_table(name).schema()
    hidden = withheld(name)
    columns = tuple(Column(column, _arrow_type(type_)) for column, type_ in schema.items())

    def query() -> Any:
        selected: list[Any] = [(sql_table.c[numbered_by] if numbered_by else literal(0)).label(ROW)]
        for column in columns:
            source = sql_table.c[column.name]
            if column.name in hidden:
                selected.append(literal(None, source.type).label(column.name))
            elif isinstance(source.type, Numeric) and not isinstance(source.type, Float):
                selected.append(source.cast(Float).label(column.name))  # no Decimals in Parquet
            else:
                selected.append(source.label(column.name))
        statement = select(*selected).select_from(sql_table)
        left_out = _rows_left_out(name, sql_table)
        if left_out is not None:
            statement = statement.where(not_(left_out))
        # A stable order inside a bucket, so an unchanged bucket encodes to the same bytes.
        return statement.order_by(*sql_table.primary_key.columns)

    return Dataset(
        name=f"{MIRROR_FOLDER}/{name}",
        columns=columns,
        query=query,
        description=f"the store's {name} table (identity, free text and confidential "
        "surveys left out)",
    )


def mirror_datasets() -> tuple[Dataset, ...]:
    return tuple(_dataset(name, numbered) for name, numbered in MIRRORED_TABLES.items())
