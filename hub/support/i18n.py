"""The staff's language: message catalogs, the language a request asks for, and times,
ages and dates as a Japanese city's clerks read them.

Text shown to staff is written in English in the source, marked for the catalog
(``_`` in templates, ``N_`` for names kept in tables), and translated from
``hub/locale/<lang>/LC_MESSAGES/messages.po`` — gettext catalogs kept with Babel
(``make messages`` extracts and updates them; ``tests/hub/test_catalog.py`` fails on a
message without its Japanese).  Japanese is the default; English is asked for by the
console's setting (a cookie), ``Accept-Language``, or ``--lang en`` / ``JUKIHUB_LANG``
on the command line.  API error *codes* are never translated; their human messages are.

Times are shown in Asia/Tokyo with the zone named (``2026-12-03 18:05:19 JST``); ages
as ``3分前``; a date of birth in 和暦 with the Gregorian date beside it.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
import os
from pathlib import Path
from zoneinfo import ZoneInfo

LANGUAGES = ("ja", "en")
DEFAULT = "ja"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
TOKYO = ZoneInfo("Asia/Tokyo")


def N_(message: str) -> str:  # noqa: N802 (gettext's name for "mark, translate later")
    """Marks ``message`` for the catalog where it is defined; translated where shown."""
    return message


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalog of ``lang`` (English: the source text itself).  Read from its ``.po``
    file and compiled in memory, once per process."""
    if lang not in LANGUAGES or lang == "en":
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def language(accept: str | None = None, chosen: str | None = None,
             default: str = DEFAULT) -> str:
    """The language to answer in: ``chosen`` (a setting) if it is one we have, else the
    first of ``Accept-Language`` we have (by its q-values), else ``default`` (Japanese:
    the API passes English, for the register system, a machine)."""
    if chosen in LANGUAGES:
        return chosen  # type: ignore[return-value]
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept or "")[:500].split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, i, primary))
    return min(ranked)[2] if ranked else default


def command_language(given: str | None = None) -> str:
    """The language of a command's output: ``--lang``, else ``JUKIHUB_LANG``, else
    Japanese (the staff's terminals; ``LANG`` on a server is rarely theirs)."""
    return language(None, given or os.environ.get("JUKIHUB_LANG"))


# 和暦: each era from its first day (the register's own forms write dates this way).
_ERAS = ((dt.date(2019, 5, 1), "令和"), (dt.date(1989, 1, 8), "平成"),
         (dt.date(1926, 12, 25), "昭和"), (dt.date(1912, 7, 30), "大正"),
         (dt.date(1873, 1, 1), "明治"))


def wareki(day: dt.date) -> str | None:
    """``1990-03-04`` → ``平成2年3月4日`` (the first year is 元年); ``None`` before the
    Gregorian calendar came to Japan (明治6年)."""
    for start, era in _ERAS:
        if day >= start:
            year = day.year - start.year + 1
            return f"{era}{'元' if year == 1 else year}年{day.month}月{day.day}日"
    return None


class Speaker:
    """Text in one language: its catalog, and times, ages and dates written its way."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT
        self.catalog = translations(self.lang)

    def gettext(self, message: str) -> str:
        return self.catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.catalog.ngettext(singular, plural, n)

    def when(self, epoch: float | None) -> str:
        """A moment in Asia/Tokyo, with the zone: ``2026-12-03 18:05:19 JST``."""
        if epoch is None:
            return "—"
        return dt.datetime.fromtimestamp(epoch, TOKYO).strftime("%Y-%m-%d %H:%M:%S %Z")

    def duration(self, seconds: float | None) -> str:
        """``95`` → ``1分35秒`` / ``1 min 35 s``; ``None`` → ``—``."""
        if seconds is None:
            return "—"
        s = int(max(0.0, float(seconds)))
        d, rest = divmod(s, 86400)
        h, rest = divmod(rest, 3600)
        m, sec = divmod(rest, 60)
        units = (("日", " d"), ("時間", " h"), ("分", " min"), ("秒", " s"))
        parts = [(v, u) for v, u in zip((d, h, m, sec), units, strict=True) if v]
        if not parts:
            return "0秒" if self.lang == "ja" else "0 s"
        shown = parts[:2]  # the two largest units: 2時間5分, not 2時間5分13秒
        if self.lang == "ja":
            return "".join(f"{v}{u[0]}" for v, u in shown)
        return " ".join(f"{v}{u[1]}" for v, u in shown)

    def ago(self, seconds: float | None) -> str:
        """How long ago: ``3分前`` / ``3 min ago``; under a second ``たった今`` / ``just now``."""
        if seconds is None:
            return "—"
        if seconds < 1:
            return self.gettext("just now")
        text = self.duration(seconds)
        return f"{text}前" if self.lang == "ja" else f"{text} ago"

    def date(self, iso: str | None) -> str:
        """A date as the register's forms write it: in Japanese ``平成2年3月4日
        (1990-03-04)``; in English the ISO date.  Text that is not a date is shown as
        it is."""
        if not iso:
            return "—"
        try:
            day = dt.date.fromisoformat(iso)
        except ValueError:
            return iso
        era = wareki(day) if self.lang == "ja" else None
        return f"{era} ({iso})" if era else iso
