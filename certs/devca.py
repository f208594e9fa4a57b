"""Development certificate authority: one CA and one certificate per party.

``jukihub certs init`` calls ``init_certs``.  Every party named in ``config.toml``
(``[certs.parties]``) gets ``<dir>/<party>.pem`` and ``<dir>/<party>.key``; the CA is
``ca.pem``/``ca.key``.  Keys are EC P-256, written with mode 0600, and never committed
(``.gitignore`` excludes the directory).  Existing files are kept, so running it twice
is harmless; ``force=True`` makes everything anew.

These are *development* certificates: production uses certificates issued for the
住基ネット by its own CA, configured through the same file names.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Which parties act as TLS servers, which as clients.
SERVER_PARTIES = frozenset({"intake", "metrics", "prefecture", "national", "card",
                            "intermediate", "moj"})
VALIDITY = dt.timedelta(days=825)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)  # O_CREAT's mode does not apply to an existing file


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jukihub development"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def make_ca(directory: Path, common_name: str = "jukihub dev CA") -> tuple[x509.Certificate,
                                                                        ec.EllipticCurvePrivateKey]:
    """Create ``ca.pem``/``ca.key`` in ``directory`` and return them."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name)).issuer_name(_name(common_name))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_key(directory / "ca.key", key)
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def make_leaf(directory: Path, party: str, common_name: str, ca_cert: x509.Certificate,
              ca_key: ec.EllipticCurvePrivateKey) -> None:
    """Issue ``<party>.pem``/``<party>.key`` for ``common_name``, signed by the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usage = (ExtendedKeyUsageOID.SERVER_AUTH if party in SERVER_PARTIES
             else ExtendedKeyUsageOID.CLIENT_AUTH)
    sans: list[x509.GeneralName] = [x509.DNSName(common_name)]
    if party in SERVER_PARTIES:
        sans += [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(directory / f"{party}.key", key)
    (directory / f"{party}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def write_crl(directory: Path, serials: Iterable[int] = ()) -> Path:
    """The CA's revocation list, ``ca.crl`` (PEM), listing ``serials``; replaced
    atomically, so a listener reloading it never reads half a file."""
    ca_cert, ca_key = _load_ca(directory)
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
               .last_update(now - dt.timedelta(minutes=5))
               .next_update(now + dt.timedelta(days=7)))
    for serial in sorted(set(serials)):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
    crl = builder.sign(ca_key, hashes.SHA256())
    path = directory / "ca.crl"
    tmp = directory / "ca.crl.tmp"
    tmp.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp, path)
    return path


def revoke(directory: Path, party: str) -> int:
    """Add ``party``'s certificate to the CA's revocation list; its serial."""
    directory = Path(directory)
    cert = x509.load_pem_x509_certificate((directory / f"{party}.pem").read_bytes())
    crl_path = directory / "ca.crl"
    listed = ({r.serial_number for r in x509.load_pem_x509_crl(crl_path.read_bytes())}
              if crl_path.exists() else set())
    write_crl(directory, listed | {cert.serial_number})
    return int(cert.serial_number)


def init_certs(directory: Path, parties: Mapping[str, str], force: bool = False) -> list[str]:
    """Make the CA and each party's certificate where missing; return what was made."""
    directory = Path(directory)
    made: list[str] = []
    ca_pem, ca_key_path = directory / "ca.pem", directory / "ca.key"
    if force or not (ca_pem.exists() and ca_key_path.exists()):
        ca_cert, ca_key = make_ca(directory)
        made.append("ca")
        force = True  # a new CA invalidates every leaf
    else:
        ca_cert = x509.load_pem_x509_certificate(ca_pem.read_bytes())
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        ca_key = loaded
    for party, common_name in parties.items():
        if force or not ((directory / f"{party}.pem").exists()
                         and (directory / f"{party}.key").exists()):
            make_leaf(directory, party, common_name, ca_cert, ca_key)
            made.append(party)
    if force or not (directory / "ca.crl").exists():
        write_crl(directory)  # none revoked yet
        made.append("crl")
    return made
