"""Use cases: ingest, jobs, users and auth, media access, system status."""
