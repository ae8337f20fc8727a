"""Users, login and token refresh. Every login attempt is audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aima.core.clock import utcnow
from aima.core.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unauthorized
from aima.core.ids import new_id
from aima.core.settings import AuthSettings
from aima.security import audit
from aima.security.passwords import (
    DUMMY_HASH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)
from aima.security.permissions import Permission, Role
from aima.security.ratelimit import Counter, MemoryCounter
from aima.security.tokens import TokenCodec, hash_refresh_token, new_refresh_token
from aima.services.access import Principal
from aima.store.db import Database
from aima.store.models import RefreshToken, User

USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")


#: The caller's account and whether their token's session (refresh-token family) is live.
_PRINCIPAL_QUERY = select(
    User.id,
    User.username,
    User.role,
    User.is_active,
    User.password_changed_at,
    exists()
    .where(
        RefreshToken.family_id == bindparam("family_id"),
        RefreshToken.revoked_at.is_(None),
        RefreshToken.expires_at > bindparam("now"),
    )
    .label("session_live"),
).where(User.id == bindparam("user_id"))


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


class LoginThrottle:
    """Locks an account after repeated failures, and blocks a source that sprays accounts.

    Checked *before* the password is verified: while locked, even the right password is
    refused (with the time left), so guessing cannot continue. Unknown usernames count like
    known ones, so the lock reveals nothing about which accounts exist. A success clears the
    account's count. Locking someone out from elsewhere is possible by design (the price of
    stopping guessing); the per-source limit keeps one client from doing it to many accounts.
    """

    def __init__(self, counter: Counter, auth: AuthSettings) -> None:
        self.counter, self.auth = counter, auth

    @staticmethod
    def _keys(username: str, source: str | None) -> tuple[str, str]:
        return f"login:acct:{username.strip().lower()[:64]}", f"login:src:{source or '?'}"

    def check(self, username: str, source: str | None) -> None:
        acct, src = self._keys(username, source)
        for key, limit, what in (
            (acct, self.auth.login_max_failures, "this account"),
            (src, self.auth.login_max_failures_per_source, "this client address"),
        ):
            count = self.counter.peek(key)
            if count.value >= limit:
                raise TooManyRequests(
                    f"too many failed logins for {what}; try again in "
                    f"{max(1, round(count.reset_in_s))} s",
                    retry_after_s=count.reset_in_s,
                )

    def failed(self, username: str, source: str | None) -> bool:
        """Count a failure; True when it just locked the account."""
        acct, src = self._keys(username, source)
        self.counter.incr(src, self.auth.login_window_s)
        return (
            self.counter.incr(acct, self.auth.login_window_s).value == self.auth.login_max_failures
        )

    def succeeded(self, username: str) -> None:
        self.counter.reset(self._keys(username, None)[0])


class UserService:
    def __init__(
        self,
        db: Database,
        codec: TokenCodec,
        auth: AuthSettings,
        *,
        counter: Counter | None = None,
    ) -> None:
        self.db = db
        self.codec = codec
        self.auth = auth
        self.throttle = LoginThrottle(counter or MemoryCounter(), auth)

    # ------------------------------------------------------------- accounts
    def create(self, actor: Principal, username: str, password: str, role: str) -> User:
        actor.require(Permission.USERS_MANAGE)
        username = username.strip().lower()
        if not username or len(username) > 64 or set(username) - USERNAME_CHARS:
            raise InvalidInput("username must be 1-64 characters of a-z, 0-9, '.', '_', '-', '@'")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
        try:
            role = Role(role).value
        except ValueError as exc:
            raise InvalidInput(f"unknown role {role!r}; one of {[r.value for r in Role]}") from exc
        user = User(
            id=new_id("usr"), username=username, password_hash=hash_password(password), role=role
        )
        try:
            with self.db.session() as s:
                s.add(user)
                s.flush()
                audit.record(
                    s,
                    actor=actor.actor,
                    action="user.create",
                    object_type="user",
                    object_id=user.id,
                    details={"username": username, "role": role},
                )
        except IntegrityError as exc:
            raise Conflict(f"user {username!r} already exists") from exc
        return user

    def ensure_first_admin(self, username: str = "admin") -> tuple[str, str] | None:
        """On an empty database create an admin with a random password; returns it once."""
        with self.db.session() as s:
            if s.execute(select(func.count()).select_from(User)).scalar_one():
                return None
        password = secrets.token_urlsafe(12)
        system = Principal(None, "first-run", Role.ADMIN, via="system")
        try:
            self.create(system, username, password, Role.ADMIN)
        except Conflict:
            return None
        return username, password

    def list(self, actor: Principal) -> list[User]:
        actor.require(Permission.USERS_MANAGE)
        with self.db.session() as s:
            return list(s.execute(select(User).order_by(User.username)).scalars())

    def update(
        self,
        actor: Principal,
        username: str,
        *,
        role: str | None = None,
        password: str | None = None,
        active: bool | None = None,
    ) -> User:
        actor.require(Permission.USERS_MANAGE)
        with self.db.session() as s:
            user = s.execute(
                select(User).where(User.username == username.lower())
            ).scalar_one_or_none()
            if user is None:
                raise NotFound(f"user {username!r} not found")
            changes: dict[str, object] = {}
            if role is not None:
                try:
                    user.role = Role(role).value
                except ValueError as exc:
                    raise InvalidInput(f"unknown role {role!r}") from exc
                changes["role"] = user.role
            if password is not None:
                if len(password) < MIN_PASSWORD_LENGTH:
                    raise InvalidInput(
                        f"password must be at least {MIN_PASSWORD_LENGTH} characters"
                    )
                user.password_hash = hash_password(password)
                user.password_changed_at = utcnow()
                changes["password"] = "changed"
                self._revoke_all(s, user.id)
            if active is not None:
                user.is_active = active
                changes["active"] = active
                if not active:
                    self._revoke_all(s, user.id)
            audit.record(
                s,
                actor=actor.actor,
                action="user.update",
                object_type="user",
                object_id=user.id,
                details=changes,
            )
            return user

    # ---------------------------------------------------------------- tokens
    def login(self, username: str, password: str, *, client: str | None = None) -> TokenPair:
        self.throttle.check(username, client)
        with self.db.session() as s:
            user = s.execute(
                select(User).where(User.username == username.strip().lower())
            ).scalar_one_or_none()
            ok = verify_password(user.password_hash if user else DUMMY_HASH, password)
            if not (user and ok and user.is_active):
                locked = self.throttle.failed(username, client)
                audit.record(
                    s,
                    actor=f"anonymous:{client or '?'}",
                    action="auth.login",
                    outcome="denied",
                    details={"username": username[:64], **({"locked": True} if locked else {})},
                )
                s.commit()
                raise Unauthorized("wrong username or password")
            self.throttle.succeeded(username)
            if needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            audit.record(
                s,
                actor=f"api:{user.username}",
                action="auth.login",
                object_type="user",
                object_id=user.id,
                details={"client": client},
            )
            return self._issue(s, user)

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: the old refresh token is revoked and a new pair issued, atomically.

        The revoke is one conditional UPDATE, so of any number of concurrent refreshes of one
        token exactly one wins (PostgreSQL re-checks the condition after the row lock; SQLite
        serialises writers). A rotated token presented again after the grace period means it
        was copied: the whole family (the login session) is revoked and the reuse audited.
        """
        now = utcnow()
        digest = hash_refresh_token(refresh_token)
        with self.db.session() as s:
            won = s.execute(  # type: ignore[attr-defined]  # CursorResult for UPDATE
                update(RefreshToken)
                .where(
                    RefreshToken.token_hash == digest,
                    RefreshToken.revoked_at.is_(None),
                    RefreshToken.expires_at > now,
                )
                .values(revoked_at=now, revoke_reason="rotated")
                .execution_options(synchronize_session=False)
            ).rowcount
            row = s.execute(
                select(RefreshToken).where(RefreshToken.token_hash == digest)
            ).scalar_one_or_none()
            if won != 1 or row is None:
                if row is not None and self._is_reuse(row, now):
                    self._revoke_family(s, row, reason="reuse")
                    s.commit()
                raise Unauthorized(
                    "refresh token is invalid, expired or already used; log in again"
                )
            user = s.get(User, row.user_id)
            if user is None or not user.is_active:
                raise Unauthorized("account is disabled")
            return self._issue(s, user, family_id=row.family_id or row.id)

    def _is_reuse(self, row: RefreshToken, now: datetime) -> bool:
        if row.revoke_reason != "rotated" or row.revoked_at is None:
            return False
        return (now - row.revoked_at).total_seconds() > self.auth.refresh_reuse_grace_s

    def _revoke_family(self, s: Session, row: RefreshToken, *, reason: str) -> None:
        family = row.family_id or row.id
        s.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoke_reason=reason)
            .execution_options(synchronize_session=False)
        )
        audit.record(
            s,
            actor=f"user:{row.user_id}",
            action="auth.refresh_reuse",
            object_type="user",
            object_id=row.user_id,
            outcome="denied",
            details={"session": family, "action": "session revoked"},
        )

    def logout(self, refresh_token: str) -> None:
        """End the login session: its refresh tokens and the access tokens issued with them."""
        with self.db.session() as s:
            row = s.execute(
                select(RefreshToken).where(
                    RefreshToken.token_hash == hash_refresh_token(refresh_token)
                )
            ).scalar_one_or_none()
            if row is not None:
                s.execute(
                    update(RefreshToken)
                    .where(
                        RefreshToken.family_id == (row.family_id or row.id),
                        RefreshToken.revoked_at.is_(None),
                    )
                    .values(revoked_at=utcnow(), revoke_reason="logout")
                    .execution_options(synchronize_session=False)
                )
                if row.revoked_at is None:
                    row.revoked_at, row.revoke_reason = utcnow(), "logout"

    def _issue(self, s: Session, user: User, *, family_id: str | None = None) -> TokenPair:
        token, digest = new_refresh_token()
        now = utcnow()
        token_id = new_id("rtk")
        family = family_id or token_id
        s.add(
            RefreshToken(
                id=token_id,
                user_id=user.id,
                token_hash=digest,
                created_at=now,
                expires_at=now + timedelta(seconds=self.auth.refresh_ttl_s),
                family_id=family,
            )
        )
        return TokenPair(
            access_token=self.codec.issue_access(user.id, user.role, session_id=family),
            refresh_token=token,
            expires_in=self.auth.access_ttl_s,
        )

    @staticmethod
    def _revoke_all(s: Session, user_id: str) -> None:
        s.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoke_reason="admin")
            .execution_options(synchronize_session=False)
        )

    @staticmethod
    def _session_live(s: Session, family_id: str) -> bool:
        live = s.execute(
            select(RefreshToken.id)
            .where(
                RefreshToken.family_id == family_id,
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > utcnow(),
            )
            .limit(1)
        ).scalar_one_or_none()
        return live is not None

    def principal_for(self, access_token: str) -> Principal:
        """Decode the JWT, then read the user: a disabled account or changed role applies at once.

        One prepared query per request (the user's row and whether the token's session is
        still live), on a plain connection: this runs before every API call."""
        claims = self.codec.decode_access(access_token)
        params = {"user_id": claims.user_id, "family_id": claims.session_id or "", "now": utcnow()}
        with self.db.read_engine.connect() as conn:
            row = conn.execute(_PRINCIPAL_QUERY, params).one_or_none()
        if row is None or not row.is_active:
            raise Unauthorized("account no longer exists or is disabled")
        if claims.issued_at < row.password_changed_at:
            raise Unauthorized("password changed since this token was issued; log in again")
        if claims.session_id is not None and not row.session_live:
            raise Unauthorized("this session has ended (logged out or revoked); log in again")
        return Principal(row.id, row.username, row.role)
