"""Clustering with constraints: incremental assignment and the full re-cluster.

Incremental assignment is nearest-neighbour at the model's ``max_distance`` (the
practice of Immich's incremental DBSCAN). The full re-cluster must not *chain*:
single linkage at that threshold merged three of 13 identities of a public face set
into one (pairwise F1 1.00 -> 0.83), because people bridged by a few in-between
faces become one component. So the re-cluster is **average linkage** driven by the
k-nearest-neighbour graph: candidate pairs come in ascending distance, and two
clusters merge only when their root-mean-square pairwise distance is within
``max_distance``. For unit vectors the mean squared distance between clusters A and B
is ``2 - 2 (sum A . sum B) / (|A| |B|)``, so the test costs one dot product of the
clusters' running sums, whatever their sizes (RMS >= mean, so this is slightly stricter
than textbook average linkage). A bridge point may join one side; it can no longer
pull the other side in, since the two cores are far apart on average.

The quality rule stays: only *usable* observations may found or join up clusters; a
non-usable one may only attach, alone, to its nearest usable cluster (as the
incremental path would place it), so one blurry face cannot chain two people either.

Corrections are constraints both paths honour:

* *pinned* (must-link): the observation stays with its person, whatever the vectors
  say; two clusters pinned to different persons never merge.
* *cannot-link* (observation, person): the observation never joins that person, nor a
  cluster holding observations of that person.

The full re-cluster keeps person ids stable: each new cluster takes the id of the
person most of its members had before (or its pinned person), so names, links and
corrections survive it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import faiss
import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Neighbour:
    observation_id: int
    distance: float
    person_id: str | None


def choose_person(
    neighbours: Sequence[Neighbour], max_distance: float, cannot: set[str]
) -> tuple[str, float] | None:
    """The person of the nearest neighbour within ``max_distance`` that is not forbidden."""
    for n in sorted(neighbours, key=lambda n: n.distance):
        if n.distance > max_distance:
            break
        if n.person_id is not None and n.person_id not in cannot:
            return n.person_id, n.distance
    return None


@dataclass(frozen=True, slots=True)
class Item:
    """One observation as the re-cluster sees it."""

    id: int
    usable: bool
    pinned: str | None  # the person a user placed it with
    prior: str | None  # its person before the re-cluster
    cannot: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Component:
    members: list[int]
    usable: bool
    pinned: set[str]
    cannot: set[str]
    prior: Counter[str] = field(default_factory=Counter)
    total: F64 | None = None  # sum of the members' unit vectors (average linkage)

    def anchors(self) -> set[str]:
        return self.pinned | set(self.prior)


def knn(
    vectors: F32, k: int, *, batch: int = 4096
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Exact k nearest neighbours of every row among all rows (unit vectors -> L2 distances)."""
    n, dim = vectors.shape
    index = faiss.IndexFlatIP(dim)
    index.add(vectors)
    k = min(k + 1, n)
    dist = np.empty((n, k), dtype=np.float32)
    idx = np.empty((n, k), dtype=np.int64)
    for lo in range(0, n, batch):
        sims, ids = index.search(vectors[lo : lo + batch], k)
        dist[lo : lo + batch] = np.sqrt(np.clip(2.0 - 2.0 * sims, 0.0, None))
        idx[lo : lo + batch] = ids
    return dist, idx


def mean_sq_distance(a: F64, n_a: int, b: F64, n_b: int) -> float:
    """Mean squared L2 distance between the unit-vector members of two clusters (from sums)."""
    return 2.0 - 2.0 * float(np.dot(a, b)) / (n_a * n_b)


def recluster(
    items: Sequence[Item], vectors: F32, max_distance: float, *, k: int = 16
) -> dict[int, str | None]:
    """Cluster every observation of one embedding model under the constraints.

    Returns observation id -> person id: an existing id (kept stable), ``"new:<n>"`` for
    a cluster that needs a new person, or None (a non-usable observation near nobody).
    """
    n = len(items)
    if n == 0:
        return {}
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dist, idx = knn(vectors, k)
    edges = [
        (float(dist[i, j]), i, int(idx[i, j]))
        for i in range(n)
        for j in range(idx.shape[1])
        if 0 <= idx[i, j] != i and dist[i, j] <= max_distance and i < idx[i, j]
    ]
    # A pair found from only one side (not among the other's k nearest) counts too.
    edges += [
        (float(dist[i, j]), int(idx[i, j]), i)
        for i in range(n)
        for j in range(idx.shape[1])
        if 0 <= idx[i, j] < i and dist[i, j] <= max_distance
    ]
    edges = sorted(set(edges))
    max_sq = max_distance * max_distance + 1e-9

    parent = list(range(n))
    comps: dict[int, _Component] = {
        i: _Component(
            members=[i],
            usable=it.usable,
            pinned={it.pinned} if it.pinned else set(),
            cannot=set(it.cannot),
            prior=Counter([it.prior] if it.prior else []),
            total=vectors[i].astype(np.float64),
        )
        for i, it in enumerate(items)
    }

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for _, a, b in edges:
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        ca, cb = comps[ra], comps[rb]
        attach = not (items[a].usable and items[b].usable)
        if attach:
            # a non-usable observation only attaches, alone, to a usable cluster
            single = ca if not items[a].usable else cb
            other = cb if single is ca else ca
            if (
                len(single.members) != 1
                or not other.usable
                or not (items[a].usable or items[b].usable)
            ):
                continue
        elif ca.total is not None and cb.total is not None:
            msd = mean_sq_distance(ca.total, len(ca.members), cb.total, len(cb.members))
            if msd > max_sq:
                continue  # average linkage: the clusters are apart as wholes
        if ca.pinned and cb.pinned and ca.pinned != cb.pinned:
            continue
        if ca.cannot & cb.anchors() or cb.cannot & ca.anchors():
            continue
        if len(ca.members) < len(cb.members):
            ra, rb, ca, cb = rb, ra, cb, ca
        parent[rb] = ra
        ca.members += cb.members
        ca.usable = ca.usable or cb.usable
        ca.pinned |= cb.pinned
        ca.cannot |= cb.cannot
        ca.prior.update(cb.prior)
        if ca.total is not None and cb.total is not None:
            ca.total = ca.total + cb.total
        del comps[rb]

    out: dict[int, str | None] = {}
    used: set[str] = set()
    fresh = 0
    ordered = sorted(comps.values(), key=lambda c: (not c.pinned, -len(c.members)))
    for comp in ordered:
        person: str | None = None
        if comp.pinned:
            person = sorted(comp.pinned)[0]
        else:
            for candidate, _count in comp.prior.most_common():
                if candidate not in used and candidate not in comp.cannot:
                    person = candidate
                    break
            if person is None and comp.usable:
                fresh += 1
                person = f"new:{fresh}"
        if person is not None:
            used.add(person)
        for i in comp.members:
            out[items[i].id] = person
    return out
