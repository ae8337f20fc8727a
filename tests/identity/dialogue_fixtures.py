"""Dialogue videos the link thresholds were never tuned on.

Unlike ``tests.mediagen.library`` (centred faces, 6 s shots, voices ``en-us+m3``/``en+f3``/
``en+klatt4``): new espeak voices and sentences, faces off-centre at other sizes, shots
of unequal length, a narrator over an empty shot, and turns that start late in a shot.
Each voice's turns show one known face.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from aima.media.ffmpeg import tool_path
from tests.mediagen.scenario import _background, _face_crops
from tests.mediagen.speech import RATE, synthesize, write_wav

VOICES = {"W1": "en-gb-x-rp", "W2": "en-us+f4", "W3": "en-029+f2"}
FACE_OF = {"W1": "astronaut", "W2": "messi"}  # W3 narrates over an empty shot


@dataclass(frozen=True, slots=True)
class Shot:
    face: str  # "astronaut", "messi" or "empty"
    seconds: float
    x_frac: float  # left edge of the face, fraction of the width
    size_frac: float  # face side, fraction of the height


def _frame(shot: Shot, width: int, height: int) -> Image.Image:
    img = _background(width, height)
    if shot.face != "empty":
        side = int(height * shot.size_frac)
        face = _face_crops()[shot.face].resize((side, side), Image.Resampling.LANCZOS)
        img.paste(face, (int(width * shot.x_frac), (height - side) // 3))
    return img


def render_dialogue(
    directory: Path, name: str, shots: list[Shot], lines: list[tuple[str, str, float]]
) -> tuple[Path, dict[str, list[tuple[float, float]]]]:
    """An H.264 + AAC clip; returns it and each voice's spoken spans."""
    width, height, fps = 512, 288, 8
    concat = ["ffconcat version 1.0"]
    for i, shot in enumerate(shots):
        still = directory / f"{name}_{i}.png"
        _frame(shot, width, height).save(still)
        concat += [f"file '{still.resolve()}'", f"duration {shot.seconds}"]
    concat.append(concat[-2])
    total = sum(s.seconds for s in shots)
    audio = np.zeros(round(total * RATE), dtype=np.float32)
    spoken: dict[str, list[tuple[float, float]]] = {}
    for voice, text, start in lines:
        pcm = synthesize(text, VOICES[voice])
        pcm = (0.45 / float(np.abs(pcm).max())) * pcm
        at = round(start * RATE)
        pcm = pcm[: audio.size - at]
        audio[at : at + pcm.size] = pcm
        spoken.setdefault(voice, []).append((start, (at + pcm.size) / RATE))
    wav = write_wav(directory / f"{name}.wav", audio)
    listing = directory / f"{name}.ffconcat"
    listing.write_text("\n".join(concat) + "\n")
    out = directory / f"{name}.mp4"
    cmd = [
        tool_path("ffmpeg"), "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(wav),
        "-map", "0:v", "-map", "1:a", "-vf", f"fps={fps},format=yuv420p",
        "-c:v", "libx264", "-preset", "superfast", "-crf", "26", "-g", str(fps * 5),
        "-c:a", "aac", "-b:a", "96k", "-ac", "1", "-t", f"{total:.3f}", str(out),
    ]  # fmt: skip
    subprocess.run(cmd, capture_output=True, check=True, stdin=subprocess.DEVNULL)
    return out, spoken


def make_dialogues(directory: Path) -> dict[str, tuple[Path, dict[str, list[tuple[float, float]]]]]:
    """Two dialogues: the pairing repeats in the second, with other placement and timing."""
    directory.mkdir(parents=True, exist_ok=True)
    first = render_dialogue(
        directory,
        "dialogue_a",
        [
            Shot("messi", 4.5, 0.08, 0.55),
            Shot("astronaut", 6.5, 0.52, 0.7),
            Shot("empty", 5.0, 0.0, 0.0),
        ],
        [
            ("W2", "Where did you park the blue van this morning?", 0.9),
            ("W1", "Behind the old library, next to the river gate.", 5.3),
            ("W3", "Later that evening the rain finally stopped and the streets were quiet.", 11.4),
        ],
    )
    second = render_dialogue(
        directory,
        "dialogue_b",
        [
            Shot("astronaut", 5.5, 0.3, 0.6),
            Shot("empty", 5.0, 0.0, 0.0),
            Shot("messi", 6.0, 0.45, 0.66),
        ],
        [
            ("W1", "The train to the coast leaves at seven sharp.", 0.7),
            ("W3", "Nobody answered the letter for a month, and the house stayed dark.", 5.8),
            ("W2", "Then we should pack the tent and the stove tonight.", 10.9),
        ],
    )
    return {"dialogue_a.mp4": first, "dialogue_b.mp4": second}
