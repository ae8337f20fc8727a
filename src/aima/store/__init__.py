"""Persistence: relational database (SQLite or PostgreSQL), blobs, migrations."""
