"""Shared fixtures for the whole suite."""

from __future__ import annotations

# Real mail servers on loopback (Dovecot, aiosmtpd) and clean mailboxes: see the module.
pytest_plugins = ("tests.servers.fixtures",)
