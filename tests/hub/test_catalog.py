"""The staff's catalogs: every message the console and the commands show, as
``pybabel extract`` finds it in the source (``babel.cfg``), has its Japanese in
``hub/locale/ja``, with the same placeholders; and Japanese is what a page gets unless
English is asked for."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from devtools.harness import ROOT
from hub.support.i18n import LOCALE_DIR, Speaker, language, translations


def extracted(tmp: Path) -> set[str]:
    pot = tmp / "messages.pot"
    subprocess.run([str(Path(sys.executable).with_name("pybabel")), "extract", "-F",
                    str(ROOT / "babel.cfg"), "-k", "N_", "-o", str(pot), str(ROOT)],
                   check=True, capture_output=True)
    with pot.open("rb") as f:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}


def test_every_message_has_its_japanese(tmp_path: Path) -> None:
    with (LOCALE_DIR / "ja" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale="ja")
    translated = {(m.id if isinstance(m.id, str) else m.id[0]): m for m in catalog if m.id}
    wanted = extracted(tmp_path)
    assert len(wanted) > 150  # the extraction found the templates and the tables
    missing = sorted(m for m in wanted if m not in translated
                     or not all(translated[m].string if isinstance(translated[m].string, tuple)
                                else [translated[m].string]))
    assert not missing, f"no Japanese for: {missing[:10]} (run make messages, then translate)"
    differ = [m.id for m in catalog if m.id and any(
        _placeholders(s) != _placeholders(m.id if isinstance(m.id, str) else m.id[0])
        for s in (m.string if isinstance(m.string, tuple) else (m.string,)))]
    assert not differ, f"placeholders differ from the English: {differ}"


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\((\w+)\)[sd]", text))


def test_japanese_unless_english_is_asked_for() -> None:
    assert language(None) == "ja"
    assert language("en-US,en;q=0.9") == "en"
    assert language("fr-FR, en;q=0.5, ja;q=0.8") == "ja"
    assert language("de, en;q=0") == "ja"  # q=0: not acceptable
    assert language("en", chosen="ja") == "ja"  # the console's setting wins
    assert language("en;q=nonsense") == "ja"
    assert translations("ja").gettext("Inbox") == "受信箱"
    assert translations("en").gettext("Inbox") == "Inbox"


def test_times_ages_and_dates_as_the_city_reads_them() -> None:
    ja, en = Speaker("ja"), Speaker("en")
    assert ja.when(0) == "1970-01-01 09:00:00 JST"
    assert ja.ago(185) == "3分5秒前" and en.ago(185) == "3 min 5 s ago"
    assert ja.ago(7300) == "2時間1分前" and ja.ago(0.2) == "たった今"
    assert ja.duration(90061) == "1日1時間"
    assert ja.date("1990-03-04") == "平成2年3月4日 (1990-03-04)"
    assert ja.date("2019-05-01") == "令和元年5月1日 (2019-05-01)"
    assert ja.date("2019-04-30") == "平成31年4月30日 (2019-04-30)"
    assert ja.date("1926-12-25") == "昭和元年12月25日 (1926-12-25)"
    assert en.date("1990-03-04") == "1990-03-04"
    assert ja.date("not a date") == "not a date"
