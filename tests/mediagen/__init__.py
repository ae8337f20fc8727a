"""Test-media generators (ffmpeg, espeak-ng, Pillow): for tests and benchmarks, not shipped."""
