"""Whatever the input, extraction ends in documents or a reason, and never raises."""

from __future__ import annotations

import io
import warnings
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_recepcion.demo.samples import Attachment, SampleFactory
from tui_recepcion.dian.extract import extract_file, extract_message
from tui_recepcion.dian.model import Extraction
from tui_recepcion.dian.reasons import REASONS
from tui_recepcion.dian.subject import parse_subject

FACTORY = SampleFactory(seed=5, pdf_size=500)
GOOD_XML = FACTORY.container(FACTORY.document())

settings.register_profile("extraction", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("extraction")


def assert_outcome(result: Extraction) -> None:
    assert isinstance(result, Extraction)
    if result.failure is None:
        assert result.documents
    else:
        assert not result.documents
        assert result.failure.code in REASONS
        assert result.failure.detail


def _zip(entries: list[tuple[str, bytes, bool]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are part of the point
        for name, data, deflate in entries:
            archive.writestr(zipfile.ZipInfo(name), data,
                             compress_type=zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED)
    return buffer.getvalue()


# Entry contents: noise, XML-ish fragments, a real container (whole or cut), and zips.
_contents = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"<", b"<?xml version='1.0'?>", b"%PDF-1.4", b"PK\x03\x04", b"<Invoice/>", GOOD_XML]),
    st.integers(min_value=0, max_value=len(GOOD_XML)).map(lambda cut: GOOD_XML[:cut]),
)
_entries = st.lists(st.tuples(st.text(max_size=30).filter(bool), _contents, st.booleans()), max_size=5)
_zips = st.recursive(_entries.map(_zip), lambda inner: st.lists(
    st.tuples(st.text(min_size=1, max_size=10), inner, st.booleans()), max_size=3).map(_zip), max_leaves=6)


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_as_message(raw: bytes) -> None:
    assert_outcome(extract_message(raw))


@given(st.text(max_size=40), st.binary(max_size=2000))
def test_arbitrary_bytes_as_file(name: str, data: bytes) -> None:
    assert_outcome(extract_file(name, data))


@given(_zips)
def test_arbitrary_zips_as_file(archive: bytes) -> None:
    assert_outcome(extract_file("adjunto.zip", archive))


@given(_zips, st.sampled_from(["application/zip", "application/octet-stream", "text/xml"]))
def test_arbitrary_zips_attached_to_mail(archive: bytes, content_type: str) -> None:
    raw = FACTORY.email("900482117;X;1;01;X", [Attachment("a.zip", archive, content_type)])
    assert_outcome(extract_message(raw))


@given(st.binary(min_size=1, max_size=400), st.integers(min_value=0))
def test_mutated_zip_of_a_good_document(noise: bytes, position: int) -> None:
    archive = bytearray(_zip([("f.xml", GOOD_XML, True)]))
    start = position % len(archive)
    archive[start:start + len(noise)] = noise
    assert_outcome(extract_file("f.zip", bytes(archive)))


@given(st.text(max_size=200))
def test_subject_parser_never_raises(subject: str) -> None:
    hint = parse_subject(subject)
    assert hint is None or hint.nit is not None
