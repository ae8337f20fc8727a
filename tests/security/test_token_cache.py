"""Verified access tokens are remembered per process, never beyond their lifetime."""

from __future__ import annotations

import time

import pytest

from aima.core.errors import Unauthorized
from aima.security import tokens
from aima.security.tokens import TokenCodec

SECRET = "s" * 40


def _codec(ttl_s: int = 600) -> TokenCodec:
    return TokenCodec(SECRET, algorithm="HS256", audience="aima", issuer="aima", access_ttl_s=ttl_s)


def test_a_remembered_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    codec = _codec(ttl_s=60)
    token = codec.issue_access("usr_1", "viewer")
    first = codec.decode_access(token)
    assert codec.decode_access(token) == first  # served from the cache
    later = time.time() + 61
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        codec.decode_access(token)


def test_only_the_exact_verified_text_is_remembered() -> None:
    codec = _codec()
    token = codec.issue_access("usr_1", "admin")
    codec.decode_access(token)
    head, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(Unauthorized):
        codec.decode_access(f"{head}.{payload}.{flipped}")
    other = TokenCodec(
        "t" * 40, algorithm="HS256", audience="aima", issuer="aima", access_ttl_s=600
    )
    with pytest.raises(Unauthorized):
        other.decode_access(token)


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "VERIFIED_CACHE_SIZE", 3)
    codec = _codec()
    issued = [codec.issue_access(f"usr_{i}", "viewer") for i in range(5)]
    for token in issued:
        codec.decode_access(token)
    assert len(codec._verified) == 3  # the bound is the point
    assert all(codec.decode_access(t).user_id == f"usr_{i}" for i, t in enumerate(issued))
