"""Semantic and hybrid text search at library scale; text embedding throughput.

    .venv/bin/python -m benchmarks.semantic_bench [--segments 100000] [--embed 2000]
        [--queries 100] [--db sqlite|postgres] [--backend faiss|milvus]

Data: ``--segments`` generated English sentences (subject, action, object, place,
time from word lists: about 10 words each, many distinct sentences) spread over 10
media, stored through the real write path (``replace_segments``: stemmed
``search_text``, embedding, vector outbox), then indexed by ``VectorStore.sync``.

Embedding 100k sentences with all-MiniLM-L6-v2 on 2 shared CPU cores takes
~20-30 minutes, so only ``--embed`` of them are embedded by the model; every other
segment gets the embedding of a real one (sentence ``i % embed``) plus Gaussian
noise (sigma 0.02 per dimension, renormalised). The index therefore holds 100k
distinct, realistically clustered 384-d vectors, while the texts stay real for the
full-text half of hybrid search. The throughput row (``sentences/s``) is measured
on the real model over the embedded sample.

Queries are other generated sentences (not stored ones), timed end to end through
``SearchService.text`` as an API request would run it: query embedding, k-NN,
permission filter in SQL, audit write; ``semantic``, ``hybrid`` and ``fulltext``
(two words of the sentence) modes, sequentially, after one warm-up query each.
``rss_mb`` is the peak resident memory of the process (model + index + data).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from aima.core.ids import new_id
from aima.core.settings import Settings
from aima.runtime import build_runtime
from aima.services.access import cli_principal
from aima.store.fulltext import replace_segments
from aima.store.models import AnalysisResult, Job, Media
from benchmarks.common import peak_rss_mb, say, table, temporary_pg_database

SUBJECTS = (
    "the harbour master", "a delivery driver", "the night nurse", "our accountant",
    "the football coach", "a young farmer", "the museum guide", "two firefighters",
    "the bus driver", "a street musician", "the head chef", "the city council",
    "a tourist group", "the school principal", "the lighthouse keeper", "a police officer",
)  # fmt: skip
ACTIONS = (
    "repaired", "inspected", "painted", "loaded", "cancelled", "photographed", "cleaned",
    "delivered", "counted", "described", "carried", "ordered", "tested", "moved", "sold",
)  # fmt: skip
OBJECTS = (
    "the old ferry", "forty crates of apples", "a broken ladder", "the winter budget",
    "three bicycles", "the concert stage", "a stolen painting", "the flood barrier",
    "two hundred tickets", "the kitchen ovens", "a leaking roof", "the election posters",
    "the fishing nets", "a rusty anchor", "the library books", "a wedding cake",
)  # fmt: skip
PLACES = (
    "near the station", "behind the town hall", "at the harbour", "in the warehouse",
    "on the main square", "inside the hospital", "by the river", "at the stadium",
    "in the old factory", "on the motorway", "at the airport", "in the village school",
)  # fmt: skip
TIMES = (
    "before dawn", "during the storm", "last Tuesday", "after the meeting", "at midnight",
    "in early spring", "on a rainy evening", "before the holidays", "this morning",
)  # fmt: skip


def sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(ACTIONS)} {rng.choice(OBJECTS)} "
        f"{rng.choice(PLACES)} {rng.choice(TIMES)}."
        for _ in range(n)
    ]


class Precomputed:
    """An embedder handing out prepared vectors in order (the write path's interface)."""

    def __init__(self, collection: str, vectors: NDArray[np.float32]) -> None:
        self.collection = collection
        self.vectors = vectors
        self.used = 0

    def available(self) -> bool:
        return True

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = self.vectors[self.used : self.used + len(texts)]
        self.used += len(texts)
        return out


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100)
    return statistics.median(samples), cuts[94]


