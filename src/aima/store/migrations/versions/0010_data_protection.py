"""data protection: data keys, cases, erasure receipts, retention, quotas, per-user media view

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 23:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aima.store.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = aima.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("rewrapped_at", _WHEN, nullable=True),
        sa.Column("destroyed_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_keys")),
    )
    op.create_index("ix_data_keys_subject", "data_keys", ["scope", "subject_id"], unique=False)
    op.create_index(op.f("ix_data_keys_kek_id"), "data_keys", ["kek_id"], unique=False)
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("legal_basis", sa.String(length=64), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("closed_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_cases_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    op.create_table(
        "case_members",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("added_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_members_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_case_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "user_id", name=op.f("pk_case_members")),
    )
    op.create_index(op.f("ix_case_members_user_id"), "case_members", ["user_id"], unique=False)
    op.create_table(
        "erasure_receipts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("body", aima.store.types.JSONType, nullable=False),
        sa.Column("signature", sa.String(length=256), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_receipts")),
    )
    op.create_index(op.f("ix_erasure_receipts_subject_hash"), "erasure_receipts", ["subject_hash"])
    op.create_table(
        "retention_rules",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("library", sa.String(length=64), nullable=False),
        sa.Column("media_kind", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("after_days", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("last_run_at", _WHEN, nullable=True),
        sa.Column("last_run_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_rules")),
    )
    op.create_index(op.f("ix_retention_rules_library"), "retention_rules", ["library"])
    op.create_table(
        "user_quotas",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("uploads_per_day", sa.Integer(), nullable=True),
        sa.Column("bytes_per_day", sa.BigInteger(), nullable=True),
        sa.Column("gpu_seconds_per_month", sa.Float(), nullable=True),
        sa.Column("money_per_month", sa.Float(), nullable=True),
        sa.Column("requests_per_minute", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(length=128), nullable=True),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_quotas_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_quotas")),
    )
    with op.batch_alter_table("media") as batch:
        batch.add_column(
            sa.Column("library", sa.String(length=64), nullable=False, server_default="default")
        )
        batch.add_column(sa.Column("raw_deleted_at", _WHEN, nullable=True))
        batch.create_index(batch.f("ix_media_library"), ["library"], unique=False)
    with op.batch_alter_table("media_grants") as batch:
        batch.add_column(sa.Column("display_name", sa.String(length=1024), nullable=True))
        batch.add_column(
            sa.Column("via", sa.String(length=16), nullable=False, server_default="upload")
        )


def downgrade() -> None:
    with op.batch_alter_table("media_grants") as batch:
        batch.drop_column("via")
        batch.drop_column("display_name")
    with op.batch_alter_table("media") as batch:
        batch.drop_index(batch.f("ix_media_library"))
        batch.drop_column("raw_deleted_at")
        batch.drop_column("library")
    op.drop_table("user_quotas")
    op.drop_index(op.f("ix_retention_rules_library"), table_name="retention_rules")
    op.drop_table("retention_rules")
    op.drop_index(op.f("ix_erasure_receipts_subject_hash"), table_name="erasure_receipts")
    op.drop_table("erasure_receipts")
    op.drop_index(op.f("ix_case_members_user_id"), table_name="case_members")
    op.drop_table("case_members")
    op.drop_table("cases")
    op.drop_index(op.f("ix_data_keys_kek_id"), table_name="data_keys")
    op.drop_index("ix_data_keys_subject", table_name="data_keys")
    op.drop_table("data_keys")
