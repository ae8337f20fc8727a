"""llm calls, review queue, summaries, text embeddings, compute cost

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 20:05:48.174497
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import aima.store.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analyzer_costs",
        sa.Column("analyzer", sa.String(length=64), nullable=False),
        sa.Column("analyzer_version", sa.String(length=32), nullable=False),
        sa.Column("device_class", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("units", sa.Float(), nullable=False),
        sa.Column("cpu_s", sa.Float(), nullable=False),
        sa.Column("gpu_s", sa.Float(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("updated_at", aima.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "analyzer", "analyzer_version", "device_class", "unit", name=op.f("pk_analyzer_costs")
        ),
    )
    op.create_table(
        "budgets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("soft_limit", sa.Float(), nullable=False),
        sa.Column("hard_limit", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", aima.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budgets")),
        sa.UniqueConstraint("scope", "subject", "period", name=op.f("uq_budgets_scope")),
    )
    op.create_table(
        "compute_workers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("offer_id", sa.String(length=128), nullable=False),
        sa.Column("instance_id", sa.String(length=128), nullable=True),
        sa.Column("gpu_type", sa.String(length=64), nullable=False),
        sa.Column("gpu_count", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("price_per_hour", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("launched_at", aima.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_busy_at", aima.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("terminated_at", aima.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("spend", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_workers")),
    )
    with op.batch_alter_table("compute_workers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_compute_workers_provider"), ["provider"], unique=False)
        batch_op.create_index(batch_op.f("ix_compute_workers_state"), ["state"], unique=False)

    op.create_table(
        "llm_calls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("endpoint", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=False),
        sa.Column("prompt_id", sa.String(length=64), nullable=False),
        sa.Column("prompt_version", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=True),
        sa.Column("media_id", sa.String(length=40), nullable=True),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("latency_s", sa.Float(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", aima.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_calls")),
    )
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_llm_calls_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_llm_calls_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_llm_calls_media_id"), ["media_id"], unique=False)

    op.create_table(
        "summaries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "sentences",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("model", sa.String(length=256), nullable=True),
        sa.Column("prompt_version", sa.String(length=32), nullable=True),
        sa.Column("facts_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", aima.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summaries")),
        sa.UniqueConstraint("subject_type", "subject_id", name=op.f("uq_summaries_subject_type")),
    )
    with op.batch_alter_table("summaries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_summaries_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "review_items",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("media_id", sa.String(length=40), nullable=False),
        sa.Column("result_id", sa.String(length=40), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("t", sa.Float(), nullable=False),
        sa.Column(
            "box",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("evidence", sa.String(length=64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", aima.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", aima.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_review_items_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["results.id"],
            name=op.f("fk_review_items_result_id_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.UniqueConstraint("result_id", "ref", name=op.f("uq_review_items_result_id")),
    )
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_items_media_id"), ["media_id"], unique=False)
        batch_op.create_index("ix_review_items_state_kind", ["state", "kind"], unique=False)

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "estimate",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )
        batch_op.add_column(sa.Column("confirmed_by", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("confirmed_at", aima.store.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("cost_actual", sa.Float(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.alter_column(
            "state",
            existing_type=sa.VARCHAR(length=16),
            type_=sa.String(length=32),
            existing_nullable=False,
        )
        batch_op.create_index(batch_op.f("ix_jobs_project"), ["project"], unique=False)

    with op.batch_alter_table("text_segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("embedding", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("collection", sa.String(length=128), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_text_segments_collection"), ["collection"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("text_segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_text_segments_collection"))
        batch_op.drop_column("collection")
        batch_op.drop_column("embedding")

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_project"))
        batch_op.alter_column(
            "state",
            existing_type=sa.String(length=32),
            type_=sa.VARCHAR(length=16),
            existing_nullable=False,
        )
        batch_op.drop_column("cost_actual")
        batch_op.drop_column("confirmed_at")
        batch_op.drop_column("confirmed_by")
        batch_op.drop_column("estimate")
        batch_op.drop_column("project")

    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_index("ix_review_items_state_kind")
        batch_op.drop_index(batch_op.f("ix_review_items_media_id"))

    op.drop_table("review_items")
    with op.batch_alter_table("summaries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_summaries_subject_id"))

    op.drop_table("summaries")
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_llm_calls_media_id"))
        batch_op.drop_index(batch_op.f("ix_llm_calls_job_id"))
        batch_op.drop_index(batch_op.f("ix_llm_calls_created_at"))

    op.drop_table("llm_calls")
    with op.batch_alter_table("compute_workers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compute_workers_state"))
        batch_op.drop_index(batch_op.f("ix_compute_workers_provider"))

    op.drop_table("compute_workers")
    op.drop_table("budgets")
    op.drop_table("analyzer_costs")
