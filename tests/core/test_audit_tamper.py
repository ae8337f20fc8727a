"""An insider with full database access tries to rewrite the audit trail; verify must see it.

Each case starts from the same chain of 40 events, anchored (signed head exported outside the
database) after event 30 and again after event 40, then tampers with the rows directly in SQL
as someone with database credentials (but not the audit key) would. Verify must say the chain
is broken and name the first event that is wrong, not a later one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from aima.core.errors import ConfigError
from aima.core.settings import Settings
from aima.runtime import Runtime, build_runtime
from aima.security import audit
from aima.security.audit_anchor import FileAnchorSink
from aima.security.audit_keys import load_keyring
from aima.services.access import Principal, cli_principal
from aima.store.models import AuditEvent
from tests.conftest import make_settings

pytestmark = pytest.mark.reliability

EVENTS = 40


@pytest.fixture
def chain(runtime: Runtime) -> Runtime:
    for i in range(EVENTS):
        with runtime.db.session() as s:
            audit.record(
                s, actor="api:alice", action="media.read", object_id=f"m{i}", details={"i": i}
            )
        if i + 1 in (30, EVENTS):
            assert runtime.system.anchor_audit(cli_principal()) is not None
    report = runtime.system.verify_audit(cli_principal())
    assert (report.ok, report.events, report.anchored_seq, report.legacy) == (
        True,
        EVENTS,
        EVENTS,
        0,
    )
    return runtime


def rows(s: Session) -> list[AuditEvent]:
    return list(s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())


def rechain(s: Session, start_seq: int) -> None:
    """What a forger does: recompute every sha256 from ``start_seq`` on (no key, so no MAC)."""
    prev = audit.GENESIS
    for row in rows(s):
        if row.seq is not None and row.seq >= start_seq:
            row.prev_hash = prev
            row.hash = audit._digest(prev, row)
        prev = row.hash
    s.flush()


def seq_id(s: Session, seq: int) -> int:
    return int(s.execute(select(AuditEvent.id).where(AuditEvent.seq == seq)).scalar_one())


def edit_details(s: Session) -> int:
    target = seq_id(s, 12)
    s.execute(update(AuditEvent).where(AuditEvent.id == target).values(details={"i": 999}))
    return target


def edit_actor(s: Session) -> int:
    target = seq_id(s, 5)
    s.execute(update(AuditEvent).where(AuditEvent.id == target).values(actor="api:mallory"))
    return target


def edit_timestamp(s: Session) -> int:
    target = seq_id(s, 20)
    row = s.get(AuditEvent, target)
    assert row is not None
    row.ts = row.ts.replace(year=row.ts.year - 1)
    return target


def edit_and_rechain(s: Session) -> int:
    target = seq_id(s, 7)
    s.execute(update(AuditEvent).where(AuditEvent.id == target).values(outcome="denied"))
    rechain(s, 7)
    return target


def delete_middle(s: Session) -> int:
    s.execute(delete(AuditEvent).where(AuditEvent.seq == 15))
    return seq_id(s, 16)


def delete_middle_renumber_and_rechain(s: Session) -> int:
    s.execute(delete(AuditEvent).where(AuditEvent.seq == 15))
    for seq in range(16, EVENTS + 1):
        s.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(seq=seq - 1))
    rechain(s, 15)
    return seq_id(s, 15)


def renumber_ids(s: Session) -> int:
    # shift the ids of the last ten events up by 1000 (ids are what other tables cite)
    first = seq_id(s, 31)
    for seq in range(EVENTS, 30, -1):
        s.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(id=seq_id(s, seq) + 1000))
    return first + 1000


def reorder(s: Session) -> int:
    # swap the positions of events 10 and 11 (sequence numbers and links), re-chained
    a, b = seq_id(s, 10), seq_id(s, 11)
    s.execute(update(AuditEvent).where(AuditEvent.id == a).values(seq=-1))
    s.execute(update(AuditEvent).where(AuditEvent.id == b).values(seq=10))
    s.execute(update(AuditEvent).where(AuditEvent.id == a).values(seq=11))
    rechain(s, 10)
    return b


def forge_appended(s: Session) -> int | None:
    last = rows(s)[-1]
    forged = AuditEvent(
        ts=last.ts,
        actor="api:admin",
        action="user.create",
        details={"username": "backdoor"},
        prev_hash=last.hash,
        seq=(last.seq or 0) + 1,
        key_id=last.key_id,
        mac=hashlib.sha256(b"guess").hexdigest(),
    )
    forged.hash = audit._digest(last.hash, forged)
    s.add(forged)
    s.flush()
    return forged.id


def delete_last(s: Session) -> int | None:
    s.execute(delete(AuditEvent).where(AuditEvent.seq == EVENTS))
    return None


def truncate_last_25(s: Session) -> int | None:
    s.execute(delete(AuditEvent).where(AuditEvent.seq > EVENTS - 25))
    return None


def delete_everything(s: Session) -> int | None:
    s.execute(delete(AuditEvent))
    return None


def edit_hash_only(s: Session) -> int:
    target = seq_id(s, 3)
    s.execute(update(AuditEvent).where(AuditEvent.id == target).values(hash="f" * 64))
    return target


# (attack, whether verify must name a specific row as the first bad one)
ATTACKS: list[Callable[[Session], int | None]] = [
    edit_details,
    edit_actor,
    edit_timestamp,
    edit_hash_only,
    edit_and_rechain,
    delete_middle,
    delete_middle_renumber_and_rechain,
    renumber_ids,
    reorder,
    forge_appended,
    delete_last,
    truncate_last_25,
    delete_everything,
]


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.__name__ for a in ATTACKS])
def test_tampering_is_detected_at_the_first_bad_event(
    chain: Runtime, attack: Callable[[Session], int | None]
) -> None:
    with chain.db.session() as s:
        expected_bad = attack(s)
    report = chain.system.verify_audit(cli_principal())
    assert not report.ok, f"{attack.__name__} went unnoticed"
    assert report.problem
    if expected_bad is not None:
        assert report.first_bad_id == expected_bad, report.problem
    else:  # rows removed from the end: only the anchors can tell
        assert "removed from the end" in report.problem


def test_a_forged_anchor_is_reported(chain: Runtime) -> None:
    sink = chain.system.audit_trail.sink
    assert isinstance(sink, FileAnchorSink)
    records = sink.read_all()
    records[-1]["seq"] = 35  # claim the chain was shorter, to hide a truncation
    sink.path.write_text("".join(json.dumps(r) + "\n" for r in records))
    report = chain.system.verify_audit(cli_principal())
    assert not report.ok and report.problem and "invalid signature" in report.problem


def test_the_untampered_chain_keeps_verifying_as_it_grows(chain: Runtime) -> None:
    with chain.db.session() as s:
        audit.record(s, actor="api:bob", action="persons.read")
    report = chain.system.verify_audit(cli_principal())
    assert report.ok and report.events == EVENTS + 1 and report.anchored_seq == EVENTS


def test_without_the_key_the_chain_cannot_be_verified_as_authentic(
    chain: Runtime, settings: Settings, tmp_path: Path
) -> None:
    other = settings.model_copy(
        update={"audit": settings.audit.model_copy(update={"key_file": tmp_path / "k2" / "a.key"})}
    )
    with chain.db.session() as s:
        report = audit.verify_chain(s, load_keyring(other))
    assert not report.ok and report.problem and "keyring lacks" in report.problem


def test_the_key_file_may_not_live_in_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = make_settings(
        data, f"sqlite:///{tmp_path / 'x.db'}", audit={"key_file": data / "audit.key"}
    )
    with pytest.raises(ConfigError, match="inside the data directory"):
        load_keyring(settings)


def test_production_refuses_to_start_without_an_audit_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="AIMA_AUDIT__KEY_FILE"):
        Settings(
            env="production",
            data_dir=tmp_path,
            auth={"jwt_secret": "x" * 40},
            audit={"key_file": None},
        )


def test_the_auditor_verifies_but_cannot_anchor(chain: Runtime) -> None:
    auditor = Principal(user_id=None, username="aud", role="auditor")
    assert chain.system.verify_audit(auditor).ok
    from aima.core.errors import Forbidden

    with pytest.raises(Forbidden):
        chain.system.anchor_audit(auditor)


@pytest.fixture
def s3_runtime(tmp_path: Path, s3_endpoint: str) -> Iterator[tuple[Runtime, str]]:
    import boto3

    bucket = "audit-anchors"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'aima.db'}",
        blobs={
            "s3_endpoint_url": s3_endpoint,
            "s3_access_key": "testing",
            "s3_secret_key": "testing",
        },
        audit={"anchor_uri": f"s3://{bucket}/anchors/{tmp_path.name}"},
    )
    rt = build_runtime(settings)
    try:
        yield rt, bucket
    finally:
        rt.close()


def test_anchors_in_an_object_lock_bucket_catch_truncation(
    s3_runtime: tuple[Runtime, str], s3_endpoint: str
) -> None:
    rt, bucket = s3_runtime
    for i in range(5):
        with rt.db.session() as s:
            audit.record(s, actor="api:alice", action="media.read", object_id=str(i))
    record = rt.system.anchor_audit(cli_principal())
    assert record is not None and record["seq"] == 5
    assert rt.system.anchor_location.startswith(f"s3://{bucket}/")
    assert rt.system.verify_audit(cli_principal()).ok
    with rt.db.session() as s:
        s.execute(text("DELETE FROM audit_events WHERE seq > 3"))
    report = rt.system.verify_audit(cli_principal())
    assert not report.ok and report.problem and "removed from the end" in report.problem
