"""Erasure receipts: signed proof of what erasing a person removed, with no personal data in it.

A receipt is a JSON document: its id and time, the actor, a keyed hash of the person's id
(``subject_hash``: whoever holds the key can answer "was person X erased?", nobody else can
learn who it was), and per store the number of items removed with a sha256 over their sorted
ids or hashes, plus what happened to the vector index. It never holds names, embeddings,
file names or blob keys.

It is signed with HMAC-SHA256 under a key *derived* from the audit keyring (held outside the
database, :mod:`aima.security.audit_keys`); the keyring's key id is part of the signed body, so
receipts stay verifiable after the keyring gains a new current key. A changed byte anywhere in
the body (or a signature copied onto another body) fails verification.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aima.core.errors import NotFound
from aima.security.audit import keyring_of
from aima.security.audit_keys import AuditKeyring
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.store.db import Database
from aima.store.models_trust import ErasureReceipt

FORMAT = 1
_SIGNING = b"aima erasure receipt signing key v1"
_SUBJECT = b"aima erasure subject hash key v1"


def digest_of(items: Iterable[str | int]) -> str:
    """sha256 over the sorted items, one per line: proves *which* items without listing them."""
    lines = sorted(str(i) for i in items)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def store_entry(store: str, items: Iterable[str | int], **facts: Any) -> dict[str, Any]:
    """One ``stores`` entry: the store's name, how many items went, and their digest."""
    listed = list(items)
    return {"store": store, "count": len(listed), "sha256": digest_of(listed), **facts}


def _derived(keyring: AuditKeyring, key_id: str, purpose: bytes) -> bytes | None:
    key = keyring.keys.get(key_id)
    return hmac.new(key, purpose, hashlib.sha256).digest() if key else None


def subject_hash(keyring: AuditKeyring, person_id: str, key_id: str | None = None) -> str:
    """HMAC(key derived from the audit keyring, person id); the current key by default."""
    key = _derived(keyring, key_id or keyring.current, _SUBJECT)
    if key is None:
        raise NotFound(f"the audit keyring does not hold key {key_id}")
    return hmac.new(key, person_id.encode(), hashlib.sha256).hexdigest()


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def sign(keyring: AuditKeyring, body: dict[str, Any]) -> str:
    key = _derived(keyring, str(body["key_id"]), _SIGNING)
    if key is None:
        raise NotFound(f"the audit keyring does not hold key {body['key_id']}")
    return hmac.new(key, canonical(body), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "problem": self.problem}


def check(keyring: AuditKeyring, document: dict[str, Any]) -> Verdict:
    """Does ``document`` (a receipt as issued: the body plus ``signature``) verify?"""
    body = {k: v for k, v in document.items() if k != "signature"}
    signature = document.get("signature")
    if not isinstance(signature, str) or not signature:
        return Verdict(False, "the receipt carries no signature")
    if body.get("format") != FORMAT:
        return Verdict(False, f"unknown receipt format {body.get('format')!r}")
    key = _derived(keyring, str(body.get("key_id")), _SIGNING)
    if key is None:
        return Verdict(False, f"the audit keyring does not hold key {body.get('key_id')!r}")
    expected = hmac.new(key, canonical(body), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return Verdict(False, "the signature does not match: the receipt was modified")
    return Verdict(True)


def issue(
    session: Session,
    *,
    receipt_id: str,
    actor: str,
    person_id: str,
    created_at: str,
    stores: list[dict[str, Any]],
    index: dict[str, Any],
    with_media: bool,
) -> dict[str, Any]:
    """Sign and store a receipt in ``session``'s transaction; returns the signed document."""
    keyring = keyring_of(session)
    body: dict[str, Any] = {
        "format": FORMAT,
        "kind": "person_erasure",
        "id": receipt_id,
        "created_at": created_at,
        "actor": actor,
        "subject_hash": subject_hash(keyring, person_id),
        "key_id": keyring.current,
        "with_media": with_media,
        "stores": stores,
        "index": index,
    }
    signature = sign(keyring, body)
    session.add(
        ErasureReceipt(
            id=receipt_id,
            subject_hash=body["subject_hash"],
            body=body,
            signature=signature,
            key_id=keyring.current,
            actor=actor,
        )
    )
    return {**body, "signature": signature}


class ReceiptService:
    """Reading and verifying stored receipts (Auditor, Admin)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, principal: Principal, receipt_id: str) -> dict[str, Any]:
        """The stored receipt with its verdict: signature and row columns both checked."""
        principal.require(Permission.AUDIT_READ)
        with self.db.session() as s:
            row = s.get(ErasureReceipt, receipt_id)
            if row is None:
                raise NotFound(f"erasure receipt {receipt_id} not found")
            document = {**row.body, "signature": row.signature}
            verdict = check(keyring_of(s), document)
            if verdict.valid and (
                row.subject_hash != row.body.get("subject_hash")
                or row.key_id != row.body.get("key_id")
                or row.id != row.body.get("id")
            ):
                verdict = Verdict(False, "the stored columns do not match the signed body")
        return {"receipt": document, **verdict.as_dict()}

    def verify_document(self, principal: Principal, document: dict[str, Any]) -> dict[str, Any]:
        """Check a receipt given as a document (e.g. a file handed to the data subject)."""
        principal.require(Permission.AUDIT_READ)
        with self.db.session() as s:
            verdict = check(keyring_of(s), document)
        return {"receipt": document, **verdict.as_dict()}

    def find(self, principal: Principal, person_id: str) -> list[str]:
        """Ids of receipts for this person id (under every key the keyring holds)."""
        principal.require(Permission.AUDIT_READ)
        with self.db.session() as s:
            keyring = keyring_of(s)
            hashes = [subject_hash(keyring, person_id, kid) for kid in keyring.keys]
            rows = s.execute(
                select(ErasureReceipt.id)
                .where(ErasureReceipt.subject_hash.in_(hashes))
                .order_by(ErasureReceipt.created_at)
            ).scalars()
            return list(rows)
