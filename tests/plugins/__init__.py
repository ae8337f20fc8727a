"""Analyzer plug-ins used only by the tests (loaded through ``AIMA_PLUGINS``)."""
