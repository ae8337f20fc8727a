"""indexes that serve the default listing order (newest first) of media and jobs

Without them every page of ``GET /media`` and ``GET /jobs`` sorted the whole table (and
computed each row's visible name) before keeping 50 rows.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 04:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index("ix_media_created", ["created_at", "id"], unique=False)
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_created", ["created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_created")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index("ix_media_created")
