"""Identity resolution: runs, uncertain pairs and decisions, undoable merges, provenance.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 13:39:05.624481
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("threshold_match", sa.Float(), nullable=False),
        sa.Column("threshold_review", sa.Float(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("pairs_scored", sa.Integer(), nullable=False),
        sa.Column("merges", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("review_pairs", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_runs")),
    )
    op.create_table(
        "identity_attribute_provenance",
        sa.Column("stakeholder_id", sa.Integer(), nullable=False),
        sa.Column("attribute", sa.String(length=40), nullable=False),
        sa.Column("source_record_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.CheckConstraint(
            "rule IN ('only_source', 'trust', 'recency', 'completeness')",
            name=op.f("ck_identity_attribute_provenance_rule"),
        ),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["source_records.id"],
            name=op.f("fk_identity_attribute_provenance_source_record_id_source_records"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stakeholder_id"],
            ["stakeholders.id"],
            name=op.f("fk_identity_attribute_provenance_stakeholder_id_stakeholders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "stakeholder_id", "attribute", name=op.f("pk_identity_attribute_provenance")
        ),
    )
    with op.batch_alter_table("identity_attribute_provenance", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_attribute_provenance_source_record_id"),
            ["source_record_id"],
            unique=False,
        )

    op.create_table(
        "identity_match_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_low_id", sa.Integer(), nullable=False),
        sa.Column("record_high_id", sa.Integer(), nullable=False),
        sa.Column("match_probability", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected')",
            name=op.f("ck_identity_match_pairs_status"),
        ),
        sa.CheckConstraint(
            "record_low_id < record_high_id", name=op.f("ck_identity_match_pairs_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_identity_match_pairs_decided_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["record_high_id"],
            ["source_records.id"],
            name=op.f("fk_identity_match_pairs_record_high_id_source_records"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_low_id"],
            ["source_records.id"],
            name=op.f("fk_identity_match_pairs_record_low_id_source_records"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["identity_runs.id"],
            name=op.f("fk_identity_match_pairs_run_id_identity_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_match_pairs")),
        sa.UniqueConstraint(
            "record_low_id",
            "record_high_id",
            name=op.f("uq_identity_match_pairs_record_low_id_record_high_id"),
        ),
    )
    with op.batch_alter_table("identity_match_pairs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_match_pairs_record_high_id"), ["record_high_id"], unique=False
        )
        batch_op.create_index(
            "ix_identity_match_pairs_status_probability",
            ["status", "match_probability"],
            unique=False,
        )

    op.create_table(
        "identity_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("match_pair_id", sa.Integer(), nullable=True),
        sa.Column("record_low_id", sa.Integer(), nullable=True),
        sa.Column("record_high_id", sa.Integer(), nullable=True),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("survivor_before", sa.JSON(), nullable=False),
        sa.Column("merged_at", sa.DateTime(), nullable=False),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "reason IN ('auto', 'review', 'manual')", name=op.f("ck_identity_merges_reason")
        ),
        sa.ForeignKeyConstraint(
            ["match_pair_id"],
            ["identity_match_pairs.id"],
            name=op.f("fk_identity_merges_match_pair_id_identity_match_pairs"),
        ),
        sa.ForeignKeyConstraint(
            ["merged_id"],
            ["stakeholders.id"],
            name=op.f("fk_identity_merges_merged_id_stakeholders"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["identity_runs.id"], name=op.f("fk_identity_merges_run_id_identity_runs")
        ),
        sa.ForeignKeyConstraint(
            ["survivor_id"],
            ["stakeholders.id"],
            name=op.f("fk_identity_merges_survivor_id_stakeholders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_merges")),
    )
    with op.batch_alter_table("identity_merges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_merges_merged_id"), ["merged_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_merges_survivor_id"), ["survivor_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_merges_survivor_id"))
        batch_op.drop_index(batch_op.f("ix_identity_merges_merged_id"))

    op.drop_table("identity_merges")
    with op.batch_alter_table("identity_match_pairs", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_match_pairs_status_probability")
        batch_op.drop_index(batch_op.f("ix_identity_match_pairs_record_high_id"))

    op.drop_table("identity_match_pairs")
    with op.batch_alter_table("identity_attribute_provenance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_attribute_provenance_source_record_id"))

    op.drop_table("identity_attribute_provenance")
    op.drop_table("identity_runs")
