"""Every TUI test runs as over SSH: no usable keyring, so the form must say so and ask."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ui.support import failing_keyring, keyring_backend


@pytest.fixture(autouse=True)
def no_keyring() -> Iterator[None]:
    with keyring_backend(failing_keyring()):
        yield
