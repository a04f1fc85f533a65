"""Where mailbox secrets live: the keyring, an environment variable or a 0600 file."""

from __future__ import annotations


class Secret:
    """A password or token that never shows itself by accident.

    `repr`, `str` and formatting print a mask; code that must send the value to a
    server calls `reveal()` at the last moment.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):  # pickling would write the value to disk or a pipe
        raise TypeError("Secret no se puede serializar")
