"""Executors without a cluster: the in-process default, what a Ray actor receives and
returns (run here, without Ray), the runner's bounded retry of a lost executor, and the GPU
inventory (the real "no GPU" path of this machine, and NVML readings turned into metrics).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aima.analyzers.base import AnalysisContext, Analyzer, Chunk, ChunkData
from aima.api.app import create_app
from aima.compute import gpus
from aima.compute.executors import EXECUTOR_ATTEMPTS, ChunkRun, ExecutorLost, build_executor
from aima.compute.inprocess import InProcessExecutor
from aima.compute.ray_executor import (
    AnalyzerActor,
    ChunkBatch,
    CollectingBlobStore,
    RayExecutor,
    ShippedChunkData,
    _rekey,
    make_batch,
    shipped_inputs,
)
from aima.core.errors import StorageError
from aima.jobs.states import JobState
from aima.media.decoder import ChunkDecoder
from aima.media.ffmpeg import ffmpeg_available
from aima.media.inspect import inspect_media
from aima.media.types import MediaInfo, MediaKind
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.store.blobs import LocalBlobStore
from tests.api.helpers import Api, TestClient
from tests.conftest import make_settings
from tests.mediagen import synth

needs_ffmpeg = pytest.mark.skipif(not ffmpeg_available(), reason="ffmpeg/ffprobe not installed")


# ------------------------------------------------------------------ choosing an executor


def test_build_executor_follows_compute_executor(tmp_path: Path) -> None:
    base = make_settings(tmp_path / "d", f"sqlite:///{tmp_path / 'a.db'}")
    assert isinstance(build_executor(base), InProcessExecutor)
    ray_settings = make_settings(
        tmp_path / "d",
        f"sqlite:///{tmp_path / 'a.db'}",
        compute={"executor": "ray", "ray_address": "127.0.0.1:1", "ray_gpus": {"faces": 0.5}},
    )
    executor = build_executor(ray_settings)
    assert isinstance(executor, RayExecutor)
    assert executor.settings.ray_gpus == {"faces": 0.5}
    executor.close()  # never connected: nothing to release, no error


def test_runtime_wires_one_executor_into_runner_and_search(sqlite_runtime: Runtime) -> None:
    rt = sqlite_runtime
    assert isinstance(rt.executor, InProcessExecutor)
    assert rt.runner.executor is rt.executor
    assert rt.search.executor is rt.executor


# ------------------------------------------------------------- what a Ray actor receives


@pytest.fixture
def video_chunk(tmp_path: Path) -> Iterator[tuple[AnalysisContext, ChunkData, LocalBlobStore]]:
    video = synth.make_video(tmp_path / "v.mp4", seconds=3, width=320, height=240, fps=10)
    settings = make_settings(tmp_path / "d", f"sqlite:///{tmp_path / 'a.db'}")
    info = inspect_media(video, settings.limits)
    blobs = LocalBlobStore(tmp_path / "blobs")
    decoder = ChunkDecoder(video, info, settings.decode)
    ctx = AnalysisContext("med_1", "job_1", video, info, blobs)
    try:
        yield ctx, ChunkData(Chunk(0, 0.0, 2.0), decoder), blobs
    finally:
        decoder.close()


def _analyzer(tmp_path: Path, name: str) -> Analyzer:
    from aima.analyzers.registry import AnalyzerRegistry

    settings = make_settings(tmp_path / "d", f"sqlite:///{tmp_path / 'a.db'}")
    return AnalyzerRegistry(settings).get(name)


@needs_ffmpeg
def test_an_actor_given_the_shipped_batch_computes_the_in_process_result(
    tmp_path: Path, video_chunk: tuple[AnalysisContext, ChunkData, LocalBlobStore]
) -> None:
    ctx, data, blobs = video_chunk
    thumbs = _analyzer(tmp_path, "thumbnails")
    here = InProcessExecutor().run_chunk(thumbs, ctx, data)
    assert isinstance(here, ChunkRun) and here.where == "inprocess" and here.compute_s >= 0

    batch = make_batch(thumbs, ctx, data)
    assert batch.frames is not None and batch.audio is None  # thumbnails of a video: frames
    shipped: ChunkBatch = pickle.loads(pickle.dumps(batch))  # what crosses the network
    assert [f.t for f in shipped.frames or []] == [f.t for f in data.frames]
    assert all(
        (a.image == b.image).all() and a.image.dtype == b.image.dtype
        for a, b in zip(shipped.frames or [], data.frames, strict=True)
    )
    actor = AnalyzerActor(type(thumbs), thumbs.config, thumbs.chunk_s, thumbs.models.models_dir)
    reply = actor.run(shipped)
    assert reply.result == here.result
    assert reply.device == "cpu" and reply.where.startswith("ray:")
    # the JPEG the actor made comes back; the worker stores it under the key the result names
    (jpeg,) = reply.blobs
    assert blobs.put_bytes(jpeg).sha256 == reply.result["blob"]


@needs_ffmpeg
def test_audio_is_shipped_as_float32_pcm_with_its_span(
    tmp_path: Path, video_chunk: tuple[AnalysisContext, ChunkData, LocalBlobStore]
) -> None:
    ctx, data, _ = video_chunk
    vad = _analyzer(tmp_path, "vad")
    batch = make_batch(vad, ctx, data)
    assert batch.frames is None and batch.audio is not None
    assert batch.audio.samples.dtype.name == "float32"
    assert batch.audio.core_start_s == 0.0 and batch.audio.core_end_s == 2.0
    remote = ShippedChunkData(pickle.loads(pickle.dumps(batch)))
    with pytest.raises(StorageError, match="keyframes were not shipped"):
        _ = remote.frames
    actor = AnalyzerActor(type(vad), vad.config, vad.chunk_s, vad.models.models_dir)
    assert actor.run(batch).result == vad.run(ctx, data)


def test_shipped_inputs_follow_modality_and_media_kind(tmp_path: Path) -> None:
    video = MediaInfo(MediaKind.VIDEO, "mp4", "video/mp4", 1, duration_s=4, audio_codec="aac")
    silent = MediaInfo(MediaKind.VIDEO, "mp4", "video/mp4", 1, duration_s=4)
    audio = MediaInfo(MediaKind.AUDIO, "wav", "audio/wav", 1, duration_s=4, audio_codec="pcm")
    image = MediaInfo(MediaKind.IMAGE, "png", "image/png", 1)
    thumbs, vad, faces = (_analyzer(tmp_path, n) for n in ("thumbnails", "vad", "faces"))
    assert shipped_inputs(thumbs, video) == (True, False)
    assert shipped_inputs(thumbs, audio) == (False, True)  # the waveform
    assert shipped_inputs(thumbs, image) == (True, False)
    assert shipped_inputs(vad, video) == (False, True)
    assert shipped_inputs(vad, silent) == (False, False)
    assert shipped_inputs(faces, video) == (True, False)
    assert shipped_inputs(faces, audio) == (False, False)


def test_the_actors_blob_store_keeps_writes_and_refuses_reads_of_the_real_store() -> None:
    store = CollectingBlobStore()
    ref = store.put_bytes(b"crop")
    assert store.get_bytes(ref.sha256) == b"crop" and store.exists(ref.sha256)
    assert not store.put_bytes(b"crop").created
    with pytest.raises(StorageError, match="not available on a Ray actor"):
        store.get_bytes("0" * 64)
    with pytest.raises(StorageError, match="inprocess"):
        store.local_path(ref.sha256)


# ------------------------------------------------------- the runner retries a lost executor


class LosingExecutor:
    """The real in-process executor, except that chunks in ``lose`` lose their "actor"
    ``times`` times first (what a dead Ray node looks like to the runner)."""

    name = "losing"

    def __init__(self, lose: set[int], times: int) -> None:
        self.inner = InProcessExecutor()
        self.lose, self.times = lose, times
        self.calls: dict[tuple[str, int], int] = {}

    def run_chunk(self, analyzer: Analyzer, ctx: AnalysisContext, data: ChunkData) -> ChunkRun:
        key = (analyzer.name, data.chunk.index)
        self.calls[key] = self.calls.get(key, 0) + 1
        if data.chunk.index in self.lose and self.calls[key] <= self.times:
            raise ExecutorLost(f"actor for {key} lost")
        return self.inner.run_chunk(analyzer, ctx, data)

    def close(self) -> None:
        return None


def _job(rt: Runtime, tmp_path: Path) -> str:
    video = synth.make_video(tmp_path / "j.mp4", seconds=6, width=160, height=120, fps=5)
    outcome = rt.ingest.ingest_file(video, cli_principal(), analyzers=["thumbnails"])
    assert outcome.job_id
    return outcome.job_id


@needs_ffmpeg
def test_a_lost_executor_is_retried_for_that_chunk_only(
    sqlite_runtime: Runtime, tmp_path: Path
) -> None:
    rt = sqlite_runtime
    losing = LosingExecutor({1}, times=EXECUTOR_ATTEMPTS - 1)
    rt.runner.executor = losing
    job_id = _job(rt, tmp_path)
    assert rt.make_worker("w").run_once()
    assert rt.ledger.get(job_id).state == JobState.SUCCEEDED
    assert losing.calls == {
        ("thumbnails", 0): 1,
        ("thumbnails", 1): EXECUTOR_ATTEMPTS,
        ("thumbnails", 2): 1,
    }
    assert all(c.attempts == 1 and c.status == "done" for c in rt.ledger.chunks(job_id))


@needs_ffmpeg
def test_an_executor_lost_for_good_hands_the_job_back_keeping_committed_chunks(
    sqlite_runtime: Runtime, tmp_path: Path
) -> None:
    rt = sqlite_runtime
    rt.runner.executor = LosingExecutor({1}, times=EXECUTOR_ATTEMPTS)
    job_id = _job(rt, tmp_path)
    assert rt.make_worker("w1").run_once()
    job = rt.ledger.get(job_id)
    assert job.state == JobState.QUEUED and "lost" in (job.error or "")  # retryable
    (first,) = [c for c in rt.ledger.chunks(job_id) if c.status == "done"]
    assert first.chunk_index == 0

    rt.runner.executor = healthy = LosingExecutor(set(), times=0)
    with rt.db.session() as s:  # skip the retry backoff
        from aima.store.models import Job

        row = s.get(Job, job_id)
        assert row is not None
        row.not_before = row.created_at
    assert rt.make_worker("w2").run_once()
    assert rt.ledger.get(job_id).state == JobState.SUCCEEDED
    assert ("thumbnails", 0) not in healthy.calls  # committed: not redone
    chunk0 = next(c for c in rt.ledger.chunks(job_id) if c.chunk_index == 0)
    assert (chunk0.attempts, chunk0.committed_token) == (1, 1)
    assert len(rt.ledger.results(job_id)) == 1


# --------------------------------------------------------------------------------- GPUs


def test_no_gpu_here_is_an_empty_inventory_not_an_error() -> None:
    import pynvml

    with pytest.raises(pynvml.NVMLError):  # this machine really has no NVIDIA driver
        pynvml.nvmlInit()
    assert gpus.gpu_inventory() == []
    assert gpus.device_class() == "cpu"
    families = {m.name: m for m in gpus.GpuCollector().collect()}
    assert [s.value for s in families["aima_gpus"].samples] == [0]
    assert all(not m.samples for name, m in families.items() if name != "aima_gpus")


class _Unsupported(Exception):
    pass


def _fake_nvml(power: bool) -> Any:
    """NVML's Python surface for one H100, as ``pynvml`` returns its readings."""

    def power_usage(_handle: object) -> int:
        if not power:
            raise _Unsupported("Not Supported")
        return 312_500  # milliwatts

    return SimpleNamespace(
        NVMLError=_Unsupported,
        NVML_TEMPERATURE_GPU=0,
        nvmlInit=lambda: None,
        nvmlShutdown=lambda: None,
        nvmlDeviceGetCount=lambda: 1,
        nvmlDeviceGetHandleByIndex=lambda i: ("h", i),
        nvmlDeviceGetName=lambda _h: b"NVIDIA H100 80GB HBM3",
        nvmlDeviceGetUUID=lambda _h: "GPU-1234",
        nvmlDeviceGetMemoryInfo=lambda _h: SimpleNamespace(
            total=80 * 2**30, used=20 * 2**30, free=60 * 2**30
        ),
        nvmlDeviceGetUtilizationRates=lambda _h: SimpleNamespace(gpu=87, memory=40),
        nvmlDeviceGetTemperature=lambda _h, _sensor: 61,
        nvmlDeviceGetPowerUsage=power_usage,
        nvmlDeviceGetEnforcedPowerLimit=lambda _h: 700_000,
    )


