"""What the hub wrote, and the residents' personal values the tests gave it: for the
test that finds none of the second in the first.

``WATCH`` (one per process) gathers, as the harness runs hubs:

- *written*: every line the hub process printed (its JSON log, decoded so escaped
  text is seen as text), every ``/metrics`` text scraped at a hub's stop, every error
  body the hub answered, every refusal (code and reason) the hub sent a peer;
- *personal*: every name, kana, address, 個人番号 and 住民票コード in what was posted to
  the hub or pushed to it through a mock.

``hits()`` says which personal values appear in what was written: names, kana and
addresses as substrings of the non-ASCII runs of the text, numbers and codes as whole
digit runs (so a timestamp never matches a code by chance).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_TEXT_KEYS = frozenset({"name_kanji", "name_kana", "name", "common_name", "former_address",
                        "planned_address", "address", "previous_address", "text"})
_NUMBER_KEYS = frozenset({"individual_number", "resident_code"})
_RUN = re.compile(r"[^\x00-\x7f]+")
_DIGITS = re.compile(r"\d+")


@dataclass
class Watch:
    written: list[str] = field(default_factory=list)
    texts: set[str] = field(default_factory=set)     # names, kana, addresses
    numbers: set[str] = field(default_factory=set)   # 個人番号, 住民票コード

    def note_sent(self, obj: Any) -> None:
        """Remember the personal values in a body sent to the hub (or a mock's push)."""
        if isinstance(obj, dict):
            for key, value in obj.items():
                if isinstance(value, str) and key in _NUMBER_KEYS and value.isdigit():
                    self.numbers.add(value)
                elif isinstance(value, str) and key in _TEXT_KEYS and len(value) >= 3:
                    self.texts.add(value)
                else:
                    self.note_sent(value)
        elif isinstance(obj, list):
            for value in obj:
                self.note_sent(value)

    def note_written(self, text: str) -> None:
        """Something the hub wrote; a JSON line is decoded first."""
        try:
            obj = json.loads(text)
        except ValueError:
            self.written.append(text)
            return
        self.written.append(json.dumps(obj, ensure_ascii=False))

    def hits(self) -> list[tuple[str, str]]:
        """(the personal value, where it was written) for each one found."""
        runs: dict[str, str] = {}
        digits: dict[str, str] = {}
        for text in self.written:
            for run in _RUN.findall(text):
                runs.setdefault(run, text)
            for d in _DIGITS.findall(text):
                digits.setdefault(d, text)
        found = [(n, digits[n][:300]) for n in self.numbers if n in digits]
        joined = "\n".join(runs)
        for value in self.texts:
            run_value = max(_RUN.findall(value), key=len, default="")
            if len(run_value) >= 3 and run_value in joined:
                where = next(r for r in runs if run_value in r)
                found.append((value, runs[where][:300]))
        return sorted(found)


WATCH = Watch()
