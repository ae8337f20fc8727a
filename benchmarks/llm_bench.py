"""LLM client throughput against the real llama.cpp server: tokens/s and requests/s at
``max_concurrency`` 1, 2 and 4.

    .venv/bin/python -m benchmarks.llm_bench [--requests 12] [--max-tokens 48]
        [--limits 1,2,4] [--threads 2] [--base-url URL]

Without ``--base-url`` it starts the test server (``tests/llm_server.py``: llama-cpp-python,
SmolLM2-135M-Instruct Q4_1, ``--threads`` CPU threads, n_ctx 2048) on 127.0.0.1 and stops
it at the end; with one it measures any OpenAI-compatible endpoint (vLLM, Ollama, ...).

Every request goes through ``LlmClient.chat`` — retries, breaker, concurrency slots and a
usage row written to a throw-away SQLite database — from ``max(4, limit)`` threads, so
the client's limit is what caps the requests in flight. Prompts differ per request (no
prompt cache hits); temperature 0; each answer is capped at ``--max-tokens``.

Columns: ``limit`` = max_concurrency; ``req/s`` = requests / wall time; ``tok/s`` =
completion tokens / wall time (generation throughput as the caller sees it);
``p50/p95 s`` = per-request latency (queueing behind the limit included);
``rows`` = usage rows recorded (must equal requests); ``rss_mb`` = peak RSS of this
process; ``server_mb`` = peak RSS of the started server; ``load1`` = the machine's
1-minute load average after the case (on a shared machine, other work skews every number). llama-cpp-python's server runs
one request at a time, so above 1 the limit adds queueing, not throughput; servers that
batch (vLLM, TGI) scale with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

from aima.core.settings import EndpointSettings
from aima.llm import CallContext, LlmClient, Prompt
from aima.llm.usage import DbUsageRecorder
from aima.store import migrate
from aima.store.db import Database
from aima.store.models import LlmCall
from benchmarks.common import peak_rss_mb, say, table

PROMPT = Prompt(
    id="bench.story",
    version="1",
    system="You are a concise writer.",
    user="Write two sentences about {topic}.",
)
TOPICS = [
    "a harbour at dawn", "a red bicycle", "an old library", "a mountain storm",
    "a night market", "a lost key", "a train station", "a quiet garden",
    "a city bridge", "a winter forest", "a desert road", "a busy kitchen",
]  # fmt: skip


def server_peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_case(
    base_url: str, limit: int, requests: int, max_tokens: int, db: Database, model: str
) -> dict[str, object]:
    settings = EndpointSettings(
        base_url=base_url,
        model=model,
        max_concurrency=limit,
        timeout_s=600,
        max_retries=0,
        max_tokens=max(16, max_tokens),
    )
    client = LlmClient("text", settings, DbUsageRecorder(db))
    tag = f"bench-{limit}-{time.monotonic_ns()}"

    def one(i: int) -> tuple[float, int]:
        topic = f"{TOPICS[i % len(TOPICS)]} (#{i})"
        messages = [{"role": "user", "content": PROMPT.render(topic=topic)}]
        t0 = time.perf_counter()
        reply = client.chat(
            messages, prompt=PROMPT, max_tokens=max_tokens, ctx=CallContext(job_id=tag)
        )
        return time.perf_counter() - t0, reply.completion_tokens

    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=max(4, limit)) as pool:
            results = list(pool.map(one, range(requests)))
        wall = time.perf_counter() - start
    finally:
        client.close()
    latencies = sorted(r[0] for r in results)
    tokens = sum(r[1] for r in results)
    with db.session() as s:
        rows = s.execute(
            select(func.count()).select_from(LlmCall).where(LlmCall.job_id == tag)
        ).scalar_one()
    return {
        "limit": limit,
        "requests": requests,
        "req/s": requests / wall,
        "tok/s": tokens / wall,
        "p50 s": statistics.median(latencies),
        "p95 s": latencies[max(0, round(0.95 * len(latencies)) - 1)],
        "rows": int(rows),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=12)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--limits", default="1,2,4")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads of the started server")
    ap.add_argument("--base-url", default=None, help="measure this endpoint instead")
    ap.add_argument("--model", default="default")
    args = ap.parse_args()
    limits = [int(x) for x in args.limits.split(",") if x]

    server = None
    base_url = args.base_url
    if base_url is None:
        from tests.llm_server import start_llama_server

        t0 = time.perf_counter()
        server = start_llama_server(threads=args.threads)
        base_url = server.base_url
        say(f"llama.cpp server ready in {time.perf_counter() - t0:.1f}s at {base_url}")
    rows: list[dict[str, object]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="aima-llm-bench-") as tmp:
            db = Database(f"sqlite:///{Path(tmp) / 'usage.db'}")
            migrate.upgrade(db)
            # the first requests after start are several times slower (pages of the model
            # being mapped in, caches): warm up with a few before measuring anything
            warm = run_case(base_url, 2, 4, args.max_tokens, db, args.model)
            say(f"warm-up: 4 requests, {warm['req/s']:.2f} req/s")
            for limit in limits:
                row = run_case(base_url, limit, args.requests, args.max_tokens, db, args.model)
                row["load1"] = os.getloadavg()[0]
                row["rss_mb"] = peak_rss_mb()
                if server is not None:
                    row["server_mb"] = server_peak_mb(server.process.pid)
                rows.append(row)
                say(table(rows[-1:]))
            db.dispose()
    finally:
        if server is not None:
            server.stop()
    say("")
    say(table(rows))


if __name__ == "__main__":
    main()
