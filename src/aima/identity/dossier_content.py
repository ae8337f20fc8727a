"""Dossier sections on what surrounds them: what they said, text on screen near them,
explicit-content flags and confirmed restraints while they are on screen."""

from __future__ import annotations

from sqlalchemy import select

from aima.identity.dossier_parts import (
    OCR_WINDOW_S,
    Span,
    _intersect,
    _r,
    _segment_data,
    _spans,
    _speaker_id,
    _text,
    time_range,
    timestamp,
)
from aima.identity.dossier_rows import DossierRows
from aima.results import (
    NsfwResult,
)
from aima.store.models import (
    Observation,
    ReviewItem,
    TextSegment,
)

RESTRAINT_NEAR_S = 2.0  # a confirmed restraint this close to their presence is theirs to cite


def said(dossier: DossierRows) -> None:
    """Transcript segments attributed to one of this person's speakers in that media."""
    rows: list[tuple[TextSegment, Observation]] = []
    for m in dossier.media:
        by_sid = {_speaker_id(o): o for o in dossier.mine(m.id, "voice")}
        rows += [
            (seg, by_sid[seg.speaker])
            for seg in dossier.segments[m.id]
            if seg.source == "transcript" and seg.speaker is not None and seg.speaker in by_sid
        ]
    if len(rows) > dossier.limits.said:
        dossier.notes.append(f"Showing {dossier.limits.said} of {len(rows)} transcript segments.")
    for seg, o in rows[: dossier.limits.said]:
        whole = (seg.start, seg.end)
        turn = max(_intersect([whole], _spans(o)) or [whole], key=lambda sp: sp[1] - sp[0])
        dossier.add(
            "said",
            "said",
            f"Said in {dossier.name(seg.media_id)} at {timestamp(seg.start)}: “{_text(seg)}”",
            _segment_data(seg),
            [dossier.cite_segment(seg, "transcribe"), dossier.cite_turn(o, turn)],
        )


def text_seen(dossier: DossierRows) -> None:
    """OCR lines on screen within ``OCR_WINDOW_S`` of one of this person's face spans."""
    rows: list[tuple[TextSegment, Observation, Span]] = []
    for m in dossier.media:
        faces = dossier.mine(m.id, "face")
        for seg in dossier.segments[m.id]:
            near = (seg.start - OCR_WINDOW_S, seg.end + OCR_WINDOW_S)
            hit = next(((o, sp) for o in faces for sp in _intersect([near], _spans(o))), None)
            if seg.source == "ocr" and hit is not None:
                rows.append((seg, *hit))
    if len(rows) > dossier.limits.text_seen:
        dossier.notes.append(f"Showing {dossier.limits.text_seen} of {len(rows)} OCR lines.")
    for seg, o, sp in rows[: dossier.limits.text_seen]:
        dossier.add(
            "text_seen",
            "text_seen",
            f"On-screen text near them in {dossier.name(seg.media_id)} at "
            f"{timestamp(seg.start)}: “{_text(seg)}”",
            _segment_data(seg),
            [dossier.cite_segment(seg, "ocr"), dossier.cite_obs(o, sp)],
        )


def flags(dossier: DossierRows) -> None:
    missing: list[str] = []
    for m in dossier.media:
        faces = dossier.mine(m.id, "face")
        if not faces:
            continue
        row = dossier.results[m.id].get("nsfw")
        nsfw = dossier.typed(row, NsfwResult) if row is not None else None
        if row is None or nsfw is None:
            missing.append(m.original_name)
            continue
        for span in nsfw.spans:
            a, b = span.start, span.end
            hit = next(((o, sp) for o in faces for sp in _intersect([(a, b)], _spans(o))), None)
            if hit is None:
                continue
            labels = list(span.labels)
            score = span.score
            what = f" ({', '.join(labels)})" if labels else ""
            dossier.add(
                "flags",
                "nsfw_flag",
                f"Explicit content flagged{what} in {m.original_name} {time_range(a, b)} "
                f"while they are on screen (score {score:.2f}).",
                {
                    "media_id": m.id,
                    "start": _r(a),
                    "end": _r(b),
                    "score": score,
                    "labels": labels,
                },
                [dossier.cite(m.id, a, b, "nsfw", row.id, score), dossier.cite_obs(hit[0], hit[1])],
            )
    if missing:
        dossier.notes.append(f"Explicit content not analysed for: {', '.join(missing)}.")


def restraints(dossier: DossierRows) -> None:
    """Restraints an analyst **confirmed** (review queue) in media where this person is
    on screen within ``RESTRAINT_NEAR_S`` of the flagged keyframe. Unreviewed and
    dismissed flags never appear here."""
    media_ids = [m.id for m in dossier.media]
    items = dossier.s.execute(
        select(ReviewItem)
        .where(
            ReviewItem.media_id.in_(media_ids),
            ReviewItem.kind == "restraint",
            ReviewItem.state == "confirmed",
        )
        .order_by(ReviewItem.t, ReviewItem.id)
    ).scalars()
    for item in sorted(items, key=lambda i: (dossier.order[i.media_id], i.t, i.id)):
        near = [(item.t - RESTRAINT_NEAR_S, item.t + RESTRAINT_NEAR_S)]
        hit = next(
            ((o, sp) for o in dossier.mine(item.media_id) for sp in _intersect(near, _spans(o))),
            None,
        )
        if hit is None:
            continue
        m = dossier.media_by_id[item.media_id]
        dossier.add(
            "flags",
            "restraint",
            f"Restraint ({item.label}) confirmed by review in {m.original_name} at "
            f"{timestamp(item.t)} while they are on screen.",
            {
                "media_id": m.id,
                "t": _r(item.t),
                "label": item.label,
                "review_item_id": item.id,
                "decided_by": item.decided_by,
                "note": item.note,
                "evidence": item.evidence,
                "box": item.box,
            },
            [
                dossier.cite(m.id, item.t, item.t, "scenes", item.result_id, item.confidence),
                dossier.cite_obs(hit[0], hit[1]),
            ],
        )
    dossier.notes.append(
        "Restraints are listed only once an analyst confirmed them in the review queue; "
        "unreviewed flags and media without the scenes analyzer are not negative findings."
    )
