"""A generated "ground truth" video: known faces, burned-in text and two voices at known times.

Used by the end-to-end tests and the pipeline benchmark. Real faces come from
scikit-image (``astronaut``) and Debian ``opencv-doc`` (``messi5.jpg``); text is
drawn with DejaVu Sans (Debian ``fonts-dejavu-core``); speech is espeak-ng. One
block lasts 24 s; ``repeat`` concatenates blocks (10 minutes = 25 blocks).

Block layout (seconds from the block start):

====== =================================== =========================================
time   picture                             sound
====== =================================== =========================================
0-5    astronaut (text "WELCOME TO AIMA"   voice A, then voice B (see ``DIALOGUE``)
       from 2 to 5)
5-8    empty background
8-14   messi
14-15  empty background
15-19  German text ``GERMAN_TEXT``
19-24  astronaut again
====== =================================== =========================================
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from aima.media.ffmpeg import tool_path
from tests.mediagen.speech import RATE, synthesize, write_wav

MESSI = Path("/usr/share/doc/opencv-doc/examples/data/messi5.jpg")
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
BLOCK_S = 24.0
ENGLISH_TEXT = "WELCOME TO AIMA"
GERMAN_TEXT = "Größe: Übermäßig schöne Straße"
VOICES = {"A": "en-us+m3", "B": "en+f3"}
# (speaker, sentence, start within the block in seconds)
DIALOGUE: tuple[tuple[str, str, float], ...] = (
    ("A", "Good morning everyone, thank you for coming today.", 0.6),
    ("B", "Thank you. I would like to talk about the new budget first.", 5.2),
    ("A", "That sounds fine. Please show us the numbers.", 10.4),
    ("B", "The costs went up by ten percent in the last quarter.", 15.0),
    ("A", "We should discuss this again next week.", 20.2),
)
# (what, start, end) within a block
PICTURES: tuple[tuple[str, float, float], ...] = (
    ("astronaut", 0.0, 5.0),
    ("empty", 5.0, 8.0),
    ("messi", 8.0, 14.0),
    ("empty", 14.0, 15.0),
    ("german", 15.0, 19.0),
    ("astronaut", 19.0, 24.0),
)


@dataclass(frozen=True, slots=True)
class Span:
    label: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Scenario:
    video: Path
    duration_s: float
    faces: tuple[Span, ...]  # label = person ("astronaut" / "messi")
    texts: tuple[Span, ...]  # label = the exact text shown
    speech: tuple[Span, ...]  # label = speaker ("A" / "B"); text in ``sentences``
    sentences: tuple[str, ...]


def _face_crops() -> dict[str, Image.Image]:
    from skimage import data  # scikit-image: a dev/test dependency

    astronaut = Image.fromarray(data.astronaut()).crop((85, 0, 355, 270))  # type: ignore[no-untyped-call]
    messi = Image.open(MESSI).convert("RGB").crop((171, 40, 315, 184))
    return {"astronaut": astronaut, "messi": messi}


def _background(width: int, height: int) -> Image.Image:
    ramp = np.linspace(60, 140, width, dtype=np.float32)
    img = np.repeat(ramp[None, :, None], height, axis=0).repeat(3, axis=2)
    return Image.fromarray(img.astype(np.uint8))


def _text(img: Image.Image, text: str, *, y_frac: float) -> None:
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(FONT), size=max(14, img.height // 14))
    w = draw.textlength(text, font=font)
    x, y = (img.width - w) / 2, img.height * y_frac
    pad = img.height // 60
    box = draw.textbbox((x, y), text, font=font)
    draw.rectangle((box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad), fill=(250, 250, 250))
    draw.text((x, y), text, font=font, fill=(10, 10, 10))


def _picture(
    kind: str, width: int, height: int, faces: dict[str, Image.Image], text: bool
) -> Image.Image:
    img = _background(width, height)
    if kind in faces:
        face = faces[kind]
        side = int(height * 0.62)
        face = face.resize((side, side), Image.Resampling.LANCZOS)
        img.paste(face, ((width - side) // 2, int(height * 0.05)))
    if kind == "german":
        _text(img, GERMAN_TEXT, y_frac=0.42)
    if text:
        _text(img, ENGLISH_TEXT, y_frac=0.78)
    return img


def _audio(repeat: int) -> tuple[NDArray[np.float32], list[Span], list[str]]:
    total = np.zeros(round(BLOCK_S * repeat * RATE), dtype=np.float32)
    spans: list[Span] = []
    sentences: list[str] = []
    voiced = {(who, text): synthesize(text, VOICES[who]) for who, text, _ in DIALOGUE}
    for block in range(repeat):
        for who, text, start in DIALOGUE:
            speech = voiced[(who, text)]
            speech = (0.5 / float(np.abs(speech).max())) * speech
            at = round((block * BLOCK_S + start) * RATE)
            total[at : at + speech.size] = speech[: total.size - at]
            spans.append(Span(who, at / RATE, (at + speech.size) / RATE))
            sentences.append(text)
    return total, spans, sentences


def _ffmpeg(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, check=False, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg could not render the scenario: {proc.stderr.decode()[-800:]}")


def make_scenario(
    directory: Path,
    *,
    width: int = 640,
    height: int = 360,
    fps: int = 10,
    repeat: int = 1,
    noise: int = 0,
    name: str = "scenario",
) -> Scenario:
    """Render ``repeat`` blocks to ``<directory>/<name>.mp4`` (H.264 + AAC) with its ground truth.

    ``noise`` (0-100) adds temporal grain so the video compresses like camera footage.
    """
    directory.mkdir(parents=True, exist_ok=True)
    faces = _face_crops()
    stills: list[tuple[Path, float]] = []
    for i, (kind, start, end) in enumerate(PICTURES):
        if kind == "astronaut" and start == 0.0:  # text appears at 2 s inside the first shot
            parts = [(False, 0.0, 2.0), (True, 2.0, end)]
        else:
            parts = [(False, start, end)]
        for j, (text, a, b) in enumerate(parts):
            path = directory / f"{name}_{i}_{j}.png"
            _picture(kind, width, height, faces, text).save(path)
            stills.append((path, b - a))
    concat = directory / f"{name}.ffconcat"
    lines = ["ffconcat version 1.0"]
    for path, seconds in stills:
        lines += [f"file '{path.resolve()}'", f"duration {seconds}"]
    lines.append(f"file '{stills[-1][0].resolve()}'")
    concat.write_text("\n".join(lines) + "\n")
    audio, speech, sentences = _audio(repeat)
    wav = write_wav(directory / f"{name}.wav", audio[: round(BLOCK_S * RATE)])
    out = directory / (f"{name}.mp4" if repeat == 1 else f"{name}_block.mp4")
    vf = f"fps={fps},format=yuv420p" + (f",noise=alls={noise}:allf=t" if noise else "")
    duration = BLOCK_S * repeat
    # one block is encoded; longer videos repeat it by stream copy (fast, same bitstream)
    cmd = [
        tool_path("ffmpeg"), "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "concat", "-safe", "0", "-i", str(concat),
        "-i", str(wav),
        "-map", "0:v", "-map", "1:a", "-vf", vf,
        "-c:v", "libx264", "-preset", "superfast", "-crf", "23", "-g", str(fps * 4),
        "-c:a", "aac", "-b:a", "96k", "-ac", "1",
        "-t", f"{BLOCK_S:.3f}", "-movflags", "+faststart", str(out),
    ]  # fmt: skip
    _ffmpeg(cmd)
    if repeat > 1:
        blocks = directory / f"{name}_blocks.ffconcat"
        block_lines = [f"file '{out.resolve()}'" for _ in range(repeat)]
        blocks.write_text("ffconcat version 1.0\n" + "\n".join(block_lines) + "\n")
        out = directory / f"{name}.mp4"
        concat_copy = [
            tool_path("ffmpeg"), "-hide_banner", "-nostdin", "-v", "error", "-y",
            "-f", "concat", "-safe", "0", "-i", str(blocks),
            "-c", "copy", "-movflags", "+faststart", str(out),
        ]  # fmt: skip
        _ffmpeg(concat_copy)
    faces_truth = [
        Span(kind, b * BLOCK_S + start, b * BLOCK_S + end)
        for b in range(repeat)
        for kind, start, end in PICTURES
        if kind in ("astronaut", "messi")
    ]
    texts = [
        span
        for b in range(repeat)
        for span in (
            Span(ENGLISH_TEXT, b * BLOCK_S + 2.0, b * BLOCK_S + 5.0),
            Span(GERMAN_TEXT, b * BLOCK_S + 15.0, b * BLOCK_S + 19.0),
        )
    ]
    return Scenario(
        out, duration, tuple(faces_truth), tuple(texts), tuple(speech), tuple(sentences)
    )
