"""cuentas.d/*.toml (issue 16): one account per file, alongside or instead of [cuentas.*];
every problem names its own file and line; edits are noticed for reload."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui_recepcion import cli
from tui_recepcion.config import ConfigProblems, load_config, validate_config
from tui_recepcion.engine.reload import ConfigWatcher, file_version

BODY = """\
proveedor = "generic"
tipo_servidor = "basica"
protocolo = "imap"
servidor = "{host}"
puerto = {port}
seguridad = "ssl"
usuario = "{user}"
secreto = "keyring"
"""


def body(host: str = "mail.empresa.co", user: str = "recepcion@empresa.co", port: int = 993) -> str:
    return BODY.format(host=host, user=user, port=port)


def make(tmp_path: Path, config: str = "[general]\nintervalo_minutos = 5\n", **files: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(config, encoding="utf-8")
    folder = tmp_path / "cuentas.d"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return path


def test_accounts_come_from_their_files_alongside_config_toml(tmp_path: Path) -> None:
    config_text = "[cuentas.principal]\n" + body(host="mail.principal.co")
    path = make(tmp_path, config_text, **{
        "acme.toml": body(user="r@acme.co") + '\n[smtp]\nservidor = "smtp.acme.co"\npuerto = 587\nseguridad = "starttls"\n',
        "beta.toml": body(user="r@beta.co"),
        ".gamma.toml.tmp": "roto = ",  # a provisioning tool's half-written file: ignored
        ".delta.toml": "roto = ",  # hidden: ignored
        "notas.txt": "no es una cuenta",
    })
    config = load_config(path)
    assert sorted(config.accounts) == ["acme", "beta", "principal"]
    assert config.accounts["acme"].username == "r@acme.co"
    assert config.accounts["acme"].smtp is not None and config.accounts["acme"].smtp.host == "smtp.acme.co"
    assert validate_config(path) == []


def test_every_problem_names_its_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = make(tmp_path, **{
        "acme.toml": body(port=99999) + 'color = "rojo"\n',
        "beta.toml": body(user="r@beta.co") + '\n[smtp]\nservidor = "s.co"\npuerto = 25\nseguridad = "nope"\n',
        "rota.toml": 'proveedor = "generic\n',
        "Mal Nombre.toml": body(user="r@mal.co"),
    })
    folder = tmp_path / "cuentas.d"
    found = {(problem.file, problem.line, problem.key): problem for problem in validate_config(path)}
    assert (folder / "acme.toml", 5, "puerto") in found
    assert found[(folder / "acme.toml", 9, "color")].warning
    assert (folder / "beta.toml", 13, "smtp.seguridad") in found
    assert (folder / "rota.toml", 1, "(sintaxis)") in found
    assert any(file == folder / "Mal Nombre.toml" and "minúsculas" in problem.message
               for (file, _line, _key), problem in found.items())
    assert cli.main(["--config", str(path), "validar"]) == 1
    output = capsys.readouterr()
    assert f"{folder / 'acme.toml'}:5: puerto: 99999 no es un puerto válido" in output.out
    assert "problemas en 4 archivos." in output.err  # not «en config.toml»: they are elsewhere
    assert "Traceback" not in output.out + output.err
    with pytest.raises(ConfigProblems):  # procesar refuses the same way
        load_config(path)


def test_an_id_in_both_places_and_a_shared_mailbox_are_reported_on_the_file(tmp_path: Path) -> None:
    path = make(tmp_path, "[cuentas.acme]\n" + body(user="r@acme.co"), **{
        "acme.toml": body(user="otro@acme.co"),
        "copia.toml": body(user="r@acme.co"),
    })
    folder = tmp_path / "cuentas.d"
    problems = validate_config(path)
    assert any(p.file == folder / "acme.toml" and p.line == 1 and "ya está definida en config.toml" in p.message
               for p in problems)
    assert any(p.file == folder / "copia.toml" and p.line == 7 and "mismo buzón" in p.message for p in problems)


def test_config_toml_without_accounts_needs_at_least_one_file(tmp_path: Path) -> None:
    path = make(tmp_path)
    assert any("no hay ninguna cuenta" in problem.message for problem in validate_config(path))
    (tmp_path / "cuentas.d" / "acme.toml").write_text(body(), encoding="utf-8")
    assert list(load_config(path).accounts) == ["acme"]


def test_hostile_account_files_end_in_located_problems(tmp_path: Path) -> None:
    path = make(tmp_path)
    folder = tmp_path / "cuentas.d"
    (folder / "binario.toml").write_bytes(b"proveedor = \"\xff\xfe\"\n")
    (folder / "nulo.toml").write_bytes(b"proveedor = \"a\x00\"\n")
    (folder / "enorme.toml").write_bytes(b"# " + b"x" * (300 * 1024) + b"\n")
    os.mkfifo(folder / "tuberia.toml")  # would block a naive open()
    (folder / "carpeta.toml").mkdir()
    problems = {problem.file.name: problem for problem in validate_config(path) if problem.file is not None}
    assert "UTF-8" in problems["binario.toml"].message
    assert "nulo" in problems["nulo.toml"].message
    assert "demasiado grande" in problems["enorme.toml"].message
    assert "archivo regular" in problems["tuberia.toml"].message
    assert "archivo regular" in problems["carpeta.toml"].message


def test_the_watcher_notices_files_added_changed_and_removed(tmp_path: Path) -> None:
    path = make(tmp_path, **{"acme.toml": body()})
    folder = tmp_path / "cuentas.d"
    watcher = ConfigWatcher(path, file_version(path) or "")
    assert not watcher.changed()
    (folder / ".beta.toml.tmp").write_text(body(user="r@beta.co"), encoding="utf-8")
    assert not watcher.changed()  # a temporary file is not an account yet
    (folder / ".beta.toml.tmp").rename(folder / "beta.toml")
    assert watcher.changed()
    assert not watcher.changed()
    (folder / "acme.toml").write_text(body(port=995), encoding="utf-8")
    os.utime(folder / "acme.toml", ns=(1, 1))  # a different mtime even on a coarse clock
    assert watcher.changed()
    (folder / "acme.toml").unlink()
    assert watcher.changed()
    assert sorted(load_config(path).accounts) == ["beta"]
