"""``aima index``: the vector index derived from the stored embeddings."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aima.cli.common import console, guarded, print_json, progress_bar, runtime
from aima.services.text_search import backfill

index_app = typer.Typer(help="The vector search index.", no_args_is_help=True)


@index_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Backend, replay cursor and indexed vs stored vectors per collection (exit 1: out of sync)."""
    rt = runtime()
    info = guarded(rt.vectors.status)
    if as_json:
        print_json(info)
    else:
        console.print(
            f"backend {info['backend']}, cursor {info['cursor']} of {info['outbox_max_id']}, "
            f"{info['pending']} change(s) pending"
        )
        table = Table("collection", "indexed", "stored")
        for name, counts in info["collections"].items():
            style = "" if counts["indexed"] == counts["rows"] else "[red]"
            table.add_row(name, f"{style}{counts['indexed']}", str(counts["rows"]))
        console.print(table)
        if info["in_sync"]:
            console.print("[green]index in sync with the database[/]")
        else:
            console.print("[yellow]index behind the database[/]: `aima index rebuild` repairs it")
    if not info["in_sync"]:
        raise typer.Exit(1)


@index_app.command("rebuild")
def rebuild(
    collection: Annotated[
        list[str] | None, typer.Option(help="only this collection (repeatable; default all)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Drop and refill the index from the embeddings in the database.

    First prepares text stored before stemming / semantic search existed: stems it and,
    with semantic search on, embeds segments without an embedding (resumable).
    """
    rt = runtime()
    with progress_bar("text", enabled=not as_json) as hook:
        prepared = guarded(
            lambda: backfill(
                rt.db,
                rt.identity.text_embedder,
                batch=rt.settings.search.embed_batch,
                progress=hook,
            )
        )
    if not as_json and any(prepared.values()):
        console.print(
            f"text: {prepared['stemmed']} segment(s) stemmed, {prepared['embedded']} embedded"
        )
    with progress_bar("index", enabled=not as_json) as hook:
        counts = guarded(lambda: rt.vectors.rebuild(collection or None, progress=hook))
    if as_json:
        print_json(counts)
        return
    table = Table("collection", "vectors")
    for name, n in counts.items():
        table.add_row(name, str(n))
    console.print(table)
    console.print(f"rebuilt {sum(counts.values())} vector(s) in {len(counts)} collection(s)")
