"""Test certificate authorities and server certificates, made with the `openssl` CLI.

A session makes one trusted test CA with a server certificate for `localhost` and
`127.0.0.1`, and a second, unrelated CA that nothing trusts. `CertificateAuthority.issue`
makes further certificates (another name, an expired validity window) for TLS tests.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEFAULT_SANS = ("DNS:localhost", "IP:127.0.0.1")

# `openssl ca` needs a config with a database; it is the only openssl 3.0 command that
# accepts explicit validity dates, which expired-certificate tests need.
_CA_CONFIG = """\
[ca]
default_ca = test_ca

[test_ca]
dir = {directory}
database = $dir/index.txt
new_certs_dir = $dir/issued
serial = $dir/serial
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = policy_anything
unique_subject = no
copy_extensions = none

[policy_anything]
commonName = supplied
"""

_CA_EXTENSIONS = (
    "basicConstraints=critical,CA:TRUE",
    "keyUsage=critical,keyCertSign,cRLSign",
    "subjectKeyIdentifier=hash",
)


def _openssl(*args: str | Path) -> None:
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl no está instalado: las pruebas TLS lo necesitan")
    result = subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} falló:\n{result.stderr}")


def _openssl_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    cert: Path
    key: Path


class CertificateAuthority:
    """A throwaway CA in its own directory; `issue` signs EC server certificates."""

    def __init__(self, directory: Path, common_name: str) -> None:
        self.directory = directory
        self.cert = directory / "ca.pem"
        self.key = directory / "ca.key"
        self._serials = itertools.count(1)
        (directory / "issued").mkdir(parents=True)
        (directory / "index.txt").write_text("")
        (directory / "serial").write_text("1000\n")
        (directory / "openssl.cnf").write_text(_CA_CONFIG.format(directory=directory))
        extensions = itertools.chain.from_iterable(("-addext", e) for e in _CA_EXTENSIONS)
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            self.key,
            "-out",
            self.cert,
            "-days",
            "3",
            "-subj",
            f"/CN={common_name}",
            *extensions,
        )

    def issue(
        self,
        common_name: str = "localhost",
        sans: tuple[str, ...] = DEFAULT_SANS,
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> ServerCertificate:
        """Sign a server certificate; `sans` entries look like `DNS:name` or `IP:addr`."""
        now = datetime.now(UTC)
        not_before = not_before or now - timedelta(hours=1)
        not_after = not_after or now + timedelta(days=2)
        stem = self.directory / f"server-{next(self._serials)}"
        key, csr, cert, ext = (stem.with_suffix(s) for s in (".key", ".csr", ".pem", ".ext"))
        ext.write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid\n"
            f"subjectAltName={','.join(sans)}\n"
        )
        _openssl(
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            key,
            "-out",
            csr,
            "-subj",
            f"/CN={common_name}",
        )
        _openssl(
            "ca",
            "-batch",
            "-notext",
            "-config",
            self.directory / "openssl.cnf",
            "-in",
            csr,
            "-out",
            cert,
            "-extfile",
            ext,
            "-startdate",
            _openssl_date(not_before),
            "-enddate",
            _openssl_date(not_after),
        )
        return ServerCertificate(cert=cert, key=key)


@dataclass(frozen=True, slots=True)
class TestCertificates:
    """What a test session needs: a trusted CA and its server cert, plus a stranger CA."""

    __test__ = False  # not a pytest test class despite the name

    ca: CertificateAuthority
    server: ServerCertificate
    untrusted_ca: CertificateAuthority

    @property
    def ca_file(self) -> Path:
        """The bundle a client passes as its extra CA (`certificados_ca`)."""
        return self.ca.cert


def make_test_certificates(directory: Path) -> TestCertificates:
    ca = CertificateAuthority(directory / "ca", "tui-recepcion CA de pruebas")
    untrusted = CertificateAuthority(directory / "untrusted-ca", "CA desconocida")
    return TestCertificates(ca=ca, server=ca.issue(), untrusted_ca=untrusted)
