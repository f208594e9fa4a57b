"""The one place that builds TLS contexts: for listeners, for link clients, and for
the blocking HTTPS client of the CLI (and of the dev tools).

Every context: TLS 1.2 or 1.3 only, with forward-secret AEAD ciphers only (ECDHE with
AES-GCM or ChaCha20-Poly1305 on 1.2; 1.3's are all such), certificates from the dev
(or production) CA only — never the environment's bundle (``SSL_CERT_FILE``,
``REQUESTS_CA_BUNDLE``) — and the peer's certificate *required* on both sides, and
refused when its CA has revoked it: every ``*.crl`` file in the certificates folder
(one per CA, PEM, its signature checked) is read again when it changes, so a
revocation applies to the next handshake on every listener and link without a
restart.  Client contexts pin the peer's name
(``optionsForClientTLS`` checks it with service_identity; the blocking client checks
the host name it connects to), so the hub refuses a national-server certificate on the
prefecture link.  Contexts are built once at start and reused: a new mTLS handshake
costs about 30 round trips' worth of time.
"""

from __future__ import annotations

import logging
import ssl as stdlib_ssl
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from cryptography import x509
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto
from twisted.internet import ssl
from twisted.internet._sslverify import ClientTLSOptions, _verifyCB
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator, ITransport

MIN_TLS = ssl.TLSVersion.TLSv1_2
# TLS 1.2's suites (1.3 has only strong ones): forward secret, authenticated encryption.
CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
           "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
           "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
STRONG = ssl.AcceptableCiphers.fromOpenSSLCipherString(CIPHERS)
log = logging.getLogger("jukihub.tls")


class Revocations:
    """The revoked certificates of every CA, from the ``*.crl`` files of a folder: the
    files are looked at (a ``stat`` each) at every handshake and read again when they
    change.  A CRL whose signature no CA of ``ca.pem`` made is ignored (and logged)."""

    def __init__(self, certs_dir: Path) -> None:
        self.dir = Path(certs_dir)
        self._seen: tuple[tuple[str, float, int], ...] = ()
        self._revoked: frozenset[tuple[bytes, int]] = frozenset()

    def revoked(self, issuer: bytes, serial: int) -> bool:
        """Whether the certificate ``serial`` of the CA named ``issuer`` (DER) is revoked."""
        self._reload()
        return (issuer, serial) in self._revoked

    def _reload(self) -> None:
        files = tuple(sorted((str(f), st.st_mtime, st.st_ino) for f in self.dir.glob("*.crl")
                             if (st := f.stat())))
        if files == self._seen:
            return
        self._seen = files
        cas = x509.load_pem_x509_certificates(_read(self.dir / "ca.pem"))
        revoked: set[tuple[bytes, int]] = set()
        for name, _, _ in files:
            try:
                crl = x509.load_pem_x509_crl(Path(name).read_bytes())
            except ValueError:
                log.error("revocation list unreadable", extra={"event": "tls.crl_invalid",
                                                                "file": Path(name).name})
                continue
            issuer = next((ca for ca in cas if ca.subject == crl.issuer), None)
            key: Any = issuer.public_key() if issuer is not None else None
            if key is None or not crl.is_signature_valid(key):
                log.error("revocation list not signed by a known CA", extra={
                    "event": "tls.crl_invalid", "file": Path(name).name})
                continue
            der = crl.issuer.public_bytes()
            revoked |= {(der, r.serial_number) for r in crl}
        self._revoked = frozenset(revoked)
        log.info("revocation lists loaded", extra={"event": "tls.crl_loaded",
                                                   "revoked": len(revoked)})


_REVOCATIONS: dict[Path, Revocations] = {}


def revocations(certs_dir: Path) -> Revocations:
    """The one ``Revocations`` of a certificates folder (reactor thread)."""
    key = Path(certs_dir).resolve()
    if key not in _REVOCATIONS:
        _REVOCATIONS[key] = Revocations(key)
    return _REVOCATIONS[key]


Verify = Callable[[Any, crypto.X509, int, int, int], bool]


def _refusing_revoked(revoked: Revocations) -> Verify:
    """A peer-verification callback (OpenSSL's, on the reactor thread, once per
    certificate of the peer's chain) that refuses a revoked certificate."""
    def verify(_conn: Any, cert: crypto.X509, _errno: int, depth: int, ok: int) -> bool:
        if not ok:
            return False
        c = cert.to_cryptography()
        if revoked.revoked(c.issuer.public_bytes(), c.serial_number):
            names = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            log.warning("revoked certificate refused", extra={
                "event": "tls.revoked", "peer": str(names[0].value) if names else "",
                "depth": depth})
            return False
        return True

    return verify


