"""The API reference page's Redoc bundle is kept in the repository
(``hub/api/static/redoc/``, taken by ``jukihub-dev redoc`` from the release on the npm
registry, the tarball checked against the registry's integrity): the kept file must be
the one its ``RELEASE.json`` names, beside its licences, and the hub's install must not
pull in a web framework for it (it once pulled Django)."""

from __future__ import annotations

import hashlib
import json
import re
from importlib import metadata

from hub.api.docs import REDOC_BUNDLE

RELEASE = json.loads((REDOC_BUNDLE.parent / "RELEASE.json").read_text(encoding="utf-8"))


def test_the_kept_bundle_is_the_release_it_names() -> None:
    assert RELEASE["package"] == "redoc" and re.fullmatch(r"\d+\.\d+\.\d+", RELEASE["version"])
    assert RELEASE["tarball"] == (f"https://registry.npmjs.org/redoc/-/redoc-"
                                  f"{RELEASE['version']}.tgz")
    assert RELEASE["integrity"].startswith("sha512-")
    assert hashlib.sha256(REDOC_BUNDLE.read_bytes()).hexdigest() == RELEASE["bundle_sha256"]


def test_its_licences_are_kept_beside_it() -> None:
    assert "MIT License" in (REDOC_BUNDLE.parent / "LICENSE").read_text(encoding="utf-8")
    banner = REDOC_BUNDLE.read_bytes()[:200]
    assert b"redoc.standalone.js.LICENSE.txt" in banner
    assert (REDOC_BUNDLE.parent / "redoc.standalone.js.LICENSE.txt").stat().st_size > 0


def _closure(name: str, seen: set[str]) -> set[str]:
    """``name`` and every distribution it requires (extras left out), as installed."""
    key = name.lower().replace("_", "-")
    if key in seen:
        return seen
    seen.add(key)
    try:
        requires = metadata.requires(name) or []
    except metadata.PackageNotFoundError:
        return seen
    for req in requires:
        if "extra ==" in req:
            continue
        _closure(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0], seen)
    return seen


def test_the_hub_installs_no_web_framework_for_its_documents() -> None:
    needed = _closure("jukihub", set())
    assert {"twisted", "jinja2"} <= needed  # the walk sees the hub's own dependencies
    assert not needed & {"django", "flask", "drf-spectacular-sidecar", "fastapi"}
