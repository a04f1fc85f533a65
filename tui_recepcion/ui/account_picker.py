"""Choosing one account among one or thousands: a modal with a search box and a list.

Typing filters by the account's name, its usuario and its NIT (`nit_receptor`). Names and
users match case- and accent-insensitively; a NIT matches by its digits, whatever dots,
dashes or spaces were typed («901234567», «901.234.567» and «901.234.567-7» all find it).
Every word typed must match somewhere. The list shows at most `SHOWN_LIMIT` accounts (a
list of thousands costs time to build on each key, and nobody reads it): typing narrows it.
Extra entries (the form's «Nueva cuenta…») are always shown, whatever is typed.

Keys: the arrows and PgUp/PgDn move in the list while the cursor is in the box;
Enter chooses; Esc cancels (the screen below gets its focus back, as Textual keeps it).
The dashboard (Ctrl+F) and the form (Ctrl+F, and Enter on «Cuenta») both use it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui_recepcion.config import Account, check_digit, format_nit
from tui_recepcion.ui.dialogs import Dialog

SHOWN_LIMIT = 200
PLACEHOLDER = "Nombre, usuario o NIT"


def folded(text: str) -> str:
    """Lower case without accents: «Facturación» → «facturacion»."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


@dataclass(frozen=True, slots=True)
class PickerEntry:
    """One account as the picker shows and searches it."""

    value: str
    label: str
    words: str  # name and user, folded
    nit: str  # the NIT's digits followed by its check digit ("" without a NIT)


def account_entry(account: Account) -> PickerEntry:
    label = f"{account.id} ({account.username})"
    nit = ""
    if account.receiver_nit:
        dv = account.receiver_check_digit
        if dv is None and account.receiver_nit.isdigit():
            dv = check_digit(account.receiver_nit)
        nit = account.receiver_nit + (dv or "")
        label += f" · NIT {format_nit(account.receiver_nit, dv)}"
    return PickerEntry(account.id, label, folded(f"{account.id} {account.username}"), nit)


def matches(entry: PickerEntry, query: str) -> bool:
    """Every word of `query` is in the name or the user or, written as a number, in the NIT."""
    for word in folded(query).split():
        if word in entry.words:
            continue
        # «901.234.567-7» is a NIT as written on the RUT: its digits, not its punctuation, match.
        number = digits(word)
        if number and entry.nit and not word.strip("0123456789.-") and number in entry.nit:
            continue
        return False
    return True


def search(entries: Iterable[PickerEntry], query: str, limit: int = SHOWN_LIMIT) -> tuple[list[PickerEntry], int]:
    """The first `limit` entries matching `query`, and how many match in all."""
    found: list[PickerEntry] = []
    total = 0
    for entry in entries:
        if matches(entry, query):
            total += 1
            if len(found) < limit:
                found.append(entry)
    return found, total


def thousands(count: int) -> str:
    return f"{count:,}".replace(",", ".")


class AccountPicker(Dialog):
    """Returns the chosen entry's value (an account id, or an extra's value), or None on Esc."""

    BINDINGS = [
        Binding("escape", "close", "Cancelar"),
        # While typing, the list's keys still move the list.
        Binding("down", "move('cursor_down')", show=False),
        Binding("up", "move('cursor_up')", show=False),
        Binding("pagedown", "move('page_down')", show=False),
        Binding("pageup", "move('page_up')", show=False),
    ]

    def __init__(self, title: str, accounts: Sequence[Account], *, current: str | None = None,
                 extras: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(title, classes="account-picker")
        self.entries = [account_entry(account) for account in accounts]
        self.extras = tuple(extras)  # (label, value), always listed last
        self.current = current
        self.shown: list[str] = []  # the values in the list, in order

    def compose_box(self) -> ComposeResult:
        yield Input(placeholder=PLACEHOLDER, compact=True, id="picker-search")
        yield Static(classes="picker-summary")
        yield OptionList(id="picker-list", compact=True)
        yield Label(Content("Enter elige · Esc cancela · ↑↓ recorren la lista"), classes="picker-keys")

    def on_mount(self) -> None:
        self._fill("", keep=self.current)
        self.query_one(Input).focus()

    @on(Input.Changed, "#picker-search")
    def _typed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def _fill(self, query: str, keep: str | None = None) -> None:
        found, total = search(self.entries, query)
        options = [Option(Content(entry.label), id=entry.value) for entry in found]
        options += [Option(Content(label), id=value) for label, value in self.extras]
        self.shown = [entry.value for entry in found] + [value for _label, value in self.extras]
        listing = self.query_one(OptionList)
        listing.set_options(options)
        if self.shown:
            listing.highlighted = self.shown.index(keep) if keep in self.shown else 0
        self.query_one(".picker-summary", Static).update(Content(self._summary(query, total, len(found))))

    def _summary(self, query: str, total: int, shown: int) -> str:
        count = len(self.entries)
        everyone = f"{thousands(count)} {'cuenta' if count == 1 else 'cuentas'}"
        if not query.strip():
            text = everyone
        elif total == 0:
            text = f"Ninguna cuenta coincide con «{query.strip()}»"
        else:
            text = f"{thousands(total)} de {everyone} {'coincide' if total == 1 else 'coinciden'}"
        if shown < total:
            text += f"; se muestran {thousands(shown)}: escriba para acotar"
        return text + "."

    async def action_move(self, action: str) -> None:
        await self.query_one(OptionList).run_action(action)

    @on(Input.Submitted, "#picker-search")
    def _submitted(self) -> None:
        highlighted = self.query_one(OptionList).highlighted
        if highlighted is not None and highlighted < len(self.shown):
            self.dismiss(self.shown[highlighted])

    @on(OptionList.OptionSelected, "#picker-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