def test_nvml_readings_become_inventory_and_prometheus_gauges() -> None:
    nvml = _fake_nvml(power=True)
    (gpu,) = gpus.gpu_inventory(nvml)
    assert (gpu.name, gpu.memory_total_bytes, gpu.utilization_pct) == (
        "NVIDIA H100 80GB HBM3",
        80 * 2**30,
        87.0,
    )
    assert (gpu.temperature_c, gpu.power_w, gpu.power_limit_w) == (61.0, 312.5, 700.0)
    assert gpus.device_class([0], nvml) == "cuda:NVIDIA H100 80GB HBM3"
    assert gpus.device_class([], nvml) == "cpu"
    values = {
        (s.name, s.labels.get("gpu")): s.value
        for m in gpus.GpuCollector(nvml).collect()
        for s in m.samples
    }
    assert values[("aima_gpus", None)] == 1
    assert values[("aima_gpu_utilization_ratio", "0")] == pytest.approx(0.87)
    assert values[("aima_gpu_memory_used_bytes", "0")] == 20 * 2**30
    assert values[("aima_gpu_power_watts", "0")] == 312.5


def test_an_unsupported_reading_is_none_for_that_device_only() -> None:
    nvml = _fake_nvml(power=False)
    (gpu,) = gpus.gpu_inventory(nvml)
    assert gpu.power_w is None and gpu.temperature_c == 61.0
    names = {s.name for m in gpus.GpuCollector(nvml).collect() for s in m.samples}
    assert "aima_gpu_power_watts" not in names and "aima_gpu_temperature_celsius" in names


def test_metrics_and_dashboard_show_the_gpus_of_this_machine(tmp_path: Path) -> None:
    rt = build_runtime(make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'a.db'}"))
    try:
        with TestClient(create_app(rt, start_workers=False)) as client:
            api = Api(rt, client)
            assert "aima_gpus 0.0" in client.get("/metrics").text
            r = client.get("/api/v1/dashboard", headers=api.user("admin").headers)
            assert r.status_code == 200, r.text
            assert r.json()["gpus"] == []
    finally:
        rt.close()


def test_blob_references_from_an_actor_follow_the_workers_keyed_names() -> None:
    """With encryption on the worker stores an actor's blobs under keyed names; the result's
    references (at any depth) are rewritten to them, other strings are left alone."""
    plain, keyed = "a" * 64, "b" * 64
    result = {
        "thumbnail": plain,
        "frames": [{"crop": plain, "label": "person"}, {"crop": "c" * 64}],
        "note": f"not {plain}",
        "count": 2,
    }
    assert _rekey(result, plain, keyed) == {
        "thumbnail": keyed,
        "frames": [{"crop": keyed, "label": "person"}, {"crop": "c" * 64}],
        "note": f"not {plain}",
        "count": 2,
    }
