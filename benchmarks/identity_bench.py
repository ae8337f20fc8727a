"""People across the library: incremental assignment throughput, quality, full re-cluster.

    .venv/bin/python -m benchmarks.identity_bench [--faces 100000] [--persons 5000]
        [--database sqlite|postgres] [--batch-media 200] [--tracks-per-media 100]
        [--points 0.2,0.5,1.0] [--window 0.05] [--noise 0.13] [--profile]

Data: ``--persons`` random unit centres in 128-d (dlib's embedding size); every face
track is its identity's centre plus Gaussian noise of norm ``--noise``, re-normalised,
so two tracks of one person lie ~0.18 apart (L2) and two people ~1.4 (dlib's
calibrated threshold is 0.41); identities are drawn uniformly per track. The measured
distances are printed before the run.

The library goes in through the real path: ``media`` + ``jobs`` + accepted ``results``
rows (analyzer ``faces``, a final result shaped like the analyzer's: ``faces[]`` with
quality/usable/embedding, ``tracks[]`` with id/start/end/detections/best/embedding/
usable/confidence; one detection per track, ``--tracks-per-media`` tracks per media),
inserted in bulk (one transaction per ``--batch-media`` media), then
``runtime.identity.sync()``, which turns them into observations and assigns each to a
person incrementally (nearest neighbour in the FAISS index within the threshold, else
a new person). Inserts and syncs are timed separately.

For each point ``p`` of ``--points`` (a share of ``--faces``) the library is first
filled to ``(1 - window) * p * faces`` and synced ("fill"), then the last
``window * p * faces`` tracks are inserted and synced on their own ("window"): the
window row is the steady-state throughput of assignment at that library size. The
last ``--per-job`` media of each window are synced one ``sync()`` call each, as a
worker does after every finished job ("per-job"); every call pays fixed costs that do
not depend on the number of new faces (printed separately at the end).

Afterwards ``runtime.identity.recluster()`` runs over the whole library (one
collection) in a fresh process, so its peak RSS (VmHWM) is its own; ``changed`` is the
number of observations it moved to another person (0 when incremental assignment was
already right).

Quality: ``majority`` = share of observations whose person is the most common person
of their true identity; pairwise precision/recall over all pairs of observations
(same person found vs same identity); ``persons`` found vs identities present.
``--profile`` prints cProfile's top entries for the last window sync and the re-cluster.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing as mp
import os
import pstats
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from benchmarks.common import DEFAULT_PG, peak_rss_mb, say, table, temporary_pg_database

DIM = 128
MODEL_ID = "dlib-19.24/resnet_v1+hog+shape68"  # a dlib id: calibrated threshold 0.41
F32 = NDArray[np.float32]


# ------------------------------------------------------------------ synthetic library
@dataclass
class Library:
    """The truth: identity of every track, in insertion order (media i holds tracks
    ``i * per_media .. (i + 1) * per_media - 1``)."""

    centres: F32
    identity: NDArray[np.int64]
    noise: float
    per_media: int
    seed: int

    @property
    def faces(self) -> int:
        return len(self.identity)

    def embeddings(self, lo: int, hi: int) -> F32:
        """Embeddings of tracks ``lo..hi`` (deterministic per media, regenerated on demand)."""
        out = np.empty((hi - lo, DIM), dtype=np.float32)
        sigma = self.noise / np.sqrt(DIM)
        for start in range(lo, hi, self.per_media):
            media = start // self.per_media
            rng = np.random.default_rng((self.seed, media))
            end = min(hi, (media + 1) * self.per_media)
            first = media * self.per_media
            noise = rng.standard_normal((self.per_media, DIM)).astype(np.float32) * sigma
            noise = noise[start - first : end - first]
            out[start - lo : end - lo] = _unit(self.centres[self.identity[start:end]] + noise)
        return out


def make_library(faces: int, persons: int, per_media: int, noise: float, seed: int) -> Library:
    rng = np.random.default_rng(seed)
    centres = _unit(rng.standard_normal((persons, DIM)).astype(np.float32))
    identity = rng.integers(0, persons, faces).astype(np.int64)
    return Library(centres, identity, noise, per_media, seed)


def _unit(x: F32) -> F32:
    out: F32 = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return out


def distance_stats(lib: Library, sample: int = 4000) -> dict[str, Any]:
    """Same-identity and different-identity L2 distances among the first ``sample`` tracks."""
    n = min(sample, lib.faces)
    vec = lib.embeddings(0, n)
    ident = lib.identity[:n]
    d = np.sqrt(np.clip(2.0 - 2.0 * vec @ vec.T, 0.0, None))
    iu = np.triu_indices(n, 1)
    same = ident[iu[0]] == ident[iu[1]]
    sd, dd = d[iu][same], d[iu][~same]
    return {
        "same p5": float(np.percentile(sd, 5)) if len(sd) else float("nan"),
        "same p50": float(np.median(sd)) if len(sd) else float("nan"),
        "same max": float(sd.max()) if len(sd) else float("nan"),
        "diff min": float(dd.min()),
        "diff p50": float(np.median(dd)),
        "pairs": f"{len(sd):,} same / {len(dd):,} diff",
    }


def face_result(emb: F32, usable: bool = True) -> dict[str, Any]:
    """A final ``faces`` result with one detection per track, as the analyzer writes it."""
    faces: list[dict[str, Any]] = []
    tracks: list[dict[str, Any]] = []
    vectors = np.round(emb.astype(np.float64), 6).tolist()
    for k, vector in enumerate(vectors):
        t = float(k)
        faces.append(
            {
                "t": t,
                "shot": k,
                "frame": k,
                "face_index": 0,
                "box": [0.3, 0.2, 0.5, 0.6],
                "confidence": 0.98,
                "score": 1.2,
                "landmarks": [[0.35, 0.3], [0.45, 0.3], [0.4, 0.4], [0.36, 0.5], [0.44, 0.5]],
                "quality": {"size_px": 80, "blur": 100.0, "frontal": 0.9},
                "usable": usable,
                "embedding": vector,
                "crop": None,
                "track": k,
            }
        )
        tracks.append(
            {
                "id": k,
                "start": t,
                "end": t,
                "shot": k,
                "detections": [k],
                "best": k,
                "crop": None,
                "embedding": vector,
                "usable": usable,
                "confidence": 0.98,
            }
        )
    return {
        "faces": faces,
        "tracks": tracks,
        "count": len(faces),
        "frames": len(faces),
        "model_id": MODEL_ID,
        "embedding_dim": DIM,
        "match_distance": 0.41,
    }


# ------------------------------------------------------------------ the runtime
def make_settings(data_dir: Path, url: str) -> Any:
    from aima.core.settings import Settings

    return Settings(
        env="test",
        data_dir=data_dir,
        database_url=url,
        auth={"jwt_secret": "x" * 40},
        worker={"embedded": False},
        log_level="WARNING",
    )


@contextmanager
def database_url(kind: str, workdir: Path, pg_base: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'aima.db'}"
    elif kind == "postgres":
        with temporary_pg_database(pg_base) as url:
            yield url
    else:
        raise SystemExit(f"unknown database {kind!r}: sqlite or postgres")


def insert_media(rt: Any, lib: Library, first: int, last: int, batch: int) -> float:
    """Media ``first..last-1`` with their job and accepted faces result; seconds taken."""
    from sqlalchemy import insert

    from aima.core.clock import utcnow
    from aima.core.ids import new_id
    from aima.store.models import AnalysisResult, Job, Media

    t0 = time.perf_counter()
    per = lib.per_media
    for lo in range(first, last, batch):
        hi = min(last, lo + batch)
        media, jobs, results = [], [], []
        for m in range(lo, hi):
            now = utcnow()
            mid, jid = new_id("med"), new_id("job")
            media.append(
                {
                    "id": mid,
                    "sha256": f"{m:064x}",
                    "size": 1_000_000,
                    "kind": "video",
                    "format": "mp4",
                    "mime": "video/mp4",
                    "original_name": f"bench-{m:06d}.mp4",
                    "info": {"duration_s": float(per), "width": 1280, "height": 720},
                    "created_at": now,
                }
            )
            jobs.append(
                {
                    "id": jid,
                    "media_id": mid,
                    "analyzers": ["faces"],
                    "options": {},
                    "state": "succeeded",
                    "created_at": now,
                    "updated_at": now,
                    "not_before": now,
                    "started_at": now,
                    "finished_at": now,
                    "progress": 1.0,
                    "outcome": {},
                }
            )
            results.append(
                {
                    "id": new_id("res"),
                    "media_id": mid,
                    "job_id": jid,
                    "analyzer": "faces",
                    "analyzer_version": "1",
                    "model_id": MODEL_ID,
                    "config": {},
                    "config_hash": "0" * 16,
                    "data": face_result(lib.embeddings(m * per, (m + 1) * per)),
                    "created_at": now,
                    "accepted": True,
                    "accepted_at": now,
                    "accepted_by": "auto",
                }
            )
        with rt.db.session() as s:
            s.execute(insert(Media), media)
            s.execute(insert(Job), jobs)
            s.execute(insert(AnalysisResult), results)
    return time.perf_counter() - t0


# ------------------------------------------------------------------ quality
def quality(rt: Any, lib: Library) -> dict[str, Any]:
    """Found persons against the truth (tracks are keyed by media name and track id)."""
    from sqlalchemy import select

    from aima.store.models import Media, Observation

    with rt.db.session() as s:
        rows = s.execute(
            select(Media.original_name, Observation.ref, Observation.person_id).join(
                Media, Media.id == Observation.media_id
            )
        ).all()
    truth: list[int] = []
    found: list[str | None] = []
    for name, ref, person in rows:
        m = int(name.removeprefix("bench-").removesuffix(".mp4"))
        truth.append(int(lib.identity[m * lib.per_media + int(ref.split(":")[1])]))
        found.append(person)
    cells = Counter(zip(truth, found, strict=True))
    majority: dict[int, str | None] = {}
    best: dict[int, int] = {}
    for (ident, person), n in cells.items():
        if n > best.get(ident, 0):
            best[ident], majority[ident] = n, person
    ok = sum(1 for t, p in zip(truth, found, strict=True) if p is not None and majority[t] == p)

    def pairs(counts: Any) -> int:
        return sum(n * (n - 1) // 2 for n in counts)

    same_both = pairs(n for (_, p), n in cells.items() if p is not None)
    same_found = pairs(n for p, n in Counter(found).items() if p is not None)
    same_truth = pairs(Counter(truth).values())
    return {
        "observations": len(rows),
        "unassigned": sum(1 for p in found if p is None),
        "persons": len({p for p in found if p is not None}),
        "identities": len(set(truth)),
        "majority": ok / len(rows) if rows else 0.0,
        "pair_precision": same_both / same_found if same_found else 1.0,
        "pair_recall": same_both / same_truth if same_truth else 1.0,
    }


# ------------------------------------------------------------------ recluster (own process)
def _vm_hwm_mb() -> float:
    """Peak resident set of this process (VmHWM; ``ru_maxrss`` survives exec on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def _vm_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_recluster(data_dir: str, url: str, profile: bool) -> dict[str, Any]:
    from aima.runtime import build_runtime

    rt = build_runtime(make_settings(Path(data_dir), url))
    try:
        rt.db.ping()
        before_mb = _vm_rss_mb()
        prof = cProfile.Profile() if profile else None
        t0 = time.perf_counter()
        if prof is not None:
            prof.enable()
        out = rt.identity.recluster()
        if prof is not None:
            prof.disable()
        seconds = time.perf_counter() - t0
    finally:
        rt.close()
    totals = Counter[str]()
    for counts in out.values():
        totals.update(counts)
    return {
        "seconds": seconds,
        "rss_before_mb": before_mb,
        "peak_rss_mb": _vm_hwm_mb(),
        "collections": len(out),
        **dict(totals),
        "profile": _top(prof) if prof is not None else "",
    }


def _top(prof: cProfile.Profile, n: int = 25) -> str:
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf).strip_dirs()
    stats.sort_stats("tottime").print_stats(n)
    stats.sort_stats("cumulative").print_stats(n)
    return buf.getvalue()


