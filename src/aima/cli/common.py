"""Shared CLI plumbing: building the runtime, printing errors and tables, progress bars."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from aima.core.errors import AimaError
from aima.core.progress import Progress as ProgressEvent
from aima.core.progress import ProgressHook
from aima.core.settings import Settings, load_settings
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.services.cases import CaseUse

console = Console()
err = Console(stderr=True)
T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def announce_library(settings: Settings) -> None:
    """One stderr line naming the library a command opens.

    The default library is per user, but ``AIMA_DATA_DIR`` or ``AIMA_DATABASE_URL`` can
    point elsewhere: saying which one is in use makes "where did my persons go?" obvious,
    without touching stdout (tables, ``--json``).
    """
    line = f"library: {settings.data_dir.resolve()}"
    if settings.database_url:
        try:
            shown = make_url(settings.database_url).render_as_string(hide_password=True)
        except ArgumentError:  # the database layer reports it properly right after
            shown = "unparsable AIMA_DATABASE_URL"
        line += f" (database: {shown})"
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def runtime(*, long_running: bool = False) -> Runtime:
    """Short commands log warnings only (their output is the table); serve/worker log INFO."""
    try:
        settings = load_settings()
        if not long_running and "AIMA_LOG_LEVEL" not in os.environ:
            settings = settings.model_copy(update={"log_level": "WARNING"})
        announce_library(settings)
        return build_runtime(settings)
    except AimaError as exc:
        fail(exc.message)


def guarded(fn: Callable[[], T]) -> T:
    """Run a command body; domain errors become one red line and exit code 1."""
    try:
        return fn()
    except AimaError as exc:
        fail(exc.message)


#: ``case: CaseOption = None`` on commands that run under a case (purpose binding)
CaseOption = Annotated[
    str | None,
    typer.Option(
        "--case",
        help="the open case this runs under (`aima cases list`); required while "
        "AIMA_PRIVACY__CASES_REQUIRED is on",
    ),
]


def case_use(rt: Runtime, purpose: str, case_id: str | None) -> CaseUse:
    """The case a command runs under (checked like the API does), or exit with the reason."""
    return guarded(lambda: rt.cases.authorize(cli_principal(), case_id, purpose))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@contextmanager
def progress_bar(description: str, enabled: bool = True) -> Iterator[ProgressHook]:
    """A Rich progress bar driven by the one progress hook."""
    if not enabled or not console.is_terminal:
        yield lambda _event: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[message]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=None, message="")

        def hook(event: ProgressEvent) -> None:
            bar.update(
                task, completed=event.completed, total=event.total, message=event.message[:40]
            )

        yield hook
