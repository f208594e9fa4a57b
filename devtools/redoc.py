"""``jukihub-dev redoc VERSION``: the Redoc bundle the API's reference page serves
(``/docs/``), taken from Redoc's release on the npm registry and kept in the repository
(``hub/api/static/redoc/``) with its licences and a ``RELEASE.json`` that names the
release, the registry's integrity of its tarball, and the SHA-256 of the bundle.

The hub installs no package for these files (it once pulled Django in for them): the
tarball is checked against the registry's ``dist.integrity`` before anything is
written, and ``tests/hub/test_redoc_bundle.py`` checks that the kept bundle is the one
``RELEASE.json`` names.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "hub" / "api" / "static" / "redoc"
REGISTRY = "https://registry.npmjs.org/redoc"
# What the page needs of the release: the bundle and the two licences that cover it.
FILES = {"package/bundles/redoc.standalone.js": "redoc.standalone.js",
         "package/bundles/redoc.standalone.js.LICENSE.txt": "redoc.standalone.js.LICENSE.txt",
         "package/LICENSE": "LICENSE"}


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310 (a fixed https URL)
        data: bytes = answer.read()
    return data


def fetch(version: str, into: Path = HERE) -> dict[str, str]:
    """Redoc ``version`` from the registry into ``into``; its ``RELEASE.json``."""
    dist = json.loads(_get(f"{REGISTRY}/{version}"))["dist"]
    tarball = _get(dist["tarball"])
    algorithm, _, expected = dist["integrity"].partition("-")
    got = base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode()
    if got != expected:
        raise SystemExit(f"redoc {version}: the tarball does not match the registry's "
                         f"integrity ({algorithm})")
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for member, name in FILES.items():
            extracted = tar.extractfile(member)
            if extracted is None:
                raise SystemExit(f"redoc {version}: {member} is not in the release")
            (into / name).write_bytes(extracted.read())
    release = {"package": "redoc", "version": version, "tarball": dist["tarball"],
               "integrity": dist["integrity"],
               "bundle_sha256": hashlib.sha256(
                   (into / "redoc.standalone.js").read_bytes()).hexdigest()}
    (into / "RELEASE.json").write_text(json.dumps(release, indent=2) + "\n", encoding="utf-8")
    return release
