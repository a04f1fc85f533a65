"""Documentos: F6 «Acuse + recibo», F7 «Aceptar» (only after typing the invoice's number), F8
«Reclamar…», against the HTTPS stand-in of DIAN, driven with the keyboard at 80×24."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.radian.certificates import CompanyCertificate, make_company_certificate
from tests.radian.conftest import PASSWORD_VARIABLE, PIN_VARIABLE, empresa_table, store_invoice
from tests.servers.certs import TestCertificates
from tests.servers.dian import DianStandIn
from tests.ui.support import SIZE, screen_text, wait_until, write_config
from tui_recepcion.demo.samples import SampleFactory
from tui_recepcion.store import Store
from tui_recepcion.ui.app import create_app
from tui_recepcion.ui.dialogs import MessageDialog
from tui_recepcion.ui.documents import DocumentsScreen
from tui_recepcion.ui.radian_dialogs import AcceptanceDialog, ClaimDialog


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> CompanyCertificate:
    return make_company_certificate(tmp_path_factory.mktemp("empresa"))


@pytest.fixture
def app_config(tmp_path: Path, certificate: CompanyCertificate, dian_server: DianStandIn, tls_certs: TestCertificates,
               monkeypatch: pytest.MonkeyPatch, factory: SampleFactory) -> tuple[Path, str]:
    monkeypatch.setenv(PASSWORD_VARIABLE, certificate.password)
    monkeypatch.setenv(PIN_VARIABLE, "24680")
    config = write_config(tmp_path, empresa_table(certificate, dian_server.url, tls_certs.ca_file))
    with Store.open(tmp_path / "recepcion.db", tmp_path / "documentos") as store:
        cufe = store_invoice(store, factory)
        number = store.document_by_cufe(cufe).document.number
    return config, number


async def _open_documents(pilot) -> None:
    await pilot.press("f4")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, DocumentsScreen) and pilot.app.screen.rows,
                     what="mostrar los documentos")


async def _answer(pilot) -> str:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, MessageDialog), what="la respuesta de la DIAN")
    text = "\n".join(pilot.app.screen.lines)
    await pilot.press("escape")
    return text


async def test_acceptance_is_sent_only_after_typing_the_invoice_number(app_config, dian_server: DianStandIn) -> None:
    config, number = app_config
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        await _open_documents(pilot)
        await pilot.press("f6")
        answer = await _answer(pilot)
        assert "030 Acuse de recibo" in answer and "032 Recibo del bien" in answer and "aceptado" in answer
        assert [sent.code for sent in dian_server.sends()] == ["030", "032"]

        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, AcceptanceDialog), what="pedir la confirmación")
        assert "irrevocable" in screen_text(app)
        await pilot.press("enter")  # nothing typed
        assert isinstance(app.screen, AcceptanceDialog) and f"({number})" in screen_text(app)
        await pilot.press(*"OTRA-1", "enter")  # the wrong number
        assert isinstance(app.screen, AcceptanceDialog)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DocumentsScreen), what="cerrar sin aceptar")
        assert not [sent for sent in dian_server.sends() if sent.code == "033"]

        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, AcceptanceDialog), what="pedir la confirmación")
        await pilot.press(*number, "enter")
        answer = await _answer(pilot)
        assert "033 Aceptación expresa" in answer and "aceptado" in answer
    assert [sent.code for sent in dian_server.sends()] == ["030", "032", "033"]


async def test_a_claim_asks_for_its_reason(app_config, dian_server: DianStandIn) -> None:
    config, _ = app_config
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        await _open_documents(pilot)
        await pilot.press("f6")
        await _answer(pilot)
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, ClaimDialog), what="pedir el concepto")
        app.screen.query_one("#concepto-03").value = True
        await pilot.click("#reclamar")
        answer = await _answer(pilot)
        assert "031 Reclamo" in answer and "aceptado" in answer
    (claim,) = [sent for sent in dian_server.sends() if sent.code == "031"]
    assert b'listID="03"' in claim.event_xml


async def test_marked_documents_get_acuse_and_recibo_together(app_config, dian_server: DianStandIn,
                                                              factory: SampleFactory, tmp_path: Path) -> None:
    config, _ = app_config
    with Store.open(tmp_path / "recepcion.db", tmp_path / "documentos") as store:
        store_invoice(store, factory, key="imap:1:2")
        store_invoice(store, factory, key="imap:1:3")
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        await _open_documents(pilot)
        app.screen.query_one("#documents").focus()
        await pilot.press("space", "space")  # marks the first two rows (the cursor moves down)
        assert len(app.screen.marked) == 2 and "✓" in screen_text(app)
        await pilot.press("f6")
        answer = await _answer(pilot)
        assert answer.count(": aceptado") == 4
    assert sorted(sent.code for sent in dian_server.sends()) == ["030", "030", "032", "032"]
    assert len({sent.cufe for sent in dian_server.sends()}) == 2
