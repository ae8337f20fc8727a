"""Synthetic speech with espeak-ng (Debian package): for tests, benchmarks and demos.

espeak-ng is robotic, which is fine for voice activity, speaker turns and timing, and
poor for speech-recognition accuracy (MODELS.md).
"""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray
from scipy.signal import resample_poly

from aima.media.wav import RATE, read_wav_bytes, write_wav

__all__ = ["RATE", "espeak_available", "read_wav_bytes", "synthesize", "write_wav"]


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
