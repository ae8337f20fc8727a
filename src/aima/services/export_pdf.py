"""A readable PDF report of one media's timeline (reportlab): facts, people, speakers, what was
said, on-screen text, objects, flags and notes."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import getSampleStyleSheet  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle  # type: ignore[import-untyped]

from aima.services.exports import people_on_screen

TRANSCRIPT_SEGMENTS = 60  # an excerpt: the JSON/VTT exports carry the whole transcript
LIST_ITEMS = 40


def _clock(t: Any) -> str:
    if t is None:
        return "–"
    s = max(0, round(float(t)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def pdf_report(timeline: dict[str, Any]) -> bytes:
    styles = getSampleStyleSheet()
    body, h2 = styles["BodyText"], styles["Heading2"]
    small = styles["BodyText"].clone("small", fontSize=9, leading=11)
    media, tracks = timeline.get("media", {}), timeline.get("tracks", {})
    story: list[Flowable] = []

    def p(text: str, style: Any = body) -> Paragraph:
        return Paragraph(escape(text), style)

    def table(header: list[str], rows: list[list[str]], widths: list[float]) -> None:
        if not rows:
            story.append(p("None found.", small))
            return
        data = [[p(h, small) for h in header]] + [[p(c, small) for c in r] for r in rows]
        t = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e7ecf3")),
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b8c4")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(t)

    story.append(p(f"AIMA report: {media.get('name') or media.get('id', '')}", styles["Title"]))
    facts = [
        ["Media id", str(media.get("id", ""))],
        ["Kind", str(media.get("kind") or "")],
        ["Duration", _clock(media.get("duration_s"))],
        ["Size", f"{media.get('width') or '?'} × {media.get('height') or '?'} px"],
    ]
    facts += [[str(k), str(v)] for k, v in sorted(timeline.get("summary", {}).items())]
    table(["Fact", "Value"], facts, [50, 120])

    notes = timeline.get("notes") or []
    if notes:
        story += [p("Notes", h2)] + [p(f"• {n}") for n in notes]

    story.append(p("People on screen", h2))
    people = people_on_screen(timeline)[:LIST_ITEMS]
    table(
        ["Person", "First seen", "On screen", "Tracks"],
        [[n, _clock(first), f"{secs:.1f} s", str(k)] for n, first, secs, k in people],
        [80, 30, 30, 30],
    )

    story.append(p("Speakers", h2))
    speakers = tracks.get("speakers", [])
    table(
        ["Speaker", "Person", "Speaking time"],
        [
            [
                str(s.get("id")),
                str(s.get("person_name") or "–"),
                f"{float(s.get('total_s', 0)):.1f} s",
            ]
            for s in speakers
        ],
        [40, 90, 40],
    )

    story.append(p("Transcript (excerpt)", h2))
    segments = tracks.get("transcript", [])
    for seg in segments[:TRANSCRIPT_SEGMENTS]:
        who = seg.get("person_name") or seg.get("speaker") or "?"
        story.append(p(f"[{_clock(seg.get('start'))}] {who}: {seg.get('text', '')}", small))
    if len(segments) > TRANSCRIPT_SEGMENTS:
        story.append(p(f"… {len(segments) - TRANSCRIPT_SEGMENTS} more segments", small))
    if not segments:
        story.append(p("None found.", small))

    story.append(p("On-screen text", h2))
    seen: dict[str, float] = {}
    for line in tracks.get("ocr", []):
        seen.setdefault(str(line.get("text", "")), float(line.get("start", 0)))
    table(
        ["Text", "First seen"],
        [[t, _clock(s)] for t, s in list(seen.items())[:LIST_ITEMS]],
        [140, 30],
    )

    story.append(p("Objects", h2))
    counts = Counter(str(o.get("label")) for o in tracks.get("objects", []))
    table(["Object", "Spans"], [[k, str(v)] for k, v in counts.most_common(LIST_ITEMS)], [140, 30])

    story.append(p("Flags", h2))
    flags = tracks.get("nsfw", [])
    table(
        ["From", "To", "Score", "Labels"],
        [
            [
                _clock(f.get("start")),
                _clock(f.get("end")),
                f"{float(f.get('score', 0)):.2f}",
                ", ".join(f.get("labels") or []),
            ]
            for f in flags[:LIST_ITEMS]
        ],
        [25, 25, 25, 95],
    )
    story.append(Spacer(1, 6 * mm))
    pending = timeline.get("pending_review") or []
    if pending:
        story.append(p(f"{len(pending)} result version(s) wait for review.", small))

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        title=f"AIMA report: {media.get('name') or media.get('id', '')}",
        author="AIMA",
        leftMargin=18 * mm,
        rightMargin=18 * mm,
    )
    doc.build(story)
    return out.getvalue()
