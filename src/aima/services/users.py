"""Users, login and token refresh. Every login attempt is audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aima.core.clock import utcnow
from aima.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
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
from aima.security.tokens import TokenCodec, hash_refresh_token, new_refresh_token
from aima.services.access import Principal
from aima.store.db import Database
from aima.store.models import RefreshToken, User

USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


class UserService:
    def __init__(self, db: Database, codec: TokenCodec, auth: AuthSettings) -> None:
        self.db = db
        self.codec = codec
        self.auth = auth

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
        with self.db.session() as s:
            user = s.execute(
                select(User).where(User.username == username.strip().lower())
            ).scalar_one_or_none()
            ok = verify_password(user.password_hash if user else DUMMY_HASH, password)
            if not (user and ok and user.is_active):
                audit.record(
                    s,
                    actor=f"anonymous:{client or '?'}",
                    action="auth.login",
                    outcome="denied",
                    details={"username": username[:64]},
                )
                s.commit()
                raise Unauthorized("wrong username or password")
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
        """Rotate: the old refresh token is revoked and a new pair issued."""
        now = utcnow()
        with self.db.session() as s:
            row = s.execute(
                select(RefreshToken).where(
                    RefreshToken.token_hash == hash_refresh_token(refresh_token)
                )
            ).scalar_one_or_none()
            if row is None or row.revoked_at is not None or row.expires_at <= now:
                raise Unauthorized(
                    "refresh token is invalid, expired or already used; log in again"
                )
            user = s.get(User, row.user_id)
            if user is None or not user.is_active:
                raise Unauthorized("account is disabled")
            row.revoked_at = now
            return self._issue(s, user)

    def logout(self, refresh_token: str) -> None:
        with self.db.session() as s:
            row = s.execute(
                select(RefreshToken).where(
                    RefreshToken.token_hash == hash_refresh_token(refresh_token)
                )
            ).scalar_one_or_none()
            if row is not None and row.revoked_at is None:
                row.revoked_at = utcnow()

    def _issue(self, s: Session, user: User) -> TokenPair:
        token, digest = new_refresh_token()
        now = utcnow()
        s.add(
            RefreshToken(
                id=new_id("rtk"),
                user_id=user.id,
                token_hash=digest,
                created_at=now,
                expires_at=now + timedelta(seconds=self.auth.refresh_ttl_s),
            )
        )
        return TokenPair(
            access_token=self.codec.issue_access(user.id, user.role),
            refresh_token=token,
            expires_in=self.auth.access_ttl_s,
        )

    @staticmethod
    def _revoke_all(s: Session, user_id: str) -> None:
        s.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )

    def principal_for(self, access_token: str) -> Principal:
        """Decode the JWT, then read the user: a disabled account or changed role applies at once."""
        claims = self.codec.decode_access(access_token)
        with self.db.session() as s:
            user = s.get(User, claims.user_id)
            if user is None or not user.is_active:
                raise Unauthorized("account no longer exists or is disabled")
            if claims.issued_at < user.password_changed_at:
                raise Unauthorized("password changed since this token was issued; log in again")
            return Principal(user.id, user.username, user.role)