class _CheckedOptions(ssl.CertificateOptions):
    """``CertificateOptions`` whose peer verification also refuses a revoked
    certificate (a listener's)."""

    def __init__(self, revoked: Revocations, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.revocations = revoked

    def _makeContext(self, skipCiphers: bool = False) -> SSL.Context:  # noqa: N802, N803
        ctx = super()._makeContext(skipCiphers)
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT,
                       _refusing_revoked(self.revocations))
        return ctx


class _CheckedClientTLS(ClientTLSOptions):
    """Twisted's client connection creator (the peer's name checked by
    service_identity), whose per-connection verification refuses a revoked
    certificate too (it replaces the context's callback, so both go here)."""

    def __init__(self, options: _CheckedOptions, hostname: str) -> None:
        super().__init__(options._makeTLSConnection, hostname)
        self._revoked = _refusing_revoked(options.revocations)

    def clientConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:  # noqa: N802, N803
        connection = super().clientConnectionForTLS(tlsProtocol)
        names = _verifyCB(tlsProtocol, self._hostnameIsDnsName, self._hostnameASCII)
        revoked = self._revoked

        def verify(conn: Any, cert: crypto.X509, errno: int, depth: int, ok: int) -> bool:
            return revoked(conn, cert, errno, depth, ok) and bool(
                names(conn, cert, errno, depth, bool(ok)))

        connection.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, verify)
        return connection


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} is missing: run `jukihub certs init` to make development certificates"
        ) from None


def load_ca(certs_dir: Path) -> ssl.Certificate:
    return ssl.Certificate.loadPEM(_read(Path(certs_dir) / "ca.pem"))


def load_party(certs_dir: Path, party: str) -> ssl.PrivateCertificate:
    d = Path(certs_dir)
    return ssl.PrivateCertificate.loadPEM(_read(d / f"{party}.pem") + _read(d / f"{party}.key"))


def _options(certs_dir: Path, party: str) -> _CheckedOptions:
    own = load_party(certs_dir, party)
    return _CheckedOptions(revocations(certs_dir), privateKey=own.privateKey.original,
                           certificate=own.original, trustRoot=load_ca(certs_dir),
                           raiseMinimumTo=MIN_TLS, acceptableCiphers=STRONG)


def server_options(certs_dir: Path, party: str) -> ssl.CertificateOptions:
    """Listener context for ``party``: a client certificate from our CA, not revoked,
    is mandatory."""
    return _options(certs_dir, party)


def client_options(certs_dir: Path, party: str, peer_name: str) -> IOpenSSLClientConnectionCreator:
    """Client context presenting ``party``'s certificate and requiring ``peer_name``
    (checked by service_identity, as ``optionsForClientTLS`` does), not revoked."""
    creator: Any = _CheckedClientTLS(_options(certs_dir, party), peer_name)
    return cast(IOpenSSLClientConnectionCreator, creator)


def blocking_client_context(certs_dir: Path, party: str) -> stdlib_ssl.SSLContext:
    """The same rules for a blocking client (``http.client``): the CLI's and the dev
    tools'.  The host name it connects to is checked against the server certificate."""
    d = Path(certs_dir)
    ctx = stdlib_ssl.SSLContext(stdlib_ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = stdlib_ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(CIPHERS)
    ctx.load_verify_locations(cadata=_read(d / "ca.pem").decode("ascii"))
    for crl in sorted(d.glob("*.crl")):  # a short-lived client: read once
        ctx.load_verify_locations(cafile=str(crl))
        ctx.verify_flags |= stdlib_ssl.VERIFY_CRL_CHECK_LEAF
    ctx.load_cert_chain(str(d / f"{party}.pem"), str(d / f"{party}.key"))
    return ctx


# A connection's peer certificate cannot change while it lasts: its name is read once
# (reading it costs more than the rest of a small request's handling).
_NAMES: weakref.WeakKeyDictionary[ITransport, str | None] = weakref.WeakKeyDictionary()


def peer_common_name(transport: ITransport | None) -> str | None:
    """The common name of the verified peer certificate, or ``None`` (reactor thread)."""
    if transport is None:
        return None
    try:
        return _NAMES[transport]
    except KeyError:
        pass
    get = getattr(transport, "getPeerCertificate", None)
    cert = get() if get else None
    name = None
    if isinstance(cert, crypto.X509):
        names = cert.to_cryptography().subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        name = str(names[0].value) if names else None
    if cert is not None:  # before the handshake there is none yet: ask again later
        _NAMES[transport] = name
    return name
