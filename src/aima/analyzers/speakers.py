"""Speaker diarization: who speaks when, and a voice embedding per speaker.

Resemblyzer's ``VoiceEncoder`` (GE2E LSTM, 256-d, weights ``pretrained.pt`` shipped
in the wheel; torch on the device :func:`aima.inference.sessions.torch_device`
picks) embeds sliding windows of the VAD's speech (``window_s`` every ``hop_s``,
on a media-wide grid; see :mod:`aima.analyzers._audio_turns`), and each window also
gets its median pitch (autocorrelation F0, in octaves). Each chunk keeps the windows
that start inside it. ``finalize`` clusters every window of the media, smooths
speaker flips shorter than ``min_turn_s`` inside one stretch of speech, and builds
turns whose borders lie halfway between the centres of the last window of one speaker
and the first of the next.

Why pitch: on dialogues nobody had tuned on, two voices that differ mostly in pitch
(one espeak voice at ``-p 35`` and ``-p 70``) were merged, because Resemblyzer scores
their 1 s windows 0.70-0.74 against each other while a voice scores 0.80-0.85 against
itself (calibration set, ``tests/analyzers/dialogue_gen.py``): no embedding threshold
separates those windows. Their pitch is 0.4 octave apart with 0.05-0.1 octave jitter.
The default ``method="voice-pitch"`` (:func:`~aima.analyzers._audio_turns.cluster_voices`)
uses ``1 - cosine + pitch_weight * octaves apart``, average linkage stopped at
``distance_threshold``, clusters under ``min_cluster_windows`` windows folded into
their closest speaker (stray windows at changes and in overlapping speech were being
counted as speakers), then ``refine_iters`` closest-speaker passes. Shorter windows
(1.0 s every 0.25 s, was 1.5 s every 0.75 s) follow the 0.8-2 s turns of a real
conversation; overlapping speech goes to whichever voice the window resembles, which on
the calibration set is mostly the louder (dominant) one.

Calibration (4 dialogues, 3-4 voices, 22-31 s each, only these were tuned on; grid of
threshold 0.34-0.42 x pitch weight 0.5/0.75 x minimum cluster 6/10/14 windows x
minimum turn 0.5/0.8 s): ``distance_threshold=0.42, pitch_weight=0.75,
min_cluster_windows=6, min_turn_s=0.5`` scored the best mean share of speech time
given to the right speaker, 0.80 (0.64/0.96/0.69/0.92; the 1.0 algorithm: 0.61). On the
held-out TEST set (other seeds, sentences, and voices calibration never heard) the
result is 0.83-0.89 (1.0 algorithm: 0.54-0.66); ``benchmarks/speakers_bench.py``
prints both. ``method="embedding"`` runs the 1.0 algorithm (cosine average linkage
stopped at ``cluster_threshold`` 0.65, measured on the two-voice fixture); set
``window_s=1.5, hop_s=0.75, min_turn_s=1.0`` to reproduce 1.0 exactly. Chunks written
by 1.0 carry no pitch: their windows are clustered on the embedding alone.

``confidence`` of a turn: the mean cosine similarity of its windows to their
speaker's mean embedding, clipped to [0, 1] (≈0.9 for a clean single voice, lower
for windows the smoothing reassigned). Embeddings are L2-normalised; ``model`` in
the result names the encoder.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any, ClassVar, Literal

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
    cluster_voices,
    frame_f0,
    grid_windows,
    join_regions,
    l2_normalize,
    merge_turns,
    region_turns,
    smooth_labels,
    window_pitch,
)
from aima.analyzers.base import AnalysisContext, Analyzer, AnalyzerConfig, ChunkData, Modality
from aima.inference.models import ModelSpec
from aima.inference.sessions import torch_device
from aima.media.types import MediaInfo
from aima.results import AnalyzerResult, SpeakersResult

RESEMBLYZER = ModelSpec(
    name="resemblyzer-voice-encoder",
    path="pretrained.pt",
    package="resemblyzer",
    sha256="39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
    how_to_get="pip install --no-deps Resemblyzer==0.1.4 (plus librosa, webrtcvad, torch==2.13.0)",
    description="Resemblyzer GE2E voice encoder, 256-d",
    version="Resemblyzer 0.1.4 pretrained.pt",
    licence="Apache-2.0",
)
_MEL_FPS = 100  # Resemblyzer's mel frames per second (10 ms hop)
_TARGET_DBFS = -30.0  # Resemblyzer's volume normalisation target


class SpeakersConfig(AnalyzerConfig):
    method: Literal["voice-pitch", "embedding"] = Field(
        default="voice-pitch",
        description="voice-pitch: embedding + pitch clustering (default); embedding: the "
        "1.0 algorithm (embedding-only, similarity threshold), kept for comparison",
    )
    batch_size: int = Field(default=32, ge=1, le=1024, description="windows per encoder call")
    window_s: float = Field(default=1.0, ge=0.5, le=5, description="embedding window length")
    hop_s: float = Field(default=0.25, gt=0, le=5, description="step between windows")
    min_window_s: float = Field(
        default=0.5, gt=0, description="shorter clipped windows are dropped (neighbours cover them)"
    )
    distance_threshold: float = Field(
        default=0.42,
        gt=0,
        description="voice-pitch: mean window distance above which two groups are different "
        "speakers (distance = 1 - cosine + pitch_weight * octaves apart)",
    )
    pitch_weight: float = Field(
        default=0.75, ge=0, description="voice-pitch: distance added per octave of pitch apart"
    )
    min_cluster_windows: int = Field(
        default=6, ge=1, description="voice-pitch: smaller clusters join their closest speaker"
    )
    refine_iters: int = Field(
        default=2, ge=0, le=20, description="voice-pitch: closest-speaker reassignment passes"
    )
    cluster_threshold: float = Field(
        default=0.65,
        gt=0,
        lt=1,
        description="embedding: mean cosine similarity below which two groups are different "
        "speakers",
    )
    num_speakers: int | None = Field(
        default=None, ge=1, le=100, description="force this many speakers (None: by threshold)"
    )
    min_turn_s: float = Field(
        default=0.5,
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
    Result: ClassVar[type[AnalyzerResult]] = SpeakersResult
    version = "1.1.0"
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
            samples = region_samples(span, region)
            mel = self._mel(samples)
            origin = max(region.start, span.start_s)
            pitch = window_pitch(frame_f0(samples), origin, windows)
            for a, b in windows:
                # equal-length windows give equal frame counts: they batch together
                lo = min(max(0, round((a - origin) * _MEL_FPS)), len(mel) - 1)
                mels.append(mel[lo : lo + max(1, round((b - a) * _MEL_FPS))])
            segments.append(
                {
                    "start": r3(region.start),
                    "end": r3(region.end),
                    "windows": [[r3(a), r3(b)] for a, b in windows],
                    "pitch": pitch,
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
        pitches: list[float | None] = []
        spans: list[tuple[float, float]] = []
        for chunk in chunks:
            for seg in chunk["segments"]:
                spans.append((float(seg["start"]), float(seg["end"])))
                pitch = seg.get("pitch") or [None] * len(seg["windows"])  # 1.0 chunks: none
                for (a, b), e, f in zip(seg["windows"], seg["embeddings"], pitch, strict=True):
                    windows.append(Window(float(a), float(b)))
                    vectors.append(e)
                    pitches.append(f)
        result: dict[str, Any] = {"speakers": [], "turns": [], "model": self.model_id}
        if not windows:
            return result
        order = sorted(range(len(windows)), key=lambda i: (windows[i].start, windows[i].end))
        windows = [windows[i] for i in order]
        x = l2_normalize(np.asarray([vectors[i] for i in order], dtype=np.float32))
        if cfg.method == "embedding":
            labels = cluster_embeddings(
                x,
                threshold=cfg.cluster_threshold,
                num_speakers=cfg.num_speakers,
                max_windows=cfg.max_cluster_windows,
            )
        else:
            labels = cluster_voices(
                x,
                [pitches[i] for i in order],
                threshold=cfg.distance_threshold,
                pitch_weight=cfg.pitch_weight,
                min_windows=cfg.min_cluster_windows,
                refine_iters=cfg.refine_iters,
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
