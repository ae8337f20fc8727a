"""Dossier sections on the person themselves: where they appear, their best face crops,
voice samples and the emotions read on their face."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aima.identity.dossier_parts import (
    Citation,
    _join_emotions,
    _length,
    _r,
    _spans,
    _speaker_id,
    _union,
    time_range,
    timestamp,
)
from aima.identity.dossier_rows import DossierRows
from aima.results import (
    EmotionResult,
)
from aima.results.vision import EmotionDetection
from aima.store.models import (
    Observation,
)


def appearances(dossier: DossierRows) -> dict[str, Any]:
    totals = {"on_screen_s": 0.0, "speaking_s": 0.0}
    first: dict[str, Any] | None = None
    last: dict[str, Any] | None = None
    for m in dossier.media:
        faces, voices = dossier.mine(m.id, "face"), dossier.mine(m.id, "voice")
        seen = _union(sp for o in faces for sp in _spans(o))
        heard = _union(sp for o in voices for sp in _spans(o))
        present = _union([*seen, *heard])
        if not present:
            continue
        on_screen, speaking = _r(_length(seen)), _r(_length(heard))
        totals["on_screen_s"] += on_screen
        totals["speaking_s"] += speaking
        t0, t1 = present[0][0], present[-1][1]
        if first is None:
            first = {"media_id": m.id, "media_name": m.original_name, "t": _r(t0)}
        last = {"media_id": m.id, "media_name": m.original_name, "t": _r(t1)}
        where = "" if m.kind == "image" else f" from {timestamp(t0)} to {timestamp(t1)}"
        statement = (
            f"Appears in {m.original_name}{where}: {on_screen:g} s on screen, "
            f"{speaking:g} s speaking."
        )
        data = {
            "media_id": m.id,
            "media_name": m.original_name,
            "media_kind": m.kind,
            "first_seen": _r(t0),
            "last_seen": _r(t1),
            "on_screen_s": on_screen,
            "speaking_s": speaking,
            "on_screen_spans": [[_r(a), _r(b)] for a, b in seen],
            "speaking_spans": [[_r(a), _r(b)] for a, b in heard],
            "face_tracks": len(faces),
            "speakers": sorted({_speaker_id(o) or o.ref for o in voices}),
        }
        dossier.add(
            "appearances",
            "appearance",
            statement,
            data,
            [dossier.cite_obs(o) for o in [*faces, *voices]],
        )
    return {
        "media_count": len(dossier.sections["appearances"]),
        "first_seen": first,
        "last_seen": last,
        "on_screen_s": _r(totals["on_screen_s"]),
        "speaking_s": _r(totals["speaking_s"]),
        "face_observations": sum(len(dossier.mine(m.id, "face")) for m in dossier.media),
        "voice_observations": sum(len(dossier.mine(m.id, "voice")) for m in dossier.media),
    }


def representative_faces(dossier: DossierRows) -> None:
    """Best crops, one per media first (variety), then the next best overall."""
    faces = [o for m in dossier.media for o in dossier.mine(m.id, "face") if o.crop]
    ranked = sorted(faces, key=lambda o: (not o.usable, -o.confidence, -o.count, o.id))
    picked: list[Observation] = []
    for o in ranked:
        if o.media_id not in {p.media_id for p in picked}:
            picked.append(o)
    picked += [o for o in ranked if o not in picked]
    for o in picked[: dossier.limits.faces]:
        t, conf = o.start, o.confidence
        found = dossier.track(o)
        if found is not None:
            track, detections = found
            if 0 <= track.best < len(detections):
                t = detections[track.best].t
                conf = detections[track.best].confidence
        dossier.add(
            "representative_faces",
            "face_crop",
            f"Face crop from {dossier.name(o.media_id)} at {timestamp(t)} "
            f"(detection confidence {conf:.2f}).",
            {"crop": o.crop, "media_id": o.media_id, "t": _r(t), "usable": o.usable},
            [dossier.cite(o.media_id, t, t, "faces", o.result_id, conf, o.id)],
        )


def voice_samples(dossier: DossierRows) -> None:
    """The longest turns of this person's voice, across media."""
    turns = [
        (sp, o) for m in dossier.media for o in dossier.mine(m.id, "voice") for sp in _spans(o)
    ]
    turns.sort(key=lambda x: (x[0][0] - x[0][1], dossier.order[x[1].media_id], x[0][0]))
    for (a, b), o in turns[: dossier.limits.voice_samples]:
        dossier.add(
            "voice_samples",
            "voice_sample",
            f"Voice sample in {dossier.name(o.media_id)} {time_range(a, b)} ({b - a:.1f} s).",
            {"media_id": o.media_id, "start": _r(a), "end": _r(b), "duration_s": _r(b - a)},
            [dossier.cite_turn(o, (a, b))],
        )


def emotions(dossier: DossierRows) -> None:
    """Emotion detections joined to this person's face tracks, pooled per detection."""
    sums: dict[str, float] = defaultdict(float)
    n = 0
    cites: list[Citation] = []
    missing: list[str] = []
    for m in dossier.media:
        faces = dossier.mine(m.id, "face")
        if not faces:
            continue
        emo_row = dossier.results[m.id].get("emotion")
        emotion = dossier.typed(emo_row, EmotionResult) if emo_row is not None else None
        if emo_row is None or emotion is None:
            missing.append(m.original_name)
            continue
        joined: dict[str, dict[int, list[EmotionDetection]]] = {}
        for o in faces:
            found = dossier.track(o)
            if found is None:
                continue
            track, detections = found
            if o.result_id not in joined:
                joined[o.result_id] = _join_emotions(emotion, detections)
            by_face = joined[o.result_id]
            matched = [e for i in track.detections for e in by_face.get(i, [])]
            matched.sort(key=lambda e: e.t)
            if not matched:
                continue
            for e in matched:
                n += 1
                for label, p in e.emotions.items():
                    sums[label] += p
            times = [e.t for e in matched]
            conf = sum(e.confidence for e in matched) / len(matched)
            cites.append(
                dossier.cite(m.id, min(times), max(times), "emotion", emo_row.id, conf, o.id)
            )
    if missing:
        dossier.notes.append(f"Emotion not analysed for: {', '.join(missing)}.")
    if not n:
        return
    distribution = {k: round(v / n, 4) for k, v in sorted(sums.items())}
    top = max(distribution, key=lambda k: (distribution[k], k))
    media = len({c.media_id for c in cites})
    dossier.add(
        "emotions",
        "emotion_distribution",
        f"Across {n} face detections in {media} media the dominant expression is {top} "
        f"(mean probability {distribution[top]:.2f}).",
        {"detections": n, "distribution": distribution, "top": top},
        cites,
    )
