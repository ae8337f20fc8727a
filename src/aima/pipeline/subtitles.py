"""Transcript exports with speaker labels: WebVTT and SubRip (SRT).

The label is the speaker's person as the timeline service resolved it
(``person_name``: the current name, or a stable "Unknown person ..." label), falling
back to the analyzer's per-media speaker id when the speaker has no person (identity
off, or the voice not yet synced). WebVTT cue text and voice names are escaped
(``&``, ``<``, ``>``) so a name or a transcript cannot inject cue markup.
"""

from __future__ import annotations

from typing import Any


def _stamp(t: float, sep: str) -> str:
    ms = max(0, round(t * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cues(segments: list[dict[str, Any]]) -> list[tuple[float, float, str, str | None]]:
    cues = []
    for seg in segments:
        text = " ".join(str(seg.get("text", "")).split())
        if text and seg["end"] > seg["start"]:
            who = seg.get("person_name") or seg.get("speaker")
            cues.append((seg["start"], seg["end"], text, str(who) if who else None))
    return cues


def to_webvtt(segments: list[dict[str, Any]]) -> str:
    lines = ["WEBVTT", ""]
    for i, (start, end, text, speaker) in enumerate(_cues(segments), 1):
        lines.append(str(i))
        lines.append(f"{_stamp(start, '.')} --> {_stamp(end, '.')}")
        body = _vtt_escape(text)
        lines.append(f"<v {_vtt_escape(speaker)}>{body}" if speaker else body)
        lines.append("")
    return "\n".join(lines)


def to_srt(segments: list[dict[str, Any]]) -> str:
    lines = []
    for i, (start, end, text, speaker) in enumerate(_cues(segments), 1):
        lines.append(str(i))
        lines.append(f"{_stamp(start, ',')} --> {_stamp(end, ',')}")
        lines.append(f"[{speaker}] {text}" if speaker else text)
        lines.append("")
    return "\n".join(lines)
