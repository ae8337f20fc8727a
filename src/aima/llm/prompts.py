"""Versioned prompts, call attribution and message parts.

A prompt's ``id@version`` goes into every result made with it (provenance) and into
every usage row, so a changed text must come with a new version. ``register`` keeps a
catalogue of the prompts the code defines and refuses two different texts under one
``id@version`` — the mistake of editing a prompt without bumping it fails at import.
"""

from __future__ import annotations

import base64
import hashlib
import string
import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Prompt:
    """One versioned prompt: a system message and a ``str.format`` template for the user."""

    id: str  # "scenes.describe", "dossier.summary"
    version: str  # "1", "2" ... bump when the text changes
    system: str
    user: str

    def __post_init__(self) -> None:
        if not self.id or "@" in self.id or not self.version or "@" in self.version:
            raise ValueError(f"a prompt needs an id and a version without '@': {self.ref!r}")
        if len(self.id) > 64 or len(self.version) > 32:
            raise ValueError(f"prompt id (≤64) or version (≤32) too long: {self.ref!r}")

    @property
    def ref(self) -> str:
        """``id@version``, as stored in provenance."""
        return f"{self.id}@{self.version}"

    @property
    def digest(self) -> str:
        """sha256 of the texts: tells two versions apart even if someone forgot to bump."""
        return hashlib.sha256(f"{self.system}\x00{self.user}".encode()).hexdigest()

    @property
    def fields(self) -> frozenset[str]:
        """The names the user template expects."""
        return frozenset(
            name.split(".")[0].split("[")[0]
            for _, name, _, _ in string.Formatter().parse(self.user)
            if name
        )

    def render(self, **values: object) -> str:
        """The user text with ``values`` filled in; a missing value names itself."""
        missing = self.fields - values.keys()
        if missing:
            raise ValueError(
                f"prompt {self.ref} needs {', '.join(sorted(missing))}; pass them to render()"
            )
        return self.user.format(**values)


_lock = threading.Lock()
_catalogue: dict[str, Prompt] = {}


def register(prompt: Prompt) -> Prompt:
    """Add ``prompt`` to the catalogue (idempotent); returns it so modules can write
    ``DESCRIBE = register(Prompt(...))``."""
    with _lock:
        known = _catalogue.get(prompt.ref)
        if known is not None and known != prompt:
            raise ValueError(
                f"prompt {prompt.ref} is defined twice with different texts; "
                "bump its version when you change the text"
            )
        _catalogue[prompt.ref] = prompt
    return prompt


def registered() -> list[Prompt]:
    """Every registered prompt, sorted by ``id@version`` (for docs and provenance checks)."""
    with _lock:
        return [_catalogue[k] for k in sorted(_catalogue)]


@dataclass(frozen=True)
class CallContext:
    """What a usage row is attributed to."""

    job_id: str | None = None
    media_id: str | None = None
    subject: str | None = None  # "person:<id>" | "media:<id>"


def text_part(text: str) -> dict[str, Any]:
    """A text content part of a chat message."""
    return {"type": "text", "text": text}


def image_part(jpeg: bytes) -> dict[str, Any]:
    """A JPEG as an inline ``data:`` URL content part (what VLM servers accept offline)."""
    if not jpeg.startswith(b"\xff\xd8"):
        raise ValueError("image_part expects JPEG bytes (they start with FF D8); encode it first")
    url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
    return {"type": "image_url", "image_url": {"url": url}}
