"""Workspace settings, and the key of patient pseudonyms generated once and kept in the store.

Pseudonyms ("Patient 9DF917B4C2A1") are an HMAC of the stakeholder id. A key made up at each
start changed every pseudonym on restart, so one person could not be followed across days or
exports; a key generated here, when ``cpxm init`` builds the store, stays with the data (and with
its backups). ``CPXM_SECRET_KEY``, when a deployment sets it, takes precedence.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 23:40:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    settings = op.create_table(
        "workspace_settings",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("updated_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_user_id"],
            ["users.id"],
            name=op.f("fk_workspace_settings_updated_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_workspace_settings")),
    )
    op.bulk_insert(settings, [{"name": "pseudonym_key", "value": secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_table("workspace_settings")
