"""The sends table: one row per CUFE and event code; claiming is a compare-and-set on its state."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tui_recepcion.store import AlreadySent, Store

CUFE = "ab" * 48


@pytest.fixture
def store(store_location: Path | str):  # SQLite and PostgreSQL (tests/servers/postgres.py)
    with Store.open(store_location) as opened:
        yield opened


def test_a_first_claim_reserves_a_numbered_row(store: Store) -> None:
    claim = store.claim_radian_send(CUFE, "030", requested_by="ana", number_prefix="ACR")
    assert (claim.number, claim.attempt, claim.uncertain) == (f"ACR{claim.row:06d}", 1, False)
    (row,) = store.radian_sends(CUFE)
    assert (row.state, row.requested_by, row.attempts) == ("enviando", "ana", 1)


def test_an_event_at_dian_is_never_claimed_again(store: Store) -> None:
    for final in ("aceptado", "registrado"):
        code = "030" if final == "aceptado" else "032"
        claim = store.claim_radian_send(CUFE, code, requested_by="ana", number_prefix="X")
        store.finish_radian_send(claim.row, final, requested_by="ana", action="enviar", cude="c" * 96)
        with pytest.raises(AlreadySent):
            store.claim_radian_send(CUFE, code, requested_by="luis", number_prefix="X")
    assert store.radian_sent_codes(CUFE) == {"030", "032"}


def test_a_rejected_event_is_retried_plainly_and_an_uncertain_one_is_read_back_first(store: Store) -> None:
    claim = store.claim_radian_send(CUFE, "030", requested_by="ana", number_prefix="ACR")
    store.finish_radian_send(claim.row, "rechazado", requested_by="ana", action="enviar",
                             rules=[("AAH07", "Rechazo", "NIT")])
    retry = store.claim_radian_send(CUFE, "030", requested_by="luis", number_prefix="ACR")
    assert (retry.row, retry.number, retry.attempt, retry.uncertain) == (claim.row, claim.number, 2, False)
    store.finish_radian_send(retry.row, "incierto", requested_by="luis", action="enviar", answer="sin respuesta")
    third = store.claim_radian_send(CUFE, "030", requested_by="ana", number_prefix="ACR")
    assert third.uncertain and third.attempt == 3
    log = store.radian_send_log(claim.row)
    assert [(entry.action, entry.state, entry.requested_by) for entry in log] == [
        ("reservar", "enviando", "ana"), ("enviar", "rechazado", "ana"), ("reintentar", "enviando", "luis"),
        ("enviar", "incierto", "luis"), ("reintentar", "enviando", "ana")]


def test_two_senders_at_once_get_one_claim(store_location: Path | str) -> None:
    path = store_location
    Store.open(path).close()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def claim(who: str) -> None:
        with Store.open(path) as store:
            barrier.wait(10)
            try:
                store.claim_radian_send(CUFE, "030", requested_by=who, number_prefix="ACR")
                outcomes.append("reservado")
            except AlreadySent:
                outcomes.append("ocupado")

    threads = [threading.Thread(target=claim, args=(who,)) for who in ("ana", "luis")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    # The second claim sees the first one's row (in state «enviando») and must not send too.
    assert sorted(outcomes) == ["ocupado", "reservado"]


def test_a_send_left_by_a_crash_is_claimed_again_as_uncertain(store_location: Path | str) -> None:
    path = store_location
    with Store.open(path) as store:
        claim = store.claim_radian_send(CUFE, "030", requested_by="ana", number_prefix="ACR")
        store._db.execute("UPDATE radian_sends SET updated_at = ? WHERE id = ?",
                          ("2020-01-01T00:00:00.000+00:00", claim.row))
    with Store.open(path) as store:
        again = store.claim_radian_send(CUFE, "030", requested_by="luis", number_prefix="ACR")
    assert again.row == claim.row and again.uncertain
