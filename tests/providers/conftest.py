"""Fixtures for the provider tests; they live in provider_support (importable by tests)."""

from provider_support import fabricate_plugin, mail_listener, pki, resolver  # noqa: F401
