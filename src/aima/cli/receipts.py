"""``aima receipts``: show and verify erasure receipts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from aima.cli.common import console, fail, guarded, print_json, runtime
from aima.services.access import cli_principal
from aima.services.receipts import ReceiptService

receipts_app = typer.Typer(help="Erasure receipts: show and verify.", no_args_is_help=True)


def _load(source: str) -> dict[str, Any] | None:
    """A receipt document from a file, or None when ``source`` is not a file (an id)."""
    path = Path(source)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"{path}: not a readable receipt ({exc})")
    if not isinstance(data, dict):
        fail(f"{path}: not a receipt (expected a JSON object)")
    inner = data.get("receipt")  # the API's answer saved as is
    return inner if isinstance(inner, dict) else data


@receipts_app.command("verify")
def verify(
    source: Annotated[str, typer.Argument(help="a receipt file, or a stored receipt's id")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Check a receipt's signature with the audit keyring; exit code 1 when it fails."""
    rt = runtime()
    service = ReceiptService(rt.db)
    document = _load(source)
    out = guarded(
        lambda: (
            service.get(cli_principal(), source)
            if document is None
            else service.verify_document(cli_principal(), document)
        )
    )
    if as_json:
        print_json(out)
    elif out["valid"]:
        console.print(f"receipt {out['receipt'].get('id')}: [green]valid[/]")
    else:
        console.print(f"receipt {out['receipt'].get('id')}: [red]INVALID[/] ({out['problem']})")
    if not out["valid"]:
        raise typer.Exit(1)


@receipts_app.command("show")
def show(receipt_id: str) -> None:
    """Print a stored receipt (JSON) with its verdict."""
    rt = runtime()
    print_json(guarded(lambda: ReceiptService(rt.db).get(cli_principal(), receipt_id)))


@receipts_app.command("find")
def find(person_id: str) -> None:
    """The receipts issued for a person id (matched through the keyed subject hash)."""
    rt = runtime()
    for rid in guarded(lambda: ReceiptService(rt.db).find(cli_principal(), person_id)):
        typer.echo(rid)
