"""What the commands print for people, in the staff's language: Japanese unless
``--lang en`` or ``JUKIHUB_LANG=en`` (``hub.support.i18n``).  Codes are printed by their
names with the code beside them, as the console shows them; what a script reads
(``--json``, ``--csv``) stays as it is."""

from __future__ import annotations

from typing import Any

from hub.support import words
from hub.support.i18n import Speaker, command_language

_chosen: str | None = None
_speaker: Speaker | None = None


def use(lang: str | None) -> None:
    """The language of this command's output (``--lang``; ``None``: the default)."""
    global _chosen, _speaker
    _chosen, _speaker = lang, None


def speaker() -> Speaker:
    """This command's speaker: its catalog is read when first needed (a mock endpoint or
    the hub itself prints nothing for people, and never reads it)."""
    global _speaker
    if _speaker is None:
        _speaker = Speaker(command_language(_chosen))
    return _speaker


def _(message: str, **values: Any) -> str:
    """``message`` translated, with ``values`` put in."""
    text = speaker().gettext(message)
    return text % values if values else text


def word(table: str, code: str | None) -> str:
    """A code as staff read it: ``符号取得結果 (intermediate.code_issued)``."""
    if not code:
        return "—"
    named = words.name(speaker(), table, code)
    return f"{named} ({code})" if named else code


def table(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Rows under their columns, each as wide as its widest text (Japanese characters
    take two columns of a terminal)."""
    from rich.cells import cell_len

    widths = [max([cell_len(c), *(cell_len(str(r[i])) for r in rows)])
              for i, c in enumerate(columns)]
    for line in (columns, *rows):
        print("  ".join(str(v) + " " * (w - cell_len(str(v)))
                        for v, w in zip(line, widths, strict=True)).rstrip())
