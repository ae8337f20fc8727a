"""Fuse the accepted results of every analyzer into one timeline per media.

Pure functions over result dicts (no database): tracks per modality on one time
axis. Who: face tracks (with their emotions) and speakers; what was said, by
whom: transcript segments with each word attributed to the speaker whose turn
covers it; what was shown: OCR text spans, body tracks, NSFW spans.

Confidence: every analyzer reports per-detection ``confidence`` in [0, 1]
calibrated inside that analyzer (each module documents its mapping); fusion
aggregates them without re-scaling: a track's confidence is the mean of its
detections' confidences, a span's the maximum. Scores of different analyzers
are comparable in range, not in meaning: 0.8 from OCR is "0.8 likely this text
is right", 0.8 from NSFW is "0.8 likely explicit".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from aima.analyzers._tracking import iou

Result = dict[str, Any]


def keyframe_grid(results: dict[str, Result]) -> list[float]:
    """Every analysed keyframe time, from a result that lists its frames (e.g. nsfw)."""
    times: set[float] = set()
    for data in results.values():
        frames = data.get("frames") if isinstance(data, dict) else None
        if isinstance(frames, list):
            times.update(float(f["t"]) for f in frames if isinstance(f, dict) and "t" in f)
    return sorted(times)


def extend_to_next_keyframe(
    spans: list[dict[str, Any]], grid: list[float], duration: float | None
) -> list[dict[str, Any]]:
    """A thing last seen at keyframe t is shown until the next keyframe (exclusive) or the end.

    Keyframes are kept at shot changes and whenever the picture changed within the
    maximum interval; frames in between were near-duplicates of the last kept one. So
    the next keyframe is the first moment the content is known to differ. ``seen_until``
    keeps the last keyframe where it was actually observed.
    """
    if not grid:
        return spans
    out = []
    for span in spans:
        later = [t for t in grid if t > span["end"] + 1e-6]
        end = later[0] if later else (duration or span["end"])
        out.append({**span, "seen_until": span["end"], "end": round(max(end, span["end"]), 3)})
    return out


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def face_tracks(faces: Result | None, emotion: Result | None) -> list[dict[str, Any]]:
    """Face tracks with the emotions measured on their detections."""
    if not faces:
        return []
    detections = faces.get("faces", [])
    by_detection: dict[int, dict[str, float]] = {}
    if emotion:
        for emo in emotion.get("detections", []):
            for i, det in enumerate(detections):
                if abs(det["t"] - emo["t"]) < 1e-3 and iou(det["box"], emo["box"]) > 0.5:
                    by_detection[i] = emo["emotions"]
                    break
    tracks = []
    for track in faces.get("tracks", []):
        indices = track.get("detections", [])
        confidences = [detections[i].get("confidence", 0.0) for i in indices if i < len(detections)]
        emotions = [by_detection[i] for i in indices if i in by_detection]
        distribution: dict[str, float] = {}
        if emotions:
            for label in emotions[0]:
                distribution[label] = _mean([e.get(label, 0.0) for e in emotions])
        tracks.append(
            {
                "id": f"face-{track['id']}",
                "start": track["start"],
                "end": track["end"],
                "confidence": _mean(confidences),
                "detections": len(indices),
                "crop": track.get("crop"),
                "emotions": distribution,
                "top_emotion": max(distribution, key=lambda k: distribution[k])
                if distribution
                else None,
            }
        )
    return tracks


def _speaker_at(turns: list[dict[str, Any]], start: float, end: float) -> str | None:
    """The speaker whose turn overlaps [start, end] most (nearest turn within 0.5 s otherwise)."""
    best, best_overlap = None, 0.0
    for turn in turns:
        overlap = min(end, turn["end"]) - max(start, turn["start"])
        if overlap > best_overlap:
            best, best_overlap = turn["speaker"], overlap
    if best is not None:
        return str(best)
    mid = (start + end) / 2
    nearest = min(
        turns, key=lambda t: min(abs(mid - t["start"]), abs(mid - t["end"])), default=None
    )
    if nearest is not None and min(abs(mid - nearest["start"]), abs(mid - nearest["end"])) <= 0.5:
        return str(nearest["speaker"])
    return None


def transcript(transcribe: Result | None, speakers: Result | None) -> list[dict[str, Any]]:
    """Transcript segments, each word attributed to the speaker talking at that moment."""
    if not transcribe:
        return []
    turns = (speakers or {}).get("turns", [])
    out = []
    for seg in transcribe.get("segments", []):
        words = []
        votes: Counter[str] = Counter()
        for word in seg.get("words", []):
            who = _speaker_at(turns, word["start"], word["end"]) if turns else None
            words.append({**word, "speaker": who})
            if who:
                votes[who] += 1
        speaker = (
            votes.most_common(1)[0][0]
            if votes
            else (_speaker_at(turns, seg["start"], seg["end"]) if turns else None)
        )
        out.append(
            {
                "start": seg["start"],
                "end": seg["end"],
                "speaker": speaker,
                "text": seg.get("text", ""),
                "confidence": seg.get("confidence"),
                "words": words,
            }
        )
    return out


def speaker_tracks(speakers: Result | None) -> list[dict[str, Any]]:
    if not speakers:
        return []
    turns_by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for turn in speakers.get("turns", []):
        turns_by[str(turn["speaker"])].append(turn)
    return [
        {
            "id": str(s["id"]),
            "total_s": s.get("total_s"),
            "turns": [
                {"start": t["start"], "end": t["end"], "confidence": t.get("confidence")}
                for t in turns_by.get(str(s["id"]), [])
            ],
        }
        for s in speakers.get("speakers", [])
    ]


def build_timeline(
    media: dict[str, Any], results: dict[str, Result], sources: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """One timeline for one media from its accepted results (analyzer name -> result data)."""
    grid = keyframe_grid(results)
    duration = media.get("duration_s")
    faces = extend_to_next_keyframe(
        face_tracks(results.get("faces"), results.get("emotion")), grid, duration
    )
    said = transcript(results.get("transcribe"), results.get("speakers"))
    speakers = speaker_tracks(results.get("speakers"))
    ocr = extend_to_next_keyframe(
        [
            {k: line.get(k) for k in ("start", "end", "text", "language", "confidence", "box")}
            for line in (results.get("ocr") or {}).get("lines", [])
        ],
        grid,
        duration,
    )
    bodies = extend_to_next_keyframe(
        [
            {
                "id": f"body-{t['id']}",
                "start": t["start"],
                "end": t["end"],
                "boxes": len(t.get("boxes", [])),
            }
            for t in (results.get("bodies") or {}).get("tracks", [])
        ],
        grid,
        duration,
    )
    nsfw = (results.get("nsfw") or {}).get("spans", [])
    speech = (results.get("vad") or {}).get("segments", [])
    words = sum(len(s["words"]) for s in said)
    summary = {
        "face_tracks": len(faces),
        "speakers": len(speakers),
        "speech_s": round(sum(s["end"] - s["start"] for s in speech), 3),
        "transcript_segments": len(said),
        "words": words,
        "ocr_lines": len(ocr),
        "body_tracks": len(bodies),
        "nsfw_max": (results.get("nsfw") or {}).get("max_score"),
        "nsfw_spans": len(nsfw),
        "analyzers": sorted(results),
    }
    return {
        "media": media,
        "summary": summary,
        "tracks": {
            "faces": faces,
            "speakers": speakers,
            "transcript": said,
            "speech": speech,
            "ocr": ocr,
            "bodies": bodies,
            "nsfw": nsfw,
        },
        "sources": sources,
    }