# ------------------------------------------------------------------ main
def fixed_costs(rt: Any, repeat: int = 3) -> dict[str, object]:
    """The parts of ``sync()`` that do not depend on how many faces it brings (best of 3)."""
    parts = {
        "sync() idle ms": rt.identity.sync,
        "pending_media() ms": rt.identity.pending_media,
        "update_links() ms": rt.identity.update_links,
        "vectors.sync() ms": rt.vectors.sync,
    }
    out: dict[str, object] = {}
    for name, fn in parts.items():
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        out[name] = 1000 * best
    return out


def timed_sync(rt: Any, profile: bool) -> tuple[float, Any, str]:
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if prof is not None:
        prof.enable()
    report = rt.identity.sync()
    if prof is not None:
        prof.disable()
    return time.perf_counter() - t0, report, _top(prof) if prof is not None else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--faces", type=int, default=100_000, help="face tracks in the library")
    ap.add_argument("--persons", type=int, default=5_000, help="true identities")
    ap.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--postgres-url", default=DEFAULT_PG, help="server to create a DB on")
    ap.add_argument("--batch-media", type=int, default=200, help="media per insert transaction")
    ap.add_argument("--tracks-per-media", type=int, default=100)
    ap.add_argument("--points", default="0.2,0.5,1.0", help="library sizes, shares of --faces")
    ap.add_argument("--window", type=float, default=0.05, help="share synced on its own")
    ap.add_argument("--noise", type=float, default=0.13, help="norm of each track's noise")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--per-job", type=int, default=5, help="media of each window synced one per call"
    )
    ap.add_argument("--no-recluster", action="store_true")
    ap.add_argument("--profile", action="store_true", help="cProfile the last window sync")
    args = ap.parse_args()

    per = args.tracks_per_media
    n_media = max(1, args.faces // per)
    lib = make_library(n_media * per, args.persons, per, args.noise, args.seed)
    points = sorted({float(p) for p in args.points.split(",") if p})
    say(
        f"identity bench: {lib.faces:,} face tracks in {n_media:,} media ({per} per media), "
        f"{args.persons:,} identities, {args.database}, cpus={os.cpu_count()}"
    )
    say(table([distance_stats(lib)]))
    say("(L2 between unit vectors; dlib's calibrated match threshold is 0.41)\n")

    rows: list[dict[str, Any]] = []
    profile_text = ""
    with tempfile.TemporaryDirectory(prefix="aima-idbench-") as tmp:
        workdir = Path(tmp)
        with database_url(args.database, workdir, args.postgres_url) as url:
            from aima.runtime import build_runtime

            data_dir = workdir / "data"
            rt = build_runtime(make_settings(data_dir, url))
            try:
                done = 0  # media inserted and synced
                for i, p in enumerate(points):
                    target = max(1, round(p * n_media))
                    window = max(1, round(args.window * target))
                    jobs = min(args.per_job, window // 2)
                    fill_to = max(done, target - window)
                    phases = (("fill", fill_to), ("window", target - jobs), ("per-job", target))
                    for phase, upto in phases:
                        if upto <= done:
                            continue
                        last = phase == "window" and i == len(points) - 1
                        if phase == "per-job":  # one sync() per media, as after each job
                            ins_s = sync_s = 0.0
                            new_persons = unassigned = 0
                            for m in range(done, upto):
                                ins_s += insert_media(rt, lib, m, m + 1, 1)
                                s, rep, _ = timed_sync(rt, False)
                                sync_s += s
                                new_persons += rep.new_persons
                                unassigned += rep.unassigned
                        else:
                            ins_s = insert_media(rt, lib, done, upto, args.batch_media)
                            sync_s, rep, prof = timed_sync(rt, args.profile and last)
                            profile_text = prof or profile_text
                            new_persons, unassigned = rep.new_persons, rep.unassigned
                        faces = (upto - done) * per
                        rows.append(
                            {
                                "phase": phase,
                                "library_before": done * per,
                                "faces": faces,
                                "sync_calls": upto - done if phase == "per-job" else 1,
                                "insert_s": ins_s,
                                "ins_faces/s": int(faces / ins_s),
                                "sync_s": sync_s,
                                "sync_faces/s": int(faces / sync_s),
                                "ms/face": 1000 * sync_s / faces,
                                "new_persons": new_persons,
                                "unassigned": unassigned,
                                "rss_mb": int(peak_rss_mb()),
                            }
                        )
                        say(table([rows[-1]]))
                        done = upto
                fixed = fixed_costs(rt)
                q_sync = quality(rt, lib)
            finally:
                rt.close()

            say("\nincremental sync (insert and sync timed separately)")
            say(table(rows))
            total_sync = sum(r["sync_s"] for r in rows)
            total_ins = sum(r["insert_s"] for r in rows)
            say(
                f"whole library: {lib.faces:,} faces synced in {total_sync:.1f} s "
                f"({lib.faces / total_sync:.0f} faces/s overall), inserted in {total_ins:.1f} s"
            )
            say(
                f"\nfixed cost of every sync() call at {lib.faces:,} observations "
                "(paid once per call, i.e. once per finished job in a worker):"
            )
            say(table([fixed]))
            quality_rows = [{"after": "incremental sync", **q_sync}]

            rc: dict[str, Any] | None = None
            if not args.no_recluster:
                say("\nfull re-cluster (fresh process) ...")
                ctx = mp.get_context("spawn")
                with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                    rc = pool.submit(run_recluster, str(data_dir), url, args.profile).result()
                rt = build_runtime(make_settings(data_dir, url))
                try:
                    quality_rows.append({"after": "recluster", **quality(rt, lib)})
                finally:
                    rt.close()

    say("\nassignment quality against the truth")
    say(table(quality_rows))
    if rc is not None:
        say("\nfull re-cluster")
        rc_profile = rc.pop("profile")
        say(table([rc]))
    if args.profile:
        say("\ncProfile: last window sync\n" + profile_text)
        if rc is not None:
            say("cProfile: recluster\n" + rc_profile)


if __name__ == "__main__":
    main()
