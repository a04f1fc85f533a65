"""Reading bulk FETCH answers: the UID may come before or after the literal.

The real path runs against Dovecot in the engine tests; these cover the orders Dovecot does
not produce, with imaplib's answer shapes written out by hand.
"""

from __future__ import annotations

from tui_recepcion.mailbox.imap import fetch_bodies


class FakeImaplib:
    def __init__(self, data: list) -> None:
        self.data = data

    def uid(self, command: str, *args: str):
        assert (command, args[1]) == ("FETCH", "(BODY.PEEK[])")
        return "OK", self.data


class FakeClient:
    def __init__(self, data: list, fallback: dict | None = None) -> None:
        self._imap = FakeImaplib(data)
        self.fallback = fallback or {}
        self.fallback_asked: list[int] = []

    def fetch(self, uids, items):
        self.fallback_asked = list(uids)
        return {uid: {b"BODY[]": self.fallback[uid]} for uid in uids if uid in self.fallback}


def test_uid_before_the_literal() -> None:
    data = [(b"1 (UID 7 BODY[] {3}", b"abc"), b")", (b"2 (UID 9 BODY[] {2}", b"de"), b")"]
    assert fetch_bodies(FakeClient(data), [7, 9]) == ({7: b"abc", 9: b"de"}, None)


def test_uid_after_the_literal() -> None:
    data = [(b"1 (BODY[] {3}", b"abc"), b" UID 7)", (b"2 (BODY[] {2}", b"de"), b" UID 9)"]
    assert fetch_bodies(FakeClient(data), [7, 9]) == ({7: b"abc", 9: b"de"}, None)


def test_unrecognised_answers_are_fetched_again_with_the_full_parser() -> None:
    client = FakeClient([(b"1 (UID 7 BODY[] {3}", b"abc"), b")", b"2 (FLAGS (\\Seen))"], fallback={9: b"de"})
    assert fetch_bodies(client, [7, 9]) == ({7: b"abc", 9: b"de"}, None)
    assert client.fallback_asked == [9]


def test_nothing_to_fetch() -> None:
    assert fetch_bodies(FakeClient([]), []) == ({}, None)
