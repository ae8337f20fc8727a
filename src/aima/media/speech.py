"""Synthetic speech with espeak-ng (Debian package): for tests, benchmarks and demos.

espeak-ng is robotic, which is fine for voice activity, speaker turns and timing, and
poor for speech-recognition accuracy (MODELS.md).
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.signal import resample_poly

RATE = 16000


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def synthesize(text: str, voice: str, *, speed: int = 160, rate: int = RATE) -> NDArray[np.float32]:
    """``text`` spoken by espeak-ng ``voice`` as mono float32 at ``rate``, silence trimmed."""
    proc = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
        capture_output=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    pcm, source_rate = read_wav_bytes(proc.stdout)
    ratio = Fraction(rate, source_rate)
    audio = resample_poly(pcm, ratio.numerator, ratio.denominator).astype(np.float32)
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    if loud.size == 0:
        raise RuntimeError(f"espeak-ng produced silence for {text!r} ({voice})")
    trimmed: NDArray[np.float32] = audio[loud[0] : loud[-1] + 1]
    return trimmed


def read_wav_bytes(data: bytes) -> tuple[NDArray[np.float32], int]:
    """16-bit PCM WAV bytes to float32; copes with espeak-ng's unknown (0xFFFFFFFF) sizes."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RuntimeError("not a WAV stream")
    pos, rate, pcm = 12, 0, b""
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = pos + 8
        if kind == b"fmt ":
            rate = int.from_bytes(data[body + 4 : body + 8], "little")
        elif kind == b"data":
            pcm = data[body:] if size in (0, 0xFFFFFFFF) else data[body : body + size]
            break
        pos = body + size + (size & 1)
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    return samples, rate


def write_wav(path: Path, samples: NDArray[np.float32], rate: int = RATE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes(pcm.tobytes())
    return path
