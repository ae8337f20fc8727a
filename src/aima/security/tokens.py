"""Short-lived JWT access tokens with an explicit algorithm allow-list; opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from aima.core.clock import utcnow
from aima.core.errors import Unauthorized

# Header parameters that point at keys elsewhere: a token naming its own key (jku/jwk/x5u/x5c)
# is how key-confusion attacks start. AIMA signs with one secret and no key id, so any of
# these, or a ``kid``, means the token was not minted here: refused, not ignored.
_FOREIGN_KEY_HEADERS = frozenset({"kid", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256"})
#: Verified access tokens remembered per process (token text -> claims): one request checks
#: its token in the rate limiter, the auth dependency and the upload guard, and a client sends
#: the same token for minutes. Only tokens whose signature and claims checked out are kept;
#: expiry is checked again on every use.
VERIFIED_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    role: str
    issued_at: datetime
    expires_at: datetime
    session_id: str | None = None  # the refresh-token family this access token belongs to


class TokenCodec:
    def __init__(
        self, secret: str, *, algorithm: str, audience: str, issuer: str, access_ttl_s: int
    ) -> None:
        if len(secret) < 32:
            raise ValueError("JWT secret must be at least 32 characters")
        self._secret = secret
        self.algorithm = algorithm
        self.audience = audience
        self.issuer = issuer
        self.access_ttl = timedelta(seconds=access_ttl_s)
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()
        self._lock = threading.Lock()

    def issue_access(
        self,
        user_id: str,
        role: str,
        *,
        now: datetime | None = None,
        session_id: str | None = None,
    ) -> str:
        now = now or utcnow()
        payload: dict[str, object] = {
            "sub": user_id,
            "role": role,
            "aud": self.audience,
            "iss": self.issuer,
            "iat": now.timestamp(),  # sub-second: a password change revokes exactly
            "nbf": int(now.timestamp()),
            "exp": int((now + self.access_ttl).timestamp()),
            "typ": "access",
            "jti": secrets.token_hex(8),
        }
        if session_id is not None:
            payload["sid"] = session_id
        return jwt.encode(payload, self._secret, algorithm=self.algorithm)

    def decode_access(self, token: str) -> AccessClaims:
        """The token's claims once its signature, algorithm, audience, issuer, type and lifetime
        check out; raises :class:`Unauthorized` otherwise."""
        with self._lock:
            claims = self._verified.get(token)
            if claims is not None:
                self._verified.move_to_end(token)
        if claims is None:
            claims = self._verify(token)
            with self._lock:
                self._verified[token] = claims
                while len(self._verified) > VERIFIED_CACHE_SIZE:
                    self._verified.popitem(last=False)
        elif claims.expires_at.timestamp() <= time.time():  # as PyJWT judges ``exp``
            raise Unauthorized("access token expired; refresh it or log in again")
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid access token: {exc}") from exc
        foreign = sorted(_FOREIGN_KEY_HEADERS & set(header))
        if foreign:
            raise Unauthorized(
                f"invalid access token: header names a key ({', '.join(foreign)}); "
                "AIMA tokens carry none"
            )
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[self.algorithm],  # the allow-list: "none" and others are refused
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("access token expired; refresh it or log in again") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid access token: {exc}") from exc
        if payload.get("typ") != "access":
            raise Unauthorized("invalid access token: not an access token")
        return AccessClaims(
            user_id=str(payload["sub"]),
            role=str(payload.get("role", "")),
            issued_at=datetime.fromtimestamp(payload["iat"], tz=utcnow().tzinfo),
            expires_at=datetime.fromtimestamp(payload["exp"], tz=utcnow().tzinfo),
            session_id=str(payload["sid"]) if "sid" in payload else None,
        )


def new_refresh_token() -> tuple[str, str]:
    """Returns (token for the client, sha256 to store)."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
