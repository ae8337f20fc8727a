"""Alembic environment: the engine comes from ``aima.store.migrate.alembic_config``."""

from __future__ import annotations

from alembic import context

from aima.store.models import Base

# Full-text objects are created per dialect by hand in migrations (not ORM metadata).
UNMANAGED_PREFIXES = ("text_segments_fts", "ix_text_segments_fts")


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (name or "").startswith(UNMANAGED_PREFIXES)


config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
