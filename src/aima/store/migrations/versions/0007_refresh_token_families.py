"""refresh-token families (login sessions) and why a token was revoked

Existing tokens become a family of their own (``family_id = id``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 20:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("family_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("revoke_reason", sa.String(length=16), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_family_id"), ["family_id"], unique=False
        )
    op.execute("UPDATE refresh_tokens SET family_id = id WHERE family_id IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_family_id"))
        batch_op.drop_column("revoke_reason")
        batch_op.drop_column("family_id")
