"""The one place that builds TLS contexts: for listeners, for link clients, and for
the blocking HTTPS client of the CLI (and of the dev tools).

Every context: TLS 1.2 or newer, certificates from the dev (or production) CA only —
never the environment's bundle (``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``) — and the
peer's certificate *required* on both sides.  Client contexts pin the peer's name
(``optionsForClientTLS`` checks it with service_identity; the blocking client checks
the host name it connects to), so the hub refuses a national-server certificate on the
prefecture link.  Contexts are built once at start and reused: a new mTLS handshake
costs about 30 round trips' worth of time.
"""

from __future__ import annotations

import ssl as stdlib_ssl
import weakref
from pathlib import Path

from cryptography.x509.oid import NameOID
from OpenSSL import crypto
from twisted.internet import ssl
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator, ITransport

MIN_TLS = ssl.TLSVersion.TLSv1_2


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


def server_options(certs_dir: Path, party: str) -> ssl.CertificateOptions:
    """Listener context for ``party``: a client certificate from our CA is mandatory."""
    own = load_party(certs_dir, party)
    return ssl.CertificateOptions(
        privateKey=own.privateKey.original,
        certificate=own.original,
        trustRoot=load_ca(certs_dir),
        raiseMinimumTo=MIN_TLS,
    )


def client_options(certs_dir: Path, party: str, peer_name: str) -> IOpenSSLClientConnectionCreator:
    """Client context presenting ``party``'s certificate and requiring ``peer_name``."""
    return ssl.optionsForClientTLS(
        peer_name,
        trustRoot=load_ca(certs_dir),
        clientCertificate=load_party(certs_dir, party),
        extraCertificateOptions={"raiseMinimumTo": MIN_TLS},
    )


def blocking_client_context(certs_dir: Path, party: str) -> stdlib_ssl.SSLContext:
    """The same rules for a blocking client (``http.client``): the CLI's and the dev
    tools'.  The host name it connects to is checked against the server certificate."""
    d = Path(certs_dir)
    ctx = stdlib_ssl.SSLContext(stdlib_ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = stdlib_ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cadata=_read(d / "ca.pem").decode("ascii"))
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
