"""A small generated library with known people: faces, voices, and who speaks when on screen.

For the identity tests and benchmarks. Two real faces (``astronaut`` from
scikit-image, ``messi5`` from Debian ``opencv-doc``) in photos with augmented
variants (flip, crop, lighting, scale) and in short videos; three espeak-ng voices.
Voice ``V1`` always speaks while the astronaut is on screen and ``V2`` while Messi is,
in different orders and media, so active-speaker co-occurrence can link them; ``V3``
is a narrator never seen (a voice-only person).

=============  ==========================================  ==============================
file           picture                                     sound
=============  ==========================================  ==============================
clip1.mp4      astronaut 0-6 s, messi 6-12 s               V1 0.5-5, V2 6.5-11
clip2.mp4      messi 0-6 s, astronaut 6-12 s               V2 0.5-5, V1 6.5-11
clip3.mp4      astronaut 0-6 s, empty 6-12 s               V1 0.5-5, V3 6.5-11
talk.wav       (audio only)                                V3, then V2
photos         astronaut: flipped, darker, cropped;
               messi: flipped, brighter, scaled; both side by side
=============  ==========================================  ==============================
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from aima.media.ffmpeg import tool_path
from tests.mediagen.scenario import _background, _face_crops
from tests.mediagen.speech import RATE, synthesize, write_wav

VOICES = {"V1": "en-us+m3", "V2": "en+f3", "V3": "en+klatt4"}
FACE_OF_VOICE = {"V1": "astronaut", "V2": "messi"}
SENTENCES = (
    "Good morning everyone, thank you for coming today.",
    "The costs went up by ten percent in the last quarter.",
    "Please show us the numbers from the northern office.",
    "We should discuss this again at the meeting next week.",
    "I have read the report and I agree with most of it.",
    "Our team finished the work two days ahead of plan.",
)


@dataclass(frozen=True, slots=True)
class Appearance:
    label: str  # person ("astronaut", "messi") or voice ("V1", "V2", "V3")
    start: float
    end: float


@dataclass(slots=True)
class Library:
    directory: Path
    files: dict[str, Path] = field(default_factory=dict)
    faces: dict[str, list[Appearance]] = field(default_factory=dict)  # file -> faces shown
    voices: dict[str, list[Appearance]] = field(default_factory=dict)  # file -> who speaks
    photos: dict[str, list[str]] = field(default_factory=dict)  # photo -> people, left to right


def _face_picture(kind: str, width: int, height: int) -> Image.Image:
    img = _background(width, height)
    if kind != "empty":
        face = _face_crops()[kind]
        side = int(height * 0.62)
        img.paste(
            face.resize((side, side), Image.Resampling.LANCZOS),
            ((width - side) // 2, int(height * 0.12)),
        )
    return img


def _speech(
    lines: list[tuple[str, str, float]], seconds: float
) -> tuple[np.ndarray, list[Appearance]]:
    audio = np.zeros(round(seconds * RATE), dtype=np.float32)
    spans = []
    for voice, text, start in lines:
        pcm = synthesize(text, VOICES[voice])
        pcm = (0.5 / float(np.abs(pcm).max())) * pcm
        at = round(start * RATE)
        pcm = pcm[: audio.size - at]
        audio[at : at + pcm.size] = pcm
        spans.append(Appearance(voice, start, (at + pcm.size) / RATE))
    return audio, spans


def render_clip(
    directory: Path,
    name: str,
    shots: list[tuple[str, float]],
    lines: list[tuple[str, str, float]],
    *,
    width: int = 480,
    height: int = 270,
    fps: int = 10,
) -> tuple[Path, list[Appearance], list[Appearance]]:
    """``shots``: (picture, seconds); ``lines``: (voice, sentence, start). H.264 + AAC."""
    stills = []
    t = 0.0
    faces = []
    for i, (kind, seconds) in enumerate(shots):
        path = directory / f"{name}_{i}.png"
        _face_picture(kind, width, height).save(path)
        stills.append((path, seconds))
        if kind != "empty":
            faces.append(Appearance(kind, t, t + seconds))
        t += seconds
    concat = directory / f"{name}.ffconcat"
    text = ["ffconcat version 1.0"]
    for path, seconds in stills:
        text += [f"file '{path.resolve()}'", f"duration {seconds}"]
    text.append(f"file '{stills[-1][0].resolve()}'")
    concat.write_text("\n".join(text) + "\n")
    audio, voices = _speech(lines, t)
    wav = write_wav(directory / f"{name}.wav", audio)
    out = directory / f"{name}.mp4"
    cmd = [
        tool_path("ffmpeg"), "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "concat", "-safe", "0", "-i", str(concat), "-i", str(wav),
        "-map", "0:v", "-map", "1:a", "-vf", f"fps={fps},format=yuv420p",
        "-c:v", "libx264", "-preset", "superfast", "-crf", "23", "-g", str(fps * 4),
        "-c:a", "aac", "-b:a", "96k", "-ac", "1", "-t", f"{t:.3f}", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, check=False, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg could not render {name}: {proc.stderr.decode()[-600:]}")
    return out, faces, voices


def _photos(directory: Path, lib: Library) -> None:
    crops = _face_crops()
    variants: dict[str, tuple[str, Callable[[Image.Image], Image.Image]]] = {
        "astronaut_flipped.jpg": ("astronaut", lambda im: ImageOps.mirror(im)),
        "astronaut_darker.jpg": ("astronaut", lambda im: ImageEnhance.Brightness(im).enhance(0.6)),
        "astronaut_cropped.jpg": (
            "astronaut",
            lambda im: im.crop((20, 10, im.width - 10, im.height - 20)),
        ),
        "messi_flipped.jpg": ("messi", lambda im: ImageOps.mirror(im)),
        "messi_brighter.jpg": ("messi", lambda im: ImageEnhance.Brightness(im).enhance(1.35)),
        "messi_scaled.jpg": (
            "messi",
            lambda im: im.resize((im.width * 2, im.height * 2), Image.Resampling.BICUBIC),
        ),
    }
    for name, (who, change) in variants.items():
        face = crops[who].resize((240, 240), Image.Resampling.LANCZOS)
        canvas = _background(400, 320)
        canvas.paste(face, (80, 40))
        path = directory / name
        change(canvas).save(path, quality=92)
        lib.files[name] = path
        lib.photos[name] = [who]
    both = _background(640, 320)
    both.paste(crops["astronaut"].resize((240, 240)), (40, 40))
    both.paste(crops["messi"].resize((240, 240)), (360, 40))
    path = directory / "both.jpg"
    both.save(path, quality=92)
    lib.files["both.jpg"], lib.photos["both.jpg"] = path, ["astronaut", "messi"]


def make_library(directory: Path, *, photos: bool = True) -> Library:
    """Render the library described in the module docstring (about 10 s of work)."""
    directory.mkdir(parents=True, exist_ok=True)
    lib = Library(directory)
    s = SENTENCES
    clips = {
        "clip1.mp4": ([("astronaut", 6.0), ("messi", 6.0)], [("V1", s[0], 0.5), ("V2", s[1], 6.5)]),
        "clip2.mp4": ([("messi", 6.0), ("astronaut", 6.0)], [("V2", s[2], 0.5), ("V1", s[3], 6.5)]),
        "clip3.mp4": ([("astronaut", 6.0), ("empty", 6.0)], [("V1", s[4], 0.5), ("V3", s[5], 6.5)]),
    }
    for name, (shots, lines) in clips.items():
        path, faces, voices = render_clip(directory, name.removesuffix(".mp4"), shots, lines)
        lib.files[name], lib.faces[name], lib.voices[name] = path, faces, voices
    audio, voices = _speech([("V3", s[1], 0.3), ("V2", s[4], 5.5)], 10.0)
    lib.files["talk.wav"] = write_wav(directory / "talk.wav", audio)
    lib.voices["talk.wav"], lib.faces["talk.wav"] = voices, []
    if photos:
        _photos(directory, lib)
    return lib


def unseen_photo(directory: Path, who: str) -> Path:
    """A photo of a known face not in the library: different framing and a slight rotation."""
    face = _face_crops()[who].rotate(6, resample=Image.Resampling.BICUBIC, expand=False)
    canvas = _background(360, 300)
    canvas.paste(face.resize((200, 200), Image.Resampling.LANCZOS), (90, 50))
    path = directory / f"unseen_{who}.jpg"
    canvas.save(path, quality=88)
    return path


def voice_clip(
    directory: Path,
    voice: str,
    sentence: str = "Thank you, I will send the figures tomorrow morning.",
) -> Path:
    """A short clip of one library voice saying something it never said in the library."""
    audio, _ = _speech([(voice, sentence, 0.3)], 5.0)
    return write_wav(directory / f"clip_{voice}.wav", audio)
