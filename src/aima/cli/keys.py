"""``aima keys``: the key-encryption keys (KEKs) that protect media at rest."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from aima.cli.common import console, fail, guarded, print_json, runtime
from aima.runtime import Runtime
from aima.security import audit
from aima.security.datakeys import DataKeys
from aima.security.keyring import add_kek, drop_kek
from aima.services.access import cli_principal
from aima.store.crypto_blobs import EncryptedBlobStore

keys_app = typer.Typer(help="Encryption keys (envelope encryption at rest).", no_args_is_help=True)


def _data_keys(rt: Runtime) -> DataKeys:
    blobs = rt.blobs
    if not isinstance(blobs, EncryptedBlobStore) or not isinstance(blobs.data_keys, DataKeys):
        fail(
            "encryption at rest is off: set AIMA_ENCRYPTION__KEK_FILE (a keyring file outside "
            "the data directory, created on first use) to switch it on"
        )
    return blobs.data_keys


def _audit(
    rt: Runtime, action: str, object_id: str, details: dict[str, Any], outcome: str = "ok"
) -> None:
    with rt.db.session() as s:
        audit.record(
            s,
            actor=cli_principal().actor,
            action=action,
            object_type="kek",
            object_id=object_id,
            outcome=outcome,
            details=details,
        )


@keys_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """KEKs in the keyring, live data keys per KEK, destroyed (crypto-shredded) data keys.

    Exit 1 when a data key is wrapped by a KEK the keyring lacks (its data is unreadable).
    """
    rt = runtime()
    keys = _data_keys(rt)
    st = guarded(keys.status)
    if as_json:
        print_json(
            {
                "source": keys.ring.source,
                "active": st.active,
                "keks": st.keks,
                "data_keys": st.live,
                "destroyed": st.destroyed,
                "unknown_keks": st.unknown,
            }
        )
    else:
        console.print(f"keyring: {keys.ring.source}")
        table = Table("KEK", "active", "data keys")
        for kid in st.keks:
            table.add_row(kid, "yes" if kid == st.active else "", str(st.live.get(kid, 0)))
        for kid in st.unknown:
            table.add_row(f"[red]{kid}[/]", "[red]missing from keyring[/]", str(st.live[kid]))
        console.print(table)
        console.print(f"crypto-shredded data keys: {st.destroyed}")
    if st.unknown:
        raise typer.Exit(1)


@keys_app.command("rotate")
def rotate(
    retire: Annotated[
        list[str] | None,
        typer.Option(help="afterwards, remove this (now unused) KEK from the keyring; repeatable"),
    ] = None,
    new_kek: Annotated[
        bool,
        typer.Option(
            "--new/--no-new", help="--no-new: only finish re-wrapping under the active KEK"
        ),
    ] = True,
) -> None:
    """Make a new KEK active and re-wrap every data key under it (blobs are not rewritten)."""
    rt = runtime()
    keys = _data_keys(rt)
    previous = keys.ring.active
    if new_kek:
        ring = guarded(lambda: add_kek(keys.ring))
        console.print(f"new active KEK {ring.active} (previous: {previous})")
    active = keys.ring.active
    count = guarded(keys.rewrap)
    _audit(rt, "keys.rotate", active, {"previous": previous, "rewrapped": count, "new": new_kek})
    console.print(f"[green]re-wrapped {count} data key(s)[/] under {active}")
    for kid in retire or []:
        _retire(rt, keys, kid)


@keys_app.command("retire")
def retire_cmd(
    kid: Annotated[str, typer.Argument(help="the KEK id (see `aima keys status`)")],
) -> None:
    """Remove a KEK from the keyring; refused while any data key is still wrapped by it."""
    rt = runtime()
    _retire(rt, _data_keys(rt), kid)


def _retire(rt: Runtime, keys: DataKeys, kid: str) -> None:
    try:
        guarded(lambda: keys.check_retirable(kid))
        guarded(lambda: drop_kek(keys.ring, kid))
    except typer.Exit:
        _audit(rt, "keys.retire", kid, {}, outcome="refused")
        raise
    _audit(rt, "keys.retire", kid, {})
    console.print(f"[green]retired KEK {kid}[/]; keep a copy only if old backups need it")
