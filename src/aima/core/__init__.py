"""Settings, domain errors, ids, clocks, logging and progress: the bottom layer."""
