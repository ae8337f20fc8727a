"""Cases: the purpose that justifies looking for people (purpose binding).

A case names an investigation or request, its legal basis and a justification. Searching
by face or voice, "seen before?", dossiers, exports, subject exports and erasure run *under*
an open case the caller is a member of (Admins: any open case) when
``AIMA_PRIVACY__CASES_REQUIRED`` is on (the default); the audit event of the action names
the case and the purpose. Creating, joining and closing cases is audited too.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from aima.core.clock import utcnow
from aima.core.errors import BadRequest, Conflict, Forbidden, InvalidInput, NotFound
from aima.core.ids import new_id
from aima.core.settings import PrivacySettings
from aima.security import audit
from aima.security.permissions import Permission, Role
from aima.services.access import Principal
from aima.store.db import Database
from aima.store.models import User
from aima.store.models_trust import Case, CaseMember

#: the lawful bases a case may rest on (GDPR art. 6(1) and the law-enforcement directive)
LEGAL_BASES: Final = (
    "consent",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
    "law_enforcement",
)
MIN_JUSTIFICATION = 10
CASE_HEADER: Final = "X-AIMA-Case"


@dataclass(frozen=True, slots=True)
class CaseUse:
    """The case an action runs under; ``case_id`` is None only when cases are optional."""

    case_id: str | None
    purpose: str

    def audit(self) -> dict[str, Any]:
        """The fields added to the audit event of the guarded action."""
        return {"case": self.case_id, "purpose": self.purpose}


def _sees_all(principal: Principal) -> bool:
    return principal.role == Role.ADMIN


def _case_dict(case: Case, members: builtins.list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": case.id,
        "title": case.title,
        "legal_basis": case.legal_basis,
        "justification": case.justification,
        "state": case.state,
        "created_by": case.created_by,
        "created_at": case.created_at,
        "closed_at": case.closed_at,
        "members": members,
    }


class CaseService:
    def __init__(self, db: Database, privacy: PrivacySettings) -> None:
        self.db = db
        self.privacy = privacy

    # --- reading ---------------------------------------------------------------------------

    def _members(self, s: Session, case_id: str) -> builtins.list[dict[str, Any]]:
        rows = s.execute(
            select(CaseMember, User.username)
            .join(User, User.id == CaseMember.user_id)
            .where(CaseMember.case_id == case_id)
            .order_by(CaseMember.created_at, User.username)
        ).all()
        return [
            {
                "user_id": m.user_id,
                "username": username,
                "added_by": m.added_by,
                "created_at": m.created_at,
            }
            for m, username in rows
        ]

    @staticmethod
    def _is_member(s: Session, case_id: str, user_id: str | None) -> bool:
        if user_id is None:
            return False
        found = s.execute(
            select(CaseMember.user_id).where(
                CaseMember.case_id == case_id, CaseMember.user_id == user_id
            )
        ).first()
        return found is not None

    def _visible(self, s: Session, principal: Principal, case_id: str) -> Case:
        case = s.get(Case, case_id)
        if case is None:
            raise NotFound(
                f"case {case_id} not found; `aima cases list` shows the cases you may use"
            )
        if not _sees_all(principal) and not self._is_member(s, case_id, principal.user_id):
            raise Forbidden(
                f"you are not a member of case {case_id}; ask its creator or an admin "
                "to add you (`aima cases add-member`)"
            )
        return case

    def list(
        self, principal: Principal, *, state: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Cases the caller may use (Admin: every case), newest first."""
        principal.require(Permission.CASES_READ)
        with self.db.session() as s:
            query = select(Case).order_by(Case.created_at.desc(), Case.id.desc())
            if state is not None:
                query = query.where(Case.state == state)
            if not _sees_all(principal):
                query = query.where(
                    exists().where(
                        CaseMember.case_id == Case.id, CaseMember.user_id == principal.user_id
                    )
                )
            cases = list(s.execute(query).scalars())
            return [_case_dict(c, self._members(s, c.id)) for c in cases]

    def get(self, principal: Principal, case_id: str) -> dict[str, Any]:
        principal.require(Permission.CASES_READ)
        with self.db.session() as s:
            case = self._visible(s, principal, case_id)
            return _case_dict(case, self._members(s, case.id))

    # --- changes ---------------------------------------------------------------------------

    def create(
        self,
        principal: Principal,
        *,
        title: str,
        legal_basis: str,
        justification: str,
        members: builtins.list[str] | None = None,
    ) -> dict[str, Any]:
        """Open a case; the creator (an API user) and ``members`` (usernames) can use it."""
        principal.require(Permission.CASES_MANAGE)
        title, justification = title.strip(), justification.strip()
        if not title:
            raise InvalidInput("a case needs a title")
        if legal_basis not in LEGAL_BASES:
            raise InvalidInput(
                f"unknown legal basis {legal_basis!r}; use one of: {', '.join(LEGAL_BASES)}"
            )
        if len(justification) < MIN_JUSTIFICATION:
            raise InvalidInput(
                f"the justification must say why, in at least {MIN_JUSTIFICATION} characters"
            )
        with self.db.session() as s:
            case = Case(
                id=new_id("case"),
                title=title[:256],
                legal_basis=legal_basis,
                justification=justification,
                state="open",
                created_by=principal.user_id,
                created_at=utcnow(),
            )
            s.add(case)
            s.flush()
            user_ids = [principal.user_id] if principal.user_id else []
            user_ids += [self._user(s, name).id for name in members or []]
            for user_id in dict.fromkeys(user_ids):
                s.add(CaseMember(case_id=case.id, user_id=user_id, added_by=principal.actor))
            s.flush()
            audit.record(
                s,
                actor=principal.actor,
                action="case.create",
                object_type="case",
                object_id=case.id,
                details={
                    "title": case.title,
                    "legal_basis": legal_basis,
                    "members": len(user_ids),
                },
            )
            return _case_dict(case, self._members(s, case.id))

    @staticmethod
    def _user(s: Session, who: str) -> User:
        user = s.execute(
            select(User).where((User.username == who) | (User.id == who))
        ).scalar_one_or_none()
        if user is None:
            raise NotFound(f"user {who!r} not found (`aima users list` shows them)")
        if not user.is_active:
            raise Conflict(f"user {user.username!r} is disabled and cannot join a case")
        return user

    def _managed(self, s: Session, principal: Principal, case_id: str) -> Case:
        principal.require(Permission.CASES_MANAGE)
        case = self._visible(s, principal, case_id)
        if case.state != "open":
            raise Conflict(f"case {case_id} is closed; open a new case instead")
        return case

    def add_member(self, principal: Principal, case_id: str, who: str) -> dict[str, Any]:
        """Let a user (username or id) work under the case; adding a member twice is a no-op."""
        with self.db.session() as s:
            case = self._managed(s, principal, case_id)
            user = self._user(s, who)
            if not self._is_member(s, case.id, user.id):
                s.add(CaseMember(case_id=case.id, user_id=user.id, added_by=principal.actor))
                s.flush()
                audit.record(
                    s,
                    actor=principal.actor,
                    action="case.member_add",
                    object_type="case",
                    object_id=case.id,
                    details={"user_id": user.id, "username": user.username},
                )
            return _case_dict(case, self._members(s, case.id))

    def remove_member(self, principal: Principal, case_id: str, who: str) -> dict[str, Any]:
        with self.db.session() as s:
            case = self._managed(s, principal, case_id)
            user = self._user(s, who)
            member = s.get(CaseMember, (case.id, user.id))
            if member is None:
                raise NotFound(f"user {user.username!r} is not a member of case {case.id}")
            s.delete(member)
            s.flush()
            audit.record(
                s,
                actor=principal.actor,
                action="case.member_remove",
                object_type="case",
                object_id=case.id,
                details={"user_id": user.id, "username": user.username},
            )
            return _case_dict(case, self._members(s, case.id))

    def close(self, principal: Principal, case_id: str) -> dict[str, Any]:
        """Nothing more runs under the case; it stays listed, for the record."""
        with self.db.session() as s:
            case = self._managed(s, principal, case_id)
            case.state = "closed"
            case.closed_at = utcnow()
            s.flush()
            audit.record(
                s,
                actor=principal.actor,
                action="case.close",
                object_type="case",
                object_id=case.id,
                details={"title": case.title},
            )
            return _case_dict(case, self._members(s, case.id))

    # --- purpose binding -------------------------------------------------------------------

    def authorize(self, principal: Principal, case_id: str | None, purpose: str) -> CaseUse:
        """The case ``principal`` may run ``purpose`` under, or an error saying what is missing.

        No case: 400 when cases are required (else the action runs without one); unknown case:
        404; not a member (and not an Admin): 403; closed case: 409. Refusals of a named case
        are audited (``case.refused``).
        """
        case_id = (case_id or "").strip() or None
        if case_id is None:
            if self.privacy.cases_required:
                raise BadRequest(
                    f"{purpose.replace('_', ' ')} needs an open case you are a member of "
                    f"(purpose binding): pass its id in the {CASE_HEADER} header or the "
                    "`case` query parameter (CLI: --case ID); `aima cases list` shows yours",
                    details={"purpose": purpose},
                )
            return CaseUse(None, purpose)
        with self.db.session() as s:
            try:
                case = self._visible(s, principal, case_id)
                if case.state != "open":
                    raise Conflict(
                        f"case {case_id} is closed (since {case.closed_at:%Y-%m-%d}); "
                        "nothing more may run under it"
                        if case.closed_at
                        else f"case {case_id} is {case.state}; nothing may run under it",
                        details={"case": case_id, "state": case.state},
                    )
            except (Forbidden, NotFound, Conflict) as exc:
                refused = exc
            else:
                return CaseUse(case.id, purpose)
        self._refused(principal, case_id, purpose, refused)
        raise refused

    def _refused(self, principal: Principal, case_id: str, purpose: str, exc: Exception) -> None:
        with self.db.session() as s:
            audit.record(
                s,
                actor=principal.actor,
                action="case.refused",
                object_type="case",
                object_id=case_id[:64],
                outcome="denied",
                details={"purpose": purpose, "reason": type(exc).__name__.lower()},
            )
