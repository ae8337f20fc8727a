"""The job ledger: the database is the system of record for jobs, chunks and leases."""
