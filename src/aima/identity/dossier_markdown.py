"""A dossier as Markdown: summary, one section per kind, cited bullets, sources."""

from __future__ import annotations

from typing import Any

from aima.identity.dossier_parts import time_range, timestamp
from aima.identity.names import short_label

_TITLES = {
    "appearances": "Appearances",
    "representative_faces": "Representative faces",
    "voice_samples": "Voice samples",
    "emotions": "Emotions",
    "said": "What they said",
    "text_seen": "On-screen text near them",
    "flags": "Flags",
    "appears_with": "Appears with",
    "speaks_with": "Speaks with",
    "voice_links": "Face and voice links",
}


def _md(text: str) -> str:
    """Escape what would turn media names and quoted text into Markdown markup.

    ``_`` is left alone: ids such as ``per_0192...`` are intraword, which CommonMark
    never reads as emphasis, and escaping them would garble copy-pasted ids.
    """
    for ch in "\\`*[]<>|":
        text = text.replace(ch, "\\" + ch)
    return text


def _render_citation(fact_id: str, c: dict[str, Any]) -> str:
    conf = "n/a" if c["confidence"] is None else f"{c['confidence']:.2f}"
    when = time_range(c["start"], c["end"])
    return f"[{fact_id}: {_md(c['media_name'])} {when} · {c['analyzer']} · {conf}]"


def dossier_markdown(doc: dict[str, Any], *, max_citations: int = 3) -> str:
    """A readable report of a dossier: summary, one section per kind, cited bullets, sources."""
    person = doc["person"]
    title = person["name"] or short_label(person["id"])
    facts = {f["id"]: f for f in doc["facts"]}
    s = doc["summary"]
    lines = [f"# {_md(title)}", "", f"Person `{person['id']}` · generated {doc['generated_at']}"]
    if person["merged_ids"]:
        lines.append(f"Merged from: {', '.join(f'`{i}`' for i in person['merged_ids'])}")
    lines += ["", "## Summary", "", f"- Media: {s['media_count']}"]
    for key, label in (("first_seen", "First seen"), ("last_seen", "Last seen")):
        if s[key]:
            lines.append(f"- {label}: {_md(s[key]['media_name'])} at {timestamp(s[key]['t'])}")
    lines += [
        f"- On screen: {s['on_screen_s']:g} s; speaking: {s['speaking_s']:g} s",
        f"- Observations: {s['face_observations']} face, {s['voice_observations']} voice",
    ]
    narrative = doc.get("narrative")
    if narrative:  # the cited summary, labelled with what wrote it (model or extractive)
        lines += ["", "## Written summary", "", f"_{_md(narrative['label'])}_", ""]
        lines.append(_md(narrative["text"]) if narrative["text"] else "_Nothing to summarise._")
    for section, ids in doc["sections"].items():
        lines += ["", f"## {_TITLES.get(section, section)}", ""]
        if not ids:
            lines.append("_Nothing found._")
        for fid in ids:
            fact = facts[fid]
            cites = [_render_citation(fid, c) for c in fact["citations"][:max_citations]]
            more = len(fact["citations"]) - max_citations
            if more > 0:
                cites.append(f"(+{more} more)")
            extra = f" Crop `{fact['data']['crop']}`." if fact["kind"] == "face_crop" else ""
            lines.append(f"- {_md(fact['statement'])}{extra} {' '.join(cites)}")
    if doc.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {_md(n)}" for n in doc["notes"]]
    lines += ["", "## Sources", ""]
    for src in doc.get("sources", []):
        used = ", ".join(f"{r['analyzer']} `{r['result_id']}`" for r in src["results"])
        lines.append(
            f"- `{src['media_id']}` {_md(src['media_name'])}" + (f": {used}" if used else "")
        )
    return "\n".join(lines) + "\n"
