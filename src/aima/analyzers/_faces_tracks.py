"""Face tracks: one appearance of one person in a video, linked across consecutive keyframes.

Linking is greedy over consecutive keyframes of the same shot (keyframes may be up to
``decode.max_interval_s`` apart, so positions can move a lot between them):

* a detection may continue a track whose last detection is in the same shot and at most
  ``max_missed`` keyframes back (a missed detection, a turned head, does not split it);
* when both have embeddings, an embedding distance above ``max_distance`` vetoes the link
  (two people taking turns at the same place stay apart even without a detected cut);
* otherwise the pair links when its boxes overlap (IoU >= ``min_iou``), or, with
  embeddings, when the distance is at most ``relink_distance`` (the person moved);
* pairs are taken best first (highest IoU plus embedding agreement), one-to-one.

A track's embedding is the re-normalised mean of its members' embeddings (the usable
members only, when it has any); its best detection is the largest, sharpest, most
frontal one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aima.analyzers._faces_common import l2_normalise
from aima.analyzers._tracking import iou


@dataclass(frozen=True, slots=True)
class TrackParams:
    min_iou: float
    max_distance: float
    relink_distance: float
    max_missed: int


@dataclass(slots=True)
class _Open:
    members: list[int] = field(default_factory=list)
    last_frame: int = 0
    last_shot: int = 0
    last_box: list[float] = field(default_factory=list)
    last_embedding: np.ndarray[Any, Any] | None = None


def _affinity(
    track: _Open, face: dict[str, Any], emb: np.ndarray[Any, Any] | None, p: TrackParams
) -> float | None:
    """How well a detection continues a track (higher is better), or None: no link."""
    overlap = iou(track.last_box, face["box"])
    if emb is not None and track.last_embedding is not None:
        dist = float(np.linalg.norm(emb - track.last_embedding))
        if dist > p.max_distance:
            return None
        if overlap >= p.min_iou or dist <= p.relink_distance:
            return overlap + (1.0 - dist / p.max_distance)
        return None
    return overlap if overlap >= p.min_iou else None


def link_tracks(faces: list[dict[str, Any]], params: TrackParams) -> list[list[int]]:
    """Group detections into tracks; returns member indices per track, by first detection.

    Each detection is a dict with ``frame`` (the keyframe's ordinal in the media: every
    keyframe counts, with or without faces), ``shot``, ``box`` and ``embedding`` (or None).
    """
    by_frame: dict[int, list[int]] = {}
    for i in sorted(range(len(faces)), key=lambda i: (faces[i]["frame"], i)):
        by_frame.setdefault(faces[i]["frame"], []).append(i)
    vectors = {
        i: l2_normalise(np.asarray(f["embedding"], dtype=np.float32))[0]
        for i, f in enumerate(faces)
        if f.get("embedding")
    }
    tracks: list[_Open] = []
    for frame in sorted(by_frame):
        current = by_frame[frame]
        shot = faces[current[0]]["shot"]
        pairs = []
        for k, tr in enumerate(tracks):
            if tr.last_shot != shot or not 0 < frame - tr.last_frame <= 1 + params.max_missed:
                continue
            for i in current:
                score = _affinity(tr, faces[i], vectors.get(i), params)
                if score is not None:
                    pairs.append((score, k, i))
        pairs.sort(key=lambda s: -s[0])
        used: set[int] = set()
        assigned: dict[int, int] = {}
        for _, k, i in pairs:
            if k not in used and i not in assigned:
                used.add(k)
                assigned[i] = k
        for i in current:
            if i not in assigned:
                tracks.append(_Open())
                assigned[i] = len(tracks) - 1
            tr = tracks[assigned[i]]
            tr.members.append(i)
            tr.last_frame, tr.last_shot, tr.last_box = frame, shot, faces[i]["box"]
            if i in vectors:
                tr.last_embedding = vectors[i]
    return [tr.members for tr in tracks]


def best_detection(faces: list[dict[str, Any]], members: list[int], min_blur: float) -> int:
    """The member with the best crop: usable first, then size x sharpness x frontality."""

    def key(i: int) -> tuple[bool, float]:
        q = faces[i]["quality"]
        sharp = q["blur"] / (q["blur"] + max(min_blur, 1e-6))
        return bool(faces[i]["usable"]), q["size_px"] * sharp * (0.5 + 0.5 * q["frontal"])

    return max(members, key=key)


def mean_embedding(faces: list[dict[str, Any]], members: list[int]) -> list[float] | None:
    """Re-normalised mean of the members' embeddings (usable members only, when any)."""
    with_emb = [i for i in members if faces[i].get("embedding")]
    usable = [i for i in with_emb if faces[i]["usable"]]
    chosen = usable or with_emb
    if not chosen:
        return None
    rows = l2_normalise(np.asarray([faces[i]["embedding"] for i in chosen], dtype=np.float32))
    mean = l2_normalise(rows.mean(axis=0))[0]
    return [round(float(v), 6) for v in mean]
