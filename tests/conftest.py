from __future__ import annotations

import pytest

from tui_recepcion.dian.samples import DEFAULT_RECEIVER, SampleFactory


@pytest.fixture
def factory() -> SampleFactory:
    return SampleFactory(seed=1234, receiver=DEFAULT_RECEIVER, pdf_size=4_000)


@pytest.fixture
def receiver_nit() -> str:
    return DEFAULT_RECEIVER.nit
