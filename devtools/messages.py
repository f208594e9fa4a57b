"""``python -m devtools.messages`` (``make messages``): the staff's catalogs kept in step
with the source.  Every marked message is extracted (``pybabel extract`` with
``babel.cfg``) into ``hub/locale/messages.pot``, and each language's ``.po`` updated
from it: new messages come in untranslated (the catalog test fails until a translator
fills them), messages no longer used are dropped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "hub" / "locale"
POT = LOCALE / "messages.pot"


def extract() -> None:
    subprocess.run([str(Path(sys.executable).with_name("pybabel")), "extract", "-F",
                    str(ROOT / "babel.cfg"), "-k", "N_", "--no-location", "--sort-output",
                    "--omit-header", "-o", str(POT), str(ROOT)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def update(lang: str) -> None:
    po = LOCALE / lang / "LC_MESSAGES" / "messages.po"
    verb = "update" if po.exists() else "init"
    subprocess.run([str(Path(sys.executable).with_name("pybabel")), verb, "-i", str(POT),
                    "-d", str(LOCALE), "-l", lang, "--no-wrap",
                    *(["--ignore-obsolete", "--no-fuzzy-matching"] if verb == "update" else [])],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    extract()
    update("ja")
    print(f"catalogs updated from {POT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
