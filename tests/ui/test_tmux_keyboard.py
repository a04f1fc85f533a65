"""A technician over SSH: a real terminal (tmux, 80×24, xterm-256color), keyboard only.

The test finds where to type the way a person does: by the highlighted label («» Usuario*»),
pressing Tab until the label it wants is the one highlighted, and checks that exactly one
label is highlighted at every step. Then it saves and reads config.toml back: each value in
its own key, the password nowhere in it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import uuid
from datetime import date
from pathlib import Path

from tests.support.terminal import tmux_server
from tests.support.tmux_support import send, wait_for_pane
from tui_recepcion.ui.fields import FOCUS_MARK

DEADLINE = 60.0
MARK = FOCUS_MARK.strip()
PASSWORD = "S3creta-Prueba!"


def highlighted(pane: str) -> list[str]:
    """The highlighted labels (with the value beside them) on the screen."""
    return [line.strip().removeprefix(MARK).strip() for line in pane.splitlines() if line.strip().startswith(MARK)]


def label_of(line: str) -> str:
    """«Usuario*» from «Usuario*      facturas@…  ?»: the label ends where the wide gap starts."""
    return re.split(r"\s{2,}", line, maxsplit=1)[0]


def test_a_whole_account_typed_from_the_keyboard_following_the_highlighted_label(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "config.toml"
    session = f"form-{uuid.uuid4().hex[:8]}"
    program = Path(sys.executable).parent / "tui-recepcion"
    environment = {
        "TERM": "xterm-256color",
        # As over SSH: no usable keyring, so the form asks where the password goes.
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "HOME": str(tmp_path),
    }
    exports = " ".join(f"{key}={value}" for key, value in environment.items())
    with tmux_server(tmp_path) as tmux:
        subprocess.run([*tmux, "new-session", "-d", "-x", "80", "-y", "24", "-s", session,
                        f"env {exports} PATH={os.environ['PATH']} {program} --config {config}"], check=True)
        pane = wait_for_pane(tmux, session, lambda text: "Formulario de recepción" in text and highlighted(text),
                             deadline=DEADLINE, what="abrir el formulario")
        assert "se guardará en" in pane  # the first-start line says where config.toml goes

        def go_to(label: str) -> str:
            """Tab until `label` is the highlighted one; one highlighted label at every step."""
            for _ in range(30):
                pane = wait_for_pane(tmux, session, lambda text: len(highlighted(text)) == 1, deadline=DEADLINE,
                                     what="un solo campo resaltado")
                if highlighted(pane)[0].startswith(label):
                    return pane
                before = label_of(highlighted(pane)[0])
                send(tmux, session, "Tab")
                wait_for_pane(tmux, session, lambda text, was=before: [label_of(line) for line in highlighted(text)]
                              not in ([was], []), deadline=DEADLINE, what=f"mover el foco desde «{before}»")
            raise AssertionError(f"el foco nunca llegó a «{label}»")

        def type_in(label: str, text: str) -> None:
            go_to(label)
            send(tmux, session, text, literal=True)  # Tab selected the field's text: typing replaces it
            if "Contraseña" not in label:  # a password is never shown
                wait_for_pane(tmux, session, lambda pane: any(line.split()[-2:-1] == [text[-40:]]
                                                              for line in highlighted(pane)),
                              deadline=DEADLINE, what=f"ver «{text}» en {label}")

        type_in("Nombre de la cuenta*", "recepcion1")
        type_in("Servidor*", "imap.miradorandes.co")
        type_in("Puerto*", "143")
        go_to("Protocolo de Seguridad*")
        send(tmux, session, "Enter")
        wait_for_pane(tmux, session, lambda text: "STARTTLS" in text and "Cerrar la lista" in text,
                      deadline=DEADLINE, what="abrir la lista de seguridad")
        send(tmux, session, "Down", "Enter")
        wait_for_pane(tmux, session, lambda text: any("STARTTLS" in line for line in highlighted(text)),
                      deadline=DEADLINE, what="elegir STARTTLS")
        type_in("Usuario*", "facturas@miradorandes.co")
        type_in("Contraseña*", PASSWORD)
        type_in("Confirmar Contraseña*", PASSWORD)
        type_in("NIT Receptor", "901234567")
        type_in("Fecha Expiración", "2027-03-31")
        type_in("Correo Notificación", "tecnico@miradorandes.co")
        pane = wait_for_pane(tmux, session, lambda text: True, deadline=DEADLINE, what="ver la pantalla")
        assert PASSWORD not in pane

        send(tmux, session, "C-s")
        wait_for_pane(tmux, session, lambda text: "¿Dónde guardar la contraseña?" in text, deadline=DEADLINE,
                      what="preguntar dónde guardar la contraseña")
        send(tmux, session, "Enter")  # the suggested 0600 file
        wait_for_pane(tmux, session, lambda text: "guardada" in text, deadline=DEADLINE, what="guardar la cuenta")
        send(tmux, session, "C-q")

    text = config.read_text(encoding="utf-8")
    assert PASSWORD not in text
    account = tomllib.loads(text)["cuentas"]["recepcion1"]
    assert account["servidor"] == "imap.miradorandes.co"
    assert account["puerto"] == 143
    assert account["seguridad"] == "starttls"
    assert account["protocolo"] == "imap"
    assert account["tipo_servidor"] == "basica"
    assert account["usuario"] == "facturas@miradorandes.co"
    assert account["nit_receptor"] == "901234567"
    assert account["fecha_expiracion"] == date(2027, 3, 31)
    assert account["correo_notificacion"] == "tecnico@miradorandes.co"
    kind, _, where = account["secreto"].partition(":")
    assert kind == "archivo"
    assert Path(where).read_text(encoding="utf-8").strip() == PASSWORD
    assert Path(where).stat().st_mode & 0o077 == 0
