from __future__ import annotations

from sqlalchemy import update

from aima.runtime import Runtime
from aima.security import audit
from aima.services.access import cli_principal
from aima.store.models import AuditEvent


def test_chain_verifies_and_detects_tampering(runtime: Runtime) -> None:
    with runtime.db.session() as s:
        for i in range(5):
            audit.record(s, actor="test", action="thing.touch", object_id=str(i), details={"i": i})
    report = runtime.system.verify_audit(cli_principal())
    assert report.ok and report.events == 5
    with runtime.db.session() as s:
        s.execute(update(AuditEvent).where(AuditEvent.object_id == "2").values(details={"i": 99}))
    report = runtime.system.verify_audit(cli_principal())
    assert not report.ok
    assert report.first_bad_id is not None


def test_deleting_an_event_breaks_the_chain(runtime: Runtime) -> None:
    with runtime.db.session() as s:
        for i in range(3):
            audit.record(s, actor="test", action="thing.touch", object_id=str(i))
    with runtime.db.session() as s:
        victim = s.query(AuditEvent).filter(AuditEvent.object_id == "1").one()
        s.delete(victim)
    assert not runtime.system.verify_audit(cli_principal()).ok
