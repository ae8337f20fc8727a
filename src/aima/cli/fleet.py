"""``aima gpus offers`` (live prices from every configured provider) and ``aima fleet``.

``aima gpus`` alone still shows this machine's GPUs (:mod:`aima.cli.gpus`); the
group only adds the ``offers`` subcommand next to it.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aima.cli.common import console, err, guarded, print_json, runtime
from aima.cli.gpus import gpus_cmd
from aima.compute.fleet import Fleet, WorkerView, build_fleet
from aima.compute.providers import build_providers
from aima.compute.providers.base import GpuRequirement, Offer, ProviderError
from aima.core.settings import load_settings

gpus_app = typer.Typer(
    help="GPUs: this machine's (no subcommand) and rentable ones (offers).",
    invoke_without_command=True,
)
fleet_app = typer.Typer(help="Rented GPU workers (compute_workers).", no_args_is_help=True)


@gpus_app.callback()
def _gpus(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """GPUs of this machine: name, memory, utilisation, temperature, power (NVML)."""
    if ctx.invoked_subcommand is None:
        gpus_cmd(as_json=as_json)


@gpus_app.command("offers")
def offers_cmd(
    min_memory: Annotated[float, typer.Option(help="GPU memory per GPU, GB")] = 0,
    gpu: Annotated[
        list[str] | None, typer.Option(help="GPU type, e.g. 'RTX 4090' (repeat)")
    ] = None,
    region: Annotated[list[str] | None, typer.Option(help="region or prefix (repeat)")] = None,
    count: Annotated[int, typer.Option(help="GPUs per machine")] = 1,
    spot: Annotated[bool, typer.Option(help="include spot/interruptible offers")] = True,
    min_reliability: Annotated[float, typer.Option(help="0..1, where reported")] = 0.0,
    limit: Annotated[int, typer.Option(help="rows to show")] = 30,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Live offers from every configured provider, cheapest first."""
    req = GpuRequirement(
        min_gpu_memory_gb=min_memory,
        gpu_types=tuple(gpu or ()),
        regions=tuple(region or ()),
        min_reliability=min_reliability,
        spot_ok=spot,
        gpu_count=count,
    )

    def body() -> None:
        settings = load_settings()
        providers = build_providers(settings)
        if not providers:
            err.print(
                "no GPU provider configured; add one under compute.providers "
                "(e.g. AIMA_COMPUTE__PROVIDERS__RUNPOD__API_KEY), see docs/compute-providers.md"
            )
            raise typer.Exit(1)
        found: list[Offer] = []
        for name, provider in providers.items():
            cap = settings.compute.providers[name].max_price_per_hour
            try:
                offers = provider.offers(req)
            except ProviderError as exc:
                err.print(f"[yellow]{name}: skipped[/] ({exc.message})")
                continue
            found.extend(o for o in offers if cap is None or o.price_per_hour <= cap)
        found.sort(key=lambda o: (o.price_per_hour, -(o.reliability or 0)))
        if as_json:
            print_json([o.__dict__ for o in found[:limit]])
            return
        table = Table("provider", "offer", "GPU", "n", "GB", "USD/h", "region", "spot", "reliab.")
        for o in found[:limit]:
            table.add_row(
                o.provider,
                o.offer_id,
                o.gpu_type,
                str(o.gpu_count),
                f"{o.gpu_memory_gb:g}",
                f"{o.price_per_hour:.3f}",
                o.region or "-",
                "yes" if o.spot else "",
                "-" if o.reliability is None else f"{o.reliability:.2f}",
            )
        console.print(table)
        if not found:
            console.print("no available offer matches; relax --min-memory/--gpu/--region")

    guarded(body)


def _fleet() -> Fleet:
    rt = runtime()
    return build_fleet(rt.settings, rt.db)


def _row(w: WorkerView) -> list[str]:
    return [
        w.id,
        w.provider,
        w.gpu_type,
        w.region or "-",
        f"{w.price_per_hour:.3f}",
        w.state,
        w.launched_at.strftime("%Y-%m-%d %H:%M"),
        f"{w.spend:.2f}",
        (w.reason or "")[:60],
    ]


@fleet_app.command("status")
def status_cmd(
    all_: Annotated[bool, typer.Option("--all", help="also finished workers")] = False,
    refresh: Annotated[bool, typer.Option(help="ask the providers for fresh states")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Rented workers: provider, GPU, price, state, spend so far; and provider circuits."""

    def body() -> None:
        fleet = _fleet()
        if refresh:
            fleet.refresh()
        workers = fleet.workers(active=not all_)
        if as_json:
            print_json([w.__dict__ for w in workers])
            return
        table = Table(
            "id", "provider", "GPU", "region", "USD/h", "state", "launched", "spend", "why"
        )
        for w in workers:
            table.add_row(*_row(w))
        console.print(table)
        total = sum(w.spend for w in fleet.workers())
        console.print(
            f"{len(workers)} worker(s) shown; spend on rented GPUs so far {total:.2f} USD"
        )

    guarded(body)


@fleet_app.command("stop")
def stop_cmd(worker_id: str) -> None:
    """Terminate one rented worker now (its job, if any, resumes elsewhere)."""

    def body() -> None:
        view = _fleet().terminate(worker_id, reason="stopped with `aima fleet stop`")
        console.print(f"{view.id}: {view.state}, spend {view.spend:.2f} USD")

    guarded(body)


@fleet_app.command("reap")
def reap_cmd() -> None:
    """Poll every rented worker, then stop those idle past compute.fleet.idle_terminate_s."""

    def body() -> None:
        fleet = _fleet()
        fleet.refresh()
        stopped = fleet.reap_idle()
        console.print(f"stopped {len(stopped)} idle worker(s): {', '.join(stopped) or '-'}")

    guarded(body)


@fleet_app.command("autoscale")
def autoscale_cmd(
    every: Annotated[float, typer.Option(help="seconds between ticks; 0: one tick and exit")] = 0,
    min_memory: Annotated[float, typer.Option(help="GPU memory per GPU, GB")] = 0,
) -> None:
    """Keep the rented fleet at the compute.fleet.scaling policy's target (Ctrl-C stops)."""
    from aima.compute.scaling import FleetAutoscaler, policy_from_settings

    def body() -> None:
        fleet = _fleet()
        scaler = FleetAutoscaler(
            fleet,
            policy_from_settings(fleet.settings),
            requirement=GpuRequirement(min_gpu_memory_gb=min_memory),
        )
        while True:
            target, launched, stopped = scaler.tick()
            console.print(f"target {target}: launched {launched}, stopped {stopped}")
            if every <= 0:
                return
            fleet.clock.sleep(every)

    try:
        guarded(body)
    except KeyboardInterrupt:
        err.print("autoscaler stopped; rented workers keep running (aima fleet status)")
