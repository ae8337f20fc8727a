"""Running jobs: plan chunks per analyzer, execute, checkpoint, finish; the worker loop."""
