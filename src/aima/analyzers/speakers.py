"""Speaker diarization: who speaks when, and a voice embedding per speaker.

Resemblyzer's ``VoiceEncoder`` (GE2E LSTM, 256-d, weights ``pretrained.pt`` shipped
in the wheel; torch on the device :func:`aima.inference.sessions.torch_device`
picks) embeds sliding windows of the VAD's speech (``window_s`` every ``hop_s``,
on a media-wide grid; see :mod:`aima.analyzers._audio_turns`). Each chunk keeps
the windows that start inside it. ``finalize`` clusters every window of the media
(average linkage on cosine similarity, stopped at ``cluster_threshold``, or cut at
``num_speakers``), smooths speaker flips shorter than ``min_turn_s`` inside one
stretch of speech, and builds turns whose borders lie halfway between the centres of
the last window of one speaker and the first of the next.

Threshold, measured here on the espeak-ng test dialogue with 1.5 s windows (as this
analyzer cuts and normalises them): windows of the same voice score 0.78 on average
(lowest 0.65), windows of two clearly different voices (``en-us+m3`` vs ``en+f3``)
0.52 (highest 0.60); average linkage compares group means, and 0.65 sits between.
Whole utterances score higher (same voice 0.86-0.94, those two voices ≈0.59), and
two similar espeak male voices score 0.85-0.95 against each other: no threshold
separates those; set ``num_speakers`` when the count is known.

``confidence`` of a turn: the mean cosine similarity of its windows to their
speaker's mean embedding, clipped to [0, 1] (≈0.9 for a clean single voice, lower
for windows the smoothing reassigned). Embeddings are L2-normalised; ``model`` in
the result names the encoder.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, model_validator

from aima.analyzers._audio_common import (
    AUDIO_KINDS,
    MODEL_RATE,
    has_audio,
    package_version,
    r3,
    region_samples,
    skip_reason,
    vad_regions,
)
from aima.analyzers._audio_turns import (
    Turn,
    Window,
    centroids,
    cluster_embeddings,
    grid_windows,
    join_regions,
    l2_normalize,
    merge_turns,
    region_turns,
    smooth_labels,
)
from aima.analyzers.base import AnalysisContext, Analyzer, AnalyzerConfig, ChunkData, Modality
from aima.inference.models import ModelSpec
from aima.inference.sessions import torch_device
from aima.media.types import MediaInfo

RESEMBLYZER = ModelSpec(
    name="resemblyzer-voice-encoder",
    path="pretrained.pt",
    package="resemblyzer",
    sha256="39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
    how_to_get="pip install --no-deps Resemblyzer==0.1.4 (plus librosa, webrtcvad, torch==2.13.0)",
    description="Resemblyzer GE2E voice encoder, 256-d",
)
_MEL_FPS = 100  # Resemblyzer's mel frames per second (10 ms hop)
_TARGET_DBFS = -30.0  # Resemblyzer's volume normalisation target


class SpeakersConfig(AnalyzerConfig):
    batch_size: int = Field(default=32, ge=1, le=1024, description="windows per encoder call")
    window_s: float = Field(default=1.5, ge=0.5, le=5, description="embedding window length")
    hop_s: float = Field(default=0.75, gt=0, le=5, description="step between windows")
    min_window_s: float = Field(
        default=0.5, gt=0, description="shorter clipped windows are dropped (neighbours cover them)"
    )
    cluster_threshold: float = Field(
        default=0.65,
        gt=0,
        lt=1,
        description="mean cosine similarity below which two groups are different speakers",
    )
    num_speakers: int | None = Field(
        default=None, ge=1, le=100, description="force this many speakers (None: by threshold)"
    )
    min_turn_s: float = Field(
        default=1.0,
        ge=0,
        description="shorter speaker flips inside one speech stretch are smoothed",
    )
    merge_gap_s: float = Field(
        default=1.0, ge=0, description="one speaker's turns this close together become one turn"
    )
    torch_threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description="torch intra-op threads (process-wide); the small LSTM runs fastest on 1, "
        "and more threads stall badly on a busy CPU",
    )
    max_cluster_windows: int = Field(
        default=3000, ge=10, description="cluster a sample of this many windows on long media"
    )

    @model_validator(mode="after")
    def _windows_overlap(self) -> SpeakersConfig:
        if self.hop_s > self.window_s:
            raise ValueError("hop_s must not exceed window_s (windows must cover the speech)")
        return self


class Speakers(Analyzer):
    name = "speakers"
    version = "1.0.0"
    modality = Modality.AUDIO
    kinds = AUDIO_KINDS
    requires = ("vad",)
    sensitive = True  # voice embeddings are biometric
    Config: ClassVar[type[AnalyzerConfig]] = SpeakersConfig
    description = "speaker turns and voice embeddings (Resemblyzer)"
    model_specs = (RESEMBLYZER,)

    _encoder: Any = None
    _lock = threading.Lock()  # one encoder forward at a time (shared weights)

    @property
    def cfg(self) -> SpeakersConfig:
        assert isinstance(self.config, SpeakersConfig)
        return self.config

    @property
    def model_id(self) -> str:
        return f"resemblyzer-{package_version('Resemblyzer')}/pretrained.pt"

    def applies_to(self, info: MediaInfo) -> bool:
        return has_audio(info)

    def skip_reason(self, info: MediaInfo) -> str | None:
        return skip_reason(info)

    def load(self) -> None:
        with warnings.catch_warnings():  # deprecations inside resemblyzer / webrtcvad imports
            warnings.filterwarnings("ignore", message=".*scipy.ndimage.morphology.*")
            warnings.filterwarnings("ignore", message=".*pkg_resources is deprecated.*")
            from resemblyzer import VoiceEncoder

        import torch

        torch.set_num_threads(self.cfg.torch_threads)
        weights = self.models.path(RESEMBLYZER)
        encoder = VoiceEncoder(torch_device(), verbose=False, weights_fpath=weights)
        encoder.eval()
        self._encoder = encoder
        # librosa and torch pay ~1-2 s on their first call: pay it here, not in chunk 0
        self._embed([self._mel(np.zeros(MODEL_RATE, dtype=np.float32))])

    # --- per chunk ------------------------------------------------------------------

    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        cfg = self.cfg
        span = data.audio
        segments: list[dict[str, Any]] = []
        mels: list[NDArray[np.float32]] = []
        for region in vad_regions(data, self.name):
            windows = [
                (a, b)
                for a, b in grid_windows(
                    region.start,
                    region.end,
                    window_s=cfg.window_s,
                    hop_s=cfg.hop_s,
                    min_window_s=cfg.min_window_s,
                )
                if span.owns(a)
            ]
            if not windows:
                continue
            mel = self._mel(region_samples(span, region))
            origin = max(region.start, span.start_s)
            for a, b in windows:
                # equal-length windows give equal frame counts: they batch together
                lo = min(max(0, round((a - origin) * _MEL_FPS)), len(mel) - 1)
                mels.append(mel[lo : lo + max(1, round((b - a) * _MEL_FPS))])
            segments.append(
                {
                    "start": r3(region.start),
                    "end": r3(region.end),
                    "windows": [[r3(a), r3(b)] for a, b in windows],
                }
            )
        embeddings = self._embed(mels)
        pos = 0
        for seg in segments:
            n = len(seg["windows"])
            seg["embeddings"] = np.round(embeddings[pos : pos + n].astype(np.float64), 4).tolist()
            pos += n
        return {"segments": segments, "model": self.model_id}

    def _mel(self, audio: NDArray[np.float32]) -> NDArray[np.float32]:
        from resemblyzer.audio import wav_to_mel_spectrogram

        rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
        if rms > 1e-6:  # Resemblyzer's normalize_volume(increase_only=True), safe on silence
            gain = 10 ** ((_TARGET_DBFS - 20 * np.log10(rms)) / 20)
            if gain > 1:
                audio = (audio * gain).astype(np.float32)
        return np.asarray(wav_to_mel_spectrogram(audio), dtype=np.float32)

    def _embed(self, mels: list[NDArray[np.float32]]) -> NDArray[np.float32]:
        """One 256-d embedding per mel window, batched by equal length."""
        import torch

        out = np.zeros((len(mels), 256), dtype=np.float32)
        by_len: dict[int, list[int]] = {}
        for i, m in enumerate(mels):
            by_len.setdefault(len(m), []).append(i)
        bs = self.cfg.batch_size
        with self._lock, torch.inference_mode():
            for idx in by_len.values():
                for k in range(0, len(idx), bs):
                    part = idx[k : k + bs]
                    batch = torch.from_numpy(np.stack([mels[i] for i in part]))
                    emb = self._encoder(batch.to(self._encoder.device)).cpu().numpy()
                    out[part] = np.nan_to_num(emb)
        return out

    # --- media level -------------------------------------------------------------------

    def finalize(self, ctx: AnalysisContext, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        cfg = self.cfg
        windows: list[Window] = []
        vectors: list[list[float]] = []
        spans: list[tuple[float, float]] = []
        for chunk in chunks:
            for seg in chunk["segments"]:
                spans.append((float(seg["start"]), float(seg["end"])))
                for (a, b), e in zip(seg["windows"], seg["embeddings"], strict=True):
                    windows.append(Window(float(a), float(b)))
                    vectors.append(e)
        result: dict[str, Any] = {"speakers": [], "turns": [], "model": self.model_id}
        if not windows:
            return result
        order = sorted(range(len(windows)), key=lambda i: (windows[i].start, windows[i].end))
        windows = [windows[i] for i in order]
        x = l2_normalize(np.asarray([vectors[i] for i in order], dtype=np.float32))
        labels = cluster_embeddings(
            x,
            threshold=cfg.cluster_threshold,
            num_speakers=cfg.num_speakers,
            max_windows=cfg.max_cluster_windows,
        )
        cents = centroids(x, labels)
        affinity = x @ cents.T
        turns: list[Turn] = []
        for region in join_regions(spans):
            idx = [i for i, w in enumerate(windows) if region[0] <= w.center <= region[1]]
            if not idx:
                continue
            wins = [windows[i] for i in idx]
            smoothed = smooth_labels(
                [int(labels[i]) for i in idx],
                wins,
                region=region,
                min_turn_s=cfg.min_turn_s,
                affinity=affinity[idx],
            )
            labels[idx] = smoothed
            sims = [float(affinity[i, lab]) for i, lab in zip(idx, smoothed, strict=True)]
            turns += region_turns(smoothed, wins, region, sims)
        turns = merge_turns(turns, max_gap_s=cfg.merge_gap_s)
        return _describe(turns, labels, x, result)


def _describe(
    turns: list[Turn], labels: NDArray[np.int64], x: NDArray[np.float32], result: dict[str, Any]
) -> dict[str, Any]:
    """Speakers numbered S1, S2, ... in order of first appearance; embeddings and talk time."""
    names: dict[int, str] = {}
    for t in turns:
        names.setdefault(t.speaker, f"S{len(names) + 1}")
    for label, sid in names.items():
        members = x[labels == label]
        mean = l2_normalize(members.mean(axis=0)) if len(members) else np.zeros(x.shape[1])
        total = sum(t.end - t.start for t in turns if t.speaker == label)
        result["speakers"].append(
            {
                "id": sid,
                "embedding": np.round(mean.astype(np.float64), 4).tolist(),
                "total_s": round(total, 3),
                "windows": len(members),
            }
        )
    result["turns"] = [
        {
            "start": r3(t.start),
            "end": r3(t.end),
            "speaker": names[t.speaker],
            "confidence": round(min(1.0, max(0.0, t.confidence)), 3),
        }
        for t in turns
    ]
    return result
