from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.devca import init_certs
from hub.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_one_certificate_per_party_keys_private(tmp_path: Path) -> None:
    parties = load_config(ROOT / "config.toml").parties
    made = init_certs(tmp_path, parties)
    assert made == ["ca", *parties, "crl"]
    crl = x509.load_pem_x509_crl((tmp_path / "ca.crl").read_bytes())
    assert crl.issuer == x509.load_pem_x509_certificate(
        (tmp_path / "ca.pem").read_bytes()).subject and len(crl) == 0  # none revoked yet
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes())
    for party, name in parties.items():
        key = tmp_path / f"{party}.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        cert = x509.load_pem_x509_certificate((tmp_path / f"{party}.pem").read_bytes())
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name
        assert cert.issuer == ca.subject
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        want = (ExtendedKeyUsageOID.SERVER_AUTH
                if party in {"intake", "metrics", "prefecture", "national", "card",
                             "intermediate", "moj"} else ExtendedKeyUsageOID.CLIENT_AUTH)
        assert list(usage) == [want]
    assert init_certs(tmp_path, parties) == []  # present: nothing made again


def test_config_refuses_a_bad_municipality_code() -> None:
    import pytest

    from hub.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="municipality_code"):
        load_config(ROOT / "config.toml", ['hub.municipality_code="222037"'])
    assert load_config(ROOT / "config.toml").municipality_code == "222038"
