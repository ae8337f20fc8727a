"""Passwords, tokens, roles and permissions, audit trail, secrets."""
