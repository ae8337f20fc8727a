"""Scrubbing an erased person's traces out of the results and job checkpoints of the media
they appear in, leaving the media and everyone else's data as they were.

A face track of theirs and each of its detections lose embedding, landmarks and crop key
(the crop keys are collected for deletion); a speaker of theirs loses its embedding, and the
speaker checkpoints lose the analysis windows inside their turns; transcript segments they
said lose their text (and words). Results without their embeddings cannot bring them back
on a later identity sync.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aima.store.models import AnalysisResult, Job, JobChunk, Observation

SCRUBBED = ("faces", "speakers", "transcribe")


class Scrubber:
    """Removes an erased person's biometric traces and words from the results and job
    checkpoints of the media they appear in (the media and everyone else's data stay)."""

    def __init__(self, s: Session, obs: list[Observation], said: list[tuple[str, float, float]]):
        self.s = s
        self.tracks: dict[str, set[int]] = defaultdict(set)  # result id -> face track ids
        self.speakers: dict[str, set[str]] = defaultdict(set)  # result id -> speaker ids
        self.turns: dict[str, list[list[float]]] = defaultdict(list)  # media -> their turns
        self.said: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for o in obs:
            kind, _, ref = o.ref.partition(":")
            if o.kind == "face" and kind == "track" and ref.isdigit():
                self.tracks[o.result_id].add(int(ref))
            elif o.kind == "voice" and kind == "speaker":
                self.speakers[o.result_id].add(ref)
                self.turns[o.media_id] += [list(sp) for sp in o.spans or [[o.start, o.end]]]
        for media_id, start, end in said:
            self.said[media_id].append((start, end))
        self.media = sorted({o.media_id for o in obs})
        self.crops: set[str] = set()

    def run(self) -> dict[str, list[Any]]:
        for result_id in sorted(set(self.tracks) | set(self.speakers)):
            row = self.s.get(AnalysisResult, result_id)
            if row is not None:
                data = copy.deepcopy(row.data)
                self._own_tracks(data, self.tracks.get(result_id, set()))
                for sp in data.get("speakers") or []:
                    if isinstance(sp, dict) and sp.get("id") in self.speakers.get(result_id, ()):
                        sp["embedding"] = []
                row.data = data
        results: list[str] = []
        chunks: list[int] = []
        rows = self.s.execute(
            select(AnalysisResult).where(
                AnalysisResult.media_id.in_(self.media), AnalysisResult.analyzer.in_(SCRUBBED)
            )
        ).scalars()
        for r in rows:
            new = self._walk(r.media_id, copy.deepcopy(r.data))
            if new != r.data or r.id in self.tracks or r.id in self.speakers:
                r.data = new
                results.append(r.id)
        checkpoints = self.s.execute(
            select(JobChunk, Job.media_id)
            .join(Job, Job.id == JobChunk.job_id)
            .where(Job.media_id.in_(self.media), JobChunk.analyzer.in_(SCRUBBED))
        ).all()
        for chunk, media_id in checkpoints:
            if chunk.result is None:
                continue
            new = self._walk(media_id, copy.deepcopy(chunk.result))
            if chunk.analyzer == "speakers":
                self._drop_windows(media_id, new)
            if new != chunk.result:
                chunk.result = new
                chunks.append(int(chunk.id))
        return {"results": results, "chunks": chunks}

    def _own_tracks(self, data: dict[str, Any], track_ids: set[int]) -> None:
        faces = data.get("faces") or []
        for track in data.get("tracks") or []:
            if not isinstance(track, dict) or track.get("id") not in track_ids:
                continue
            if track.get("crop"):
                self.crops.add(str(track["crop"]))
            track["crop"], track["embedding"] = None, None
            for i in track.get("detections") or []:
                if isinstance(i, int) and 0 <= i < len(faces) and isinstance(faces[i], dict):
                    if faces[i].get("crop"):
                        self.crops.add(str(faces[i]["crop"]))
                    faces[i].update(crop=None, embedding=None, landmarks=[])

    def _walk(self, media_id: str, data: Any) -> Any:
        """Face records carrying one of their crops lose it, their embedding and landmarks;
        transcript segments they said lose their text (and words)."""
        said = self.said.get(media_id, [])
        stack: list[Any] = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
                continue
            if not isinstance(item, dict):
                continue
            if item.get("crop") in self.crops:
                item["crop"], item["embedding"] = None, None
                if "landmarks" in item:
                    item["landmarks"] = []
            if said and isinstance(item.get("text"), str) and _said(item, said):
                item["text"] = ""
                if "words" in item:
                    item["words"] = []
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        segments = data.get("segments") if isinstance(data, dict) else None
        if said and isinstance(segments, list) and isinstance(data.get("text"), str):
            parts = [str(g.get("text", "")).strip() for g in segments if isinstance(g, dict)]
            data["text"] = " ".join(p for p in parts if p)
        return data

    def _drop_windows(self, media_id: str, data: Any) -> None:
        """Speaker checkpoints: the analysis windows (and their embeddings) inside their turns."""
        turns = self.turns.get(media_id, [])
        if not turns or not isinstance(data, dict):
            return
        for seg in data.get("segments") or []:
            windows = seg.get("windows") or []
            keep = [
                k
                for k, (a, b) in enumerate(windows)
                if not any(t0 <= (a + b) / 2 <= t1 for t0, t1 in turns)
            ]
            if len(keep) == len(windows):
                continue
            for key in ("windows", "embeddings", "pitch"):
                if isinstance(seg.get(key), list) and len(seg[key]) == len(windows):
                    seg[key] = [seg[key][k] for k in keep]


def _said(item: dict[str, Any], spans: list[tuple[float, float]]) -> bool:
    try:
        start, end = float(item["start"]), float(item["end"])
    except (KeyError, TypeError, ValueError):
        return False
    return any(abs(start - a) < 2e-3 and abs(end - b) < 2e-3 for a, b in spans)
