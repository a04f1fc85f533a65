"""Extraction results cross a process boundary (the engine's workers): every value must come
back from pickle equal, field for field, with the compact state `compact_pickling` gives."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tui_recepcion.demo.samples import Attachment, SampleFactory, build_zip
from tui_recepcion.dian import model
from tui_recepcion.dian.extract import extract_message
from tui_recepcion.dian.model import CREDIT_NOTE, INVOICE, compact_pickling
from tui_recepcion.dian.reasons import Reason
from tui_recepcion.store.rows import Outcome

PROTOCOLS = range(2, pickle.HIGHEST_PROTOCOL + 1)


def _values(value: Any) -> list[Any]:
    """`value` and every dataclass inside it, so the test sees which classes it covered."""
    found = [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            found += _values(getattr(value, item.name))
    elif isinstance(value, tuple | list):
        for item in value:
            found += _values(item)
    elif isinstance(value, dict):
        for item in value.values():
            found += _values(item)
    return found


def _extractions(factory: SampleFactory, receiver_nit: str) -> list[model.Extraction]:
    credit = factory.document(CREDIT_NOTE)
    mails = [
        factory.document_email(INVOICE).raw,
        factory.document_email(CREDIT_NOTE).raw,
        # A subject that disagrees with the XML: the extraction keeps its mismatches.
        factory.email("900000001;OTRA EMPRESA;XX1;91;Otra",
                      [Attachment("n.zip", build_zip([("n.xml", factory.container(credit))]))]),
        factory.failing_email(Reason.SIN_ADJUNTOS).raw,
    ]
    return [extract_message(raw, receiver_nit=receiver_nit) for raw in mails]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_extraction_results_come_back_equal(factory: SampleFactory, receiver_nit: str, protocol: int) -> None:
    extractions = _extractions(factory, receiver_nit)
    outcomes = [  # as a worker returns them: the file bytes stay behind (`engine.prepare`)
        Outcome(f"imap:1:{index}", dataclasses.replace(extraction, files={}), "0" * 64, destination="Procesados",
                saved_files={cufe: {"xml": Path(f"/docs/{cufe[:16]}.xml")} for cufe in extraction.cufes},
                content_sha256={cufe: "a" * 64 for cufe in extraction.cufes})
        for index, extraction in enumerate(extractions)
    ]
    back = pickle.loads(pickle.dumps(outcomes, protocol=protocol))
    assert back == outcomes
    covered = {type(value) for value in _values(back)}
    # The classes a pass really sends: documents with parties, taxes, a reference, signature
    # checks, the subject's hint and its mismatch, a failure.
    for cls in (model.Document, model.Party, model.Tax, model.Reference, model.SignatureCheck,
                model.SubjectHint, model.HintMismatch, model.Failure, Outcome):
        assert cls in covered, cls


@compact_pickling
@dataclass(frozen=True, slots=True)
class _One:
    only: str


@compact_pickling
@dataclass(frozen=True, slots=True)
class _Several:
    first: int
    second: tuple[str, ...]
    third: _One | None = None


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_one_field_and_nested_values(protocol: int) -> None:
    values = [_One("x"), _Several(1, ("a", "b"), _One("y")), _Several(2, ())]
    assert pickle.loads(pickle.dumps(values, protocol=protocol)) == values


def test_a_state_of_another_shape_is_refused() -> None:
    # The state comes only from this program's own workers; one of another length means a
    # mismatch of versions, which must fail loudly rather than leave a field unset.
    value = object.__new__(_Several)
    with pytest.raises(ValueError):
        value.__setstate__((1, ("a",)))  # type: ignore[attr-defined]  # added by compact_pickling
