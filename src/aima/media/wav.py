"""16-bit PCM WAV files in and out (mono float32 samples in [-1, 1])."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

RATE = 16000  # the pipeline's audio rate


def read_wav_bytes(data: bytes) -> tuple[NDArray[np.float32], int]:
    """16-bit PCM WAV bytes to float32; copes with streamed (0 / 0xFFFFFFFF) chunk sizes."""
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
