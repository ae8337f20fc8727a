"""``aima calibrate faces|voices DIR`` and ``aima persons reembed``.

Calibration measures the library's own models on the user's labelled folder and
proposes a threshold; ``--apply`` stores it (after a confirmation, or ``--yes``).
Re-embedding moves the library's observations to the analyzers' current model
(see ``aima.services.reembed``); it runs here, in the foreground, and resumes a
migration an interrupted run (or the API's background task) left ``running``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from aima.cli.common import console, fail, guarded, print_json, progress_bar, runtime
from aima.core.progress import ProgressHook
from aima.runtime import Runtime
from aima.security.permissions import Permission
from aima.services import calibrate as cal
from aima.services import reembed
from aima.services.access import cli_principal


class CalibrateKind(StrEnum):
    faces = "faces"
    voices = "voices"


class EmbedKind(StrEnum):
    face = "face"
    voice = "voice"


def _print_report(report: dict[str, Any]) -> None:
    console.print(
        f"[bold]{report['kind']}[/] model [bold]{report['model_id']}[/]: "
        f"{report['samples']} files of {report['identities']} identities, "
        f"{report['genuine_pairs']} same-identity and {report['impostor_pairs']} "
        f"different-identity pairs"
    )
    console.print(
        f"same identity: distance {report['genuine_range'][0]}-{report['genuine_range'][1]}; "
        f"different: {report['impostor_range'][0]}-{report['impostor_range'][1]}"
    )
    table = Table("threshold", "distance", "TAR", "FAR")
    table.add_row("current", str(report["current_threshold"]), *_rates(report, "current_"))
    table.add_row(
        f"proposed (FAR {report['target_far']})", str(report["threshold"]), *_rates(report, "")
    )
    console.print(table)
    hist = report["histogram"]
    edges, genuine, impostor = hist["edges"], hist["genuine"], hist["impostor"]
    top = max([*genuine, *impostor, 1])
    for i, (g, m) in enumerate(zip(genuine, impostor, strict=True)):
        if g or m:
            bar = "#" * round(20 * g / top) + "|" + "x" * round(20 * m / top)
            console.print(f"  {edges[i]:.2f}-{edges[i + 1]:.2f} {bar}  ({g} same, {m} different)")
    if report["far_resolution"] > report["target_far"]:
        console.print(
            f"[yellow]note:[/] {report['impostor_pairs']} different-identity pairs measure FAR "
            f"only in steps of {report['far_resolution']}: add identities for a finer estimate"
        )
    for line in report["skipped"]:
        console.print(f"[yellow]skipped:[/] {line}")


def _rates(report: dict[str, Any], prefix: str) -> tuple[str, str]:
    return f"{report[prefix + 'tar']:.3f}", f"{report[prefix + 'far']:.4f}"


def calibrate_cmd(
    kind: Annotated[CalibrateKind, typer.Argument(help="faces or voices")],
    labelled_dir: Annotated[
        Path, typer.Argument(help="one sub-folder per identity, with its photos or clips")
    ],
    target_far: Annotated[
        float, typer.Option(help="false-match rate the proposed threshold allows")
    ] = 0.001,
    apply: Annotated[bool, typer.Option(help="store the proposed threshold")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="apply without asking")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Measure the library's face or voice model on your labelled folder; propose a threshold."""
    principal = cli_principal()
    principal.require(Permission.IDENTITY_CALIBRATE)
    rt = runtime()
    with progress_bar("calibrate", enabled=not as_json) as hook:
        report = guarded(
            lambda: cal.calibrate_dir(
                kind.value,
                labelled_dir,
                rt.registry,
                rt.settings.limits,
                rt.settings.decode,
                target_far=target_far,
                settings=rt.settings.identity,
                progress=hook,
            )
        )
    data = report.as_dict()
    if as_json:
        print_json(data)
    else:
        _print_report(data)
    if not apply:
        return
    if not yes and not typer.confirm(
        f"use {report.threshold} as the {report.kind} threshold of {report.model_id}?"
    ):
        fail("not applied")
    guarded(lambda: cal.apply(rt.db, report, principal.actor))
    if not as_json:
        console.print(f"applied: {report.kind} threshold {report.threshold} for {report.model_id}")


def reembed_cmd(
    kind: Annotated[
        EmbedKind | None, typer.Option(help="face or voice; default: every kind that changed")
    ] = None,
    analyzer: Annotated[
        str | None, typer.Option(help="analyzer computing the new model (faces/speakers)")
    ] = None,
    model_id: Annotated[
        str | None, typer.Option("--model-id", help="expected new model id (checked)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Re-embed the library with the analyzers' current model, keeping persons and corrections."""
    principal = cli_principal()
    principal.require(Permission.IDENTITY_CALIBRATE)
    rt = runtime()
    if kind is not None:
        kinds = [kind.value]
    else:
        kinds = [k for k, _, _ in guarded(lambda: reembed.needed(rt.db, rt.registry))]
        if analyzer is not None or model_id is not None:
            fail("--analyzer and --model-id need --kind")
    if not kinds:
        console.print("the library already uses the analyzers' models: nothing to re-embed")
        return
    results = [_reembed_one(rt, k, analyzer, model_id, principal.actor, as_json) for k in kinds]
    if as_json:
        print_json(results)


def _reembed_one(
    rt: Runtime, kind: str, analyzer: str | None, model_id: str | None, actor: str, quiet: bool
) -> dict[str, Any]:
    def body(hook: ProgressHook) -> dict[str, Any]:
        embedder = reembed.AnalyzerEmbedder(
            kind, rt.registry, rt.blobs, rt.settings.limits, rt.settings.decode, analyzer=analyzer
        )
        mid = reembed.start(rt.db, embedder, actor, model_id=model_id)
        return reembed.run(rt.db, rt.identity, mid, embedder, actor, hook)

    with progress_bar(f"re-embed {kind}", enabled=not quiet) as hook:
        out = guarded(lambda: body(hook))
    if not quiet:
        console.print(
            f"{kind}: {out['from_model']} -> {out['to_model']}: {out['state']}, "
            f"{out['done'] - out['failed']}/{out['total']} re-embedded, {out['failed']} kept "
            "on the old model (no face/speech found)"
        )
    return out
