"""Roles map to explicit permissions; every API route declares the one it needs."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    MEDIA_UPLOAD = "media:upload"
    MEDIA_READ = "media:read"  # own or granted media
    MEDIA_READ_ALL = "media:read_all"
    MEDIA_DOWNLOAD = "media:download"
    JOBS_CREATE = "jobs:create"
    JOBS_READ = "jobs:read"  # own jobs / jobs on readable media
    JOBS_READ_ALL = "jobs:read_all"
    JOBS_MANAGE = "jobs:manage"  # cancel/retry/re-prioritise own jobs
    JOBS_MANAGE_ALL = "jobs:manage_all"
    RESULTS_READ = "results:read"
    RESULTS_REVIEW = "results:review"  # accept a new analyzer version's results
    PERSONS_READ = "persons:read"  # persons, dossiers, "seen before?"
    PERSONS_MANAGE = "persons:manage"  # merge, split, reject, rename, link decisions, undo
    IDENTITY_CALIBRATE = "identity:calibrate"  # thresholds from labelled data, re-embedding
    SEARCH_TEXT = "search:text"  # transcripts and OCR of readable media
    SEARCH_BIOMETRIC = "search:biometric"  # search by face photo or voice clip
    USERS_MANAGE = "users:manage"
    AUDIT_READ = "audit:read"  # read and verify the audit trail (never write it)
    AUDIT_ANCHOR = "audit:anchor"  # export a signed chain head outside the database (Admin)
    BACKUP_MANAGE = "backup:manage"  # take backups of the whole library (Admin)
    SYSTEM_READ = "system:read"
    BUDGETS_MANAGE = "budgets:manage"  # budgets CRUD; accept/reject other users' job costs
    REVIEW_READ = "review:read"  # the review queue of flagged findings and their evidence
    REVIEW_DECIDE = "review:decide"  # confirm or dismiss a flagged finding (audited)
    WEBHOOKS_MANAGE = "webhooks:manage"  # own webhook subscriptions and their delivery log
    PERSONS_ERASE = "persons:erase"  # erase a person with a receipt; subject export (Admin)
    QUOTAS_MANAGE = "quotas:manage"  # per-user quota overrides, anyone's usage (Admin)
    RETENTION_MANAGE = "retention:manage"  # retention rules CRUD and runs (Admin)
    CASES_READ = "cases:read"  # the cases one is a member of (Admin: all)
    CASES_MANAGE = "cases:manage"  # open cases, add/remove members, close them


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    UPLOADER = "uploader"
    VIEWER = "viewer"
    AUDITOR = "auditor"


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.ANALYST: frozenset(
        {
            P.MEDIA_UPLOAD,
            P.MEDIA_READ,
            P.MEDIA_READ_ALL,
            P.MEDIA_DOWNLOAD,
            P.JOBS_CREATE,
            P.JOBS_READ,
            P.JOBS_READ_ALL,
            P.JOBS_MANAGE,
            P.JOBS_MANAGE_ALL,
            P.RESULTS_READ,
            P.RESULTS_REVIEW,
            P.PERSONS_READ,
            P.PERSONS_MANAGE,
            P.IDENTITY_CALIBRATE,
            P.SEARCH_TEXT,
            P.SEARCH_BIOMETRIC,
            P.SYSTEM_READ,
            P.REVIEW_READ,
            P.REVIEW_DECIDE,
            P.WEBHOOKS_MANAGE,
            P.CASES_READ,
            P.CASES_MANAGE,
        }
    ),
    Role.UPLOADER: frozenset(
        {
            P.WEBHOOKS_MANAGE,  # events of their own jobs and media only
            P.MEDIA_UPLOAD,
            P.MEDIA_READ,
            P.MEDIA_DOWNLOAD,  # their own or granted media only (object-level check)
            P.JOBS_CREATE,
            P.JOBS_READ,
            P.JOBS_MANAGE,
            P.RESULTS_READ,
            P.SEARCH_TEXT,  # within their own or granted media only
            P.CASES_READ,  # the cases they were added to
        }
    ),
    Role.VIEWER: frozenset(
        {
            P.MEDIA_READ,
            P.MEDIA_READ_ALL,
            P.JOBS_READ,
            P.JOBS_READ_ALL,
            P.RESULTS_READ,
            P.PERSONS_READ,
            P.SEARCH_TEXT,
            P.CASES_READ,  # the cases they were added to
        }
    ),
    Role.AUDITOR: frozenset({P.AUDIT_READ, P.SYSTEM_READ, P.REVIEW_READ}),
}


def has_permission(role: str, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
