"""Constrained clustering on synthetic unit vectors (the algorithm, without a database)."""

from __future__ import annotations

import numpy as np

from aima.identity.calibration import calibration_for
from aima.identity.clustering import Item, Neighbour, choose_person, recluster


def people(n_people: int, per: int, dim: int = 128, noise: float = 0.02, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rows, labels = [], []
    for p in range(n_people):
        for _ in range(per):
            v = centres[p] + rng.normal(scale=noise, size=dim)
            rows.append(v / np.linalg.norm(v))
            labels.append(p)
    return np.asarray(rows, dtype=np.float32), labels


def groups(mapping: dict[int, str | None]) -> list[set[int]]:
    out: dict[str, set[int]] = {}
    for oid, pid in mapping.items():
        if pid is not None:
            out.setdefault(pid, set()).add(oid)
    return sorted(out.values(), key=min)


def test_recluster_finds_people_and_keeps_ids_stable() -> None:
    x, labels = people(5, 6)
    items = [Item(id=i, usable=True, pinned=None, prior=None) for i in range(len(x))]
    first = recluster(items, x, 0.41)
    assert groups(first) == [set(range(p * 6, p * 6 + 6)) for p in range(5)]
    assert all(v is not None and v.startswith("new:") for v in first.values())
    # once persons exist, a re-cluster keeps their ids
    prior = {i: f"per_{labels[i]}" for i in range(len(x))}
    items = [Item(id=i, usable=True, pinned=None, prior=prior[i]) for i in range(len(x))]
    again = recluster(items, x, 0.41)
    assert again == prior


def test_unusable_observation_attaches_but_never_founds_or_bridges() -> None:
    x, _ = people(2, 3)
    bridge = (x[0] + x[3]) / np.linalg.norm(x[0] + x[3])  # halfway between the two people
    lone = np.random.default_rng(5).normal(size=128)
    lone /= np.linalg.norm(lone)
    vectors = np.vstack([x, bridge, lone]).astype(np.float32)
    items = [Item(id=i, usable=i < 6, pinned=None, prior=None) for i in range(8)]
    out = recluster(items, vectors, 0.8)  # wide enough for the bridge to touch both
    assert out[0] != out[3]  # two people were not chained through the non-usable one
    assert out[6] in {out[0], out[3]}  # it attached to one of them
    assert out[7] is None  # far from everyone and not usable: no person


def test_pinned_and_cannot_link_constraints_hold() -> None:
    x, _ = people(2, 4)
    # the user said observation 0 is someone else (cannot-link to per_a), and pinned 4..7 to per_b
    items = [
        Item(
            id=i,
            usable=True,
            pinned="per_b" if i >= 4 else None,
            prior="per_a" if i < 4 else "per_b",
            cannot=frozenset({"per_a"}) if i == 0 else frozenset(),
        )
        for i in range(8)
    ]
    out = recluster(items, x, 0.41)
    assert all(out[i] == "per_b" for i in range(4, 8))
    assert out[0] != "per_a" and out[0] is not None
    assert {out[1], out[2], out[3]} == {"per_a"}
    # two groups pinned to different persons never merge even when identical
    same = np.vstack([x[0], x[0]]).astype(np.float32)
    pinned = [
        Item(id=0, usable=True, pinned="p1", prior="p1"),
        Item(id=1, usable=True, pinned="p2", prior="p2"),
    ]
    assert recluster(pinned, same, 0.41) == {0: "p1", 1: "p2"}


def test_choose_person_nearest_allowed_within_threshold() -> None:
    near = [Neighbour(1, 0.1, "a"), Neighbour(2, 0.2, "b"), Neighbour(3, 0.5, "c")]
    assert choose_person(near, 0.41, set()) == ("a", 0.1)
    assert choose_person(near, 0.41, {"a"}) == ("b", 0.2)
    assert choose_person(near, 0.41, {"a", "b"}) is None
    assert choose_person([Neighbour(4, 0.05, None)], 0.41, set()) is None


def test_calibrated_scores_are_monotonic_and_centred_on_the_threshold() -> None:
    cal = calibration_for("face", "dlib-20.0/resnet_v1+hog+shape68")
    assert cal.max_distance == 0.41
    assert cal.score(0.41) == 0.5
    assert cal.score(0.16) > 0.99 > cal.score(0.3) > cal.score(0.5) and cal.score(0.56) < 0.05
    assert abs(cal.distance_for(0.5) - 0.41) < 1e-9
    other = calibration_for("face", "some-new-model", hint=0.7)
    assert other.max_distance == 0.7
    voice = calibration_for("voice", "resemblyzer-0.1.4/pretrained.pt")
    assert voice.kind == "voice" and voice.score(0.2) > 0.99


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    v = (1 - t) * a + t * b
    return v / np.linalg.norm(v)


def chained_people(seed: int, n_people: int = 4, per: int = 6, bridges: int = 3):
    """People whose cores are ~0.7 apart, neighbours bridged by faces in between.

    Each bridge is a line of in-between embeddings spaced ~0.2 apart (well within the
    0.41 threshold), the geometry where single linkage chains everyone into one.
    Bridge points are labelled by the person they are nearest to.
    """
    rng = np.random.default_rng(seed)
    dim = 128
    centres = [rng.normal(size=dim)]
    centres[0] /= np.linalg.norm(centres[0])
    while len(centres) < n_people:  # each next person ~0.7 from the previous one
        d = rng.normal(size=dim)
        d -= np.dot(d, centres[-1]) * centres[-1]
        d /= np.linalg.norm(d)
        angle = 2 * np.arcsin(0.7 / 2)
        centres.append(np.cos(angle) * centres[-1] + np.sin(angle) * d)
    rows, labels = [], []
    for p, c in enumerate(centres):
        for _ in range(per):
            v = c + rng.normal(scale=0.007, size=dim)  # pairwise ~0.11
            rows.append(v / np.linalg.norm(v))
            labels.append(p)
    for p in range(n_people - 1):
        for j in range(1, bridges + 1):
            t = j / (bridges + 1)
            rows.append(_slerp(centres[p], centres[p + 1], t))
            labels.append(p if t < 0.5 else p + 1 if t > 0.5 else -1 - p)
    return np.asarray(rows, dtype=np.float32), labels


def f1_of(labels: list[int], mapping: dict[int, str | None]) -> float:
    tp = fp = fn = 0
    n = len(labels)
    for a in range(n):
        for b in range(a + 1, n):
            same = labels[a] == labels[b]
            pred = mapping[a] is not None and mapping[a] == mapping[b]
            tp += same and pred
            fp += pred and not same
            fn += same and not pred
    return 2 * tp / max(1, 2 * tp + fp + fn)


def _single_linkage_components(x: np.ndarray, max_distance: float) -> int:
    """How many groups plain single linkage at the threshold makes (the chaining baseline)."""
    d = np.sqrt(np.clip(2 - 2 * x @ x.T, 0, None))
    parent = list(range(len(x)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for a, b in zip(*np.nonzero(d <= max_distance), strict=True):
        parent[find(int(a))] = find(int(b))
    return len({find(i) for i in range(len(x))})


def test_recluster_does_not_chain_people_bridged_by_in_between_faces() -> None:
    for seed in (11, 12, 13):
        x, labels = chained_people(seed)
        assert _single_linkage_components(x, 0.41) == 1  # the geometry really chains
        items = [Item(id=i, usable=True, pinned=None, prior=None) for i in range(len(x))]
        out = recluster(items, x, 0.41)
        cores = [out[p * 6] for p in range(4)]
        assert len(set(cores)) == 4 and None not in cores, (seed, cores)
        for p in range(4):  # every core stays whole
            assert {out[p * 6 + j] for j in range(6)} == {cores[p]}
        core_ids = [i for i, lbl in enumerate(labels) if i < 24]
        assert (
            f1_of([labels[i] for i in core_ids], {k: out[i] for k, i in enumerate(core_ids)}) == 1.0
        )
        # with priors from a chained clustering, ids stay stable where the cores are
        chained = [Item(id=i, usable=True, pinned=None, prior="per_all") for i in range(len(x))]
        again = recluster(chained, x, 0.41)
        assert len({again[p * 6] for p in range(4)}) == 4