def run(args: argparse.Namespace, url: str, data: Path) -> list[dict[str, Any]]:
    settings = Settings(
        env="test",
        data_dir=data,
        database_url=url,
        auth={"jwt_secret": "bench-" + "x" * 40},
        vectors={"backend": args.backend},
        worker={"embedded": False},
        log_level="WARNING",
    )
    rt = build_runtime(settings)
    admin = cli_principal()
    embedder = rt.identity.text_embedder
    assert embedder is not None, "semantic search is off (AIMA_SEARCH__SEMANTIC)"
    texts = sentences(args.segments, seed=1)
    sample = texts[: args.embed]
    embedder.embed(sample[:8])  # load the model outside the timing
    t0 = time.perf_counter()
    real = embedder.embed(sample)
    embed_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    noise = rng.normal(scale=0.02, size=(args.segments, real.shape[1])).astype(np.float32)
    vectors = real[np.arange(args.segments) % len(real)] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    fake = Precomputed(embedder.collection, vectors.astype(np.float32))

    t0 = time.perf_counter()
    per_media = -(-args.segments // 10)
    for m in range(10):
        chunk = texts[m * per_media : (m + 1) * per_media]
        if not chunk:
            break
        with rt.db.session() as s:
            media_id, job_id, result_id = new_id("med"), new_id("job"), new_id("res")
            s.add(
                Media(
                    id=media_id, sha256=f"{m:064d}", size=1, kind="video", format="mp4",
                    mime="video/mp4", original_name=f"bench-{m}.mp4", info={},
                )
            )  # fmt: skip
            s.flush()
            s.add(Job(id=job_id, media_id=media_id, analyzers=["transcribe"], state="succeeded"))
            s.flush()
            s.add(
                AnalysisResult(
                    id=result_id, media_id=media_id, job_id=job_id, analyzer="transcribe",
                    analyzer_version="1", model_id="bench", config={}, config_hash="0" * 64,
                    data={}, accepted=True,
                )
            )  # fmt: skip
            s.flush()
            replace_segments(
                s,
                media_id=media_id,
                result_id=result_id,
                source="transcript",
                segments=[
                    {"start": float(i), "end": i + 2.0, "text": t, "language": "en"}
                    for i, t in enumerate(chunk)
                ],
                embedder=fake,
            )
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rt.vectors.sync()
    index_s = time.perf_counter() - t0

    queries = sentences(args.queries, seed=2)
    rows: list[dict[str, Any]] = [
        {
            "case": "embed (real model)",
            "n": len(sample),
            "p50_ms": 1000 * embed_s / len(sample),
            "p95_ms": float("nan"),
            "per_s": len(sample) / embed_s,
            "note": f"batch {embedder.batch_size}, {embedder.backend}",
        },
        {
            "case": "write segments",
            "n": args.segments,
            "p50_ms": float("nan"),
            "p95_ms": float("nan"),
            "per_s": args.segments / write_s,
            "note": f"stem + outbox, {write_s:.1f} s; index sync {index_s:.1f} s",
        },
    ]
    for mode in ("semantic", "hybrid", "fulltext"):
        latencies = []
        for i, q in enumerate([queries[0], *queries]):
            query = " ".join(q.split()[1:3]) if mode == "fulltext" else q
            t0 = time.perf_counter()
            found = rt.search.text(admin, query, mode=mode, limit=20)
            if i:  # the first is a warm-up
                latencies.append(1000 * (time.perf_counter() - t0))
            assert mode == "fulltext" or found["results"], query
        p50, p95 = percentiles(latencies)
        rows.append(
            {
                "case": f"search {mode}",
                "n": len(latencies),
                "p50_ms": p50,
                "p95_ms": p95,
                "per_s": 1000 / statistics.mean(latencies),
                "note": f"{args.segments} segments, {args.backend}, {rt.db.engine.dialect.name}",
            }
        )
    rt.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--embed", type=int, default=2_000, help="sentences the model embeds")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--backend", choices=("faiss", "milvus"), default="faiss")
    args = parser.parse_args()
    args.embed = min(args.embed, args.segments)
    with tempfile.TemporaryDirectory(prefix="aima-semantic-bench-") as tmp:
        data = Path(tmp)
        if args.db == "postgres":
            with temporary_pg_database() as url:
                rows = run(args, url, data)
        else:
            rows = run(args, f"sqlite:///{data / 'bench.db'}", data)
    say(table(rows))
    say(f"rss_mb {peak_rss_mb():.0f}")


if __name__ == "__main__":
    main()
