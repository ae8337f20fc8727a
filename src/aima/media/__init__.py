"""Untrusted-file handling: type sniffing, probing under limits, metadata, decoding."""
