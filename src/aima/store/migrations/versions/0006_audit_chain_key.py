"""audit chain sequence and key-held authentication

Rows written before this revision get their chain position (``seq``) from id order; they
have no ``mac`` and verify reports them as legacy (hash-chained, not authenticated).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
    conn = op.get_bind()
    ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM audit_events ORDER BY id"))]
    for seq, event_id in enumerate(ids, start=1):
        conn.execute(
            sa.text("UPDATE audit_events SET seq = :seq WHERE id = :id"),
            {"seq": seq, "id": event_id},
        )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_seq"), ["seq"])


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_events_seq"), type_="unique")
        batch_op.drop_column("key_id")
        batch_op.drop_column("mac")
        batch_op.drop_column("seq")
