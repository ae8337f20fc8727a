"""calibrations measured on the user's data, re-embedding migrations

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import aima.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = aima.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "calibrations",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("model_id", sa.String(length=256), nullable=False),
        sa.Column("max_distance", sa.Float(), nullable=False),
        sa.Column("scale", sa.Float(), nullable=False),
        sa.Column("target_far", sa.Float(), nullable=False),
        sa.Column("tar", sa.Float(), nullable=False),
        sa.Column("far", sa.Float(), nullable=False),
        sa.Column(
            "report",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("kind", "model_id", name=op.f("pk_calibrations")),
    )
    op.create_table(
        "reembed_migrations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("from_model", sa.String(length=256), nullable=False),
        sa.Column("to_model", sa.String(length=256), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reembed_migrations")),
    )
    with op.batch_alter_table("reembed_migrations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reembed_migrations_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_reembed_migrations_state"), ["state"], unique=False)
    op.create_table(
        "reembed_items",
        sa.Column("migration_id", sa.String(length=40), nullable=False),
        sa.Column(
            "observation_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["migration_id"],
            ["reembed_migrations.id"],
            name=op.f("fk_reembed_items_migration_id_reembed_migrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observations.id"],
            name=op.f("fk_reembed_items_observation_id_observations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("migration_id", "observation_id", name=op.f("pk_reembed_items")),
    )


def downgrade() -> None:
    op.drop_table("reembed_items")
    with op.batch_alter_table("reembed_migrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reembed_migrations_state"))
        batch_op.drop_index(batch_op.f("ix_reembed_migrations_kind"))
    op.drop_table("reembed_migrations")
    op.drop_table("calibrations")
