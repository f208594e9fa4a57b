"""Character conversion, sans-IO and table-driven (住基ネット 文字).

- ``seion_kana``: 清音化かな (item 5 of the identity file, and the key of kana search),
  by the rules of the 住民記録システム標準仕様書 §2.1.2, applied in this order:
  half-width made full-width, hiragana made katakana, dash variants folded to ー;
  ヂ→ジ, ヅ→ズ, ヲ→オ, ヴァ/ヴィ/ヴ/ヴェ/ヴォ→バ/ビ/ブ/ベ/ボ, *then* voiced and
  semi-voiced marks removed; small kana made large; long-vowel marks dropped; from the
  second character of each word, ウ after a kana of the オ row read as オ; spaces folded
  to one full-width space.
- ``characters``: a text's characters as the 住基ネット counts them — a kanji with an
  ideographic variation selector after it (``邉`` + U+E0102, an IVS from the city's 外字
  table) is *one* character: ``char_length`` is what 項目長 counts.
- ``gaiji_count``: 外字数, the characters outside JIS X 0208 (levels 1–2 and the
  non-kanji rows), the city's own 外字 (private-use code points) among them; a
  character with a variation selector is judged by its base character and its MJ entry
  (a 外字 unless MJ gives it the base, a JIS X 0208 character, as its own form).
- ``substitute``: 代替文字 for the send-destination file: characters outside JIS X 0208
  and JIS X 0212 replaced by their standard substitutes from the MJ shrink maps
  (jntajis-python) — a character with a variation selector by its MJ substitute, else
  its base character — or the whole item given in kana where a character has none, with
  one position flag per character.
- ``UnifiedCharset``: the register's text into the 住基ネット unified characters and
  back, through the city's 外字 table (a TSV file that config names).

jaconv does width and kana conversion, jntajis the MJ shrink maps; the only tables
written here are the rules' own short lists.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jaconv
import jntajis

from protocols.errors import BodyError

_DASHES = str.maketrans({"―": "ー", "－": "ー", "‐": "ー", "-": "ー", "ｰ": "ー", "—": "ー",
                         "‒": "ー", "–": "ー", "−": "ー"})
_BEFORE_MARKS = (("ヴァ", "バ"), ("ヴィ", "ビ"), ("ヴェ", "ベ"), ("ヴォ", "ボ"), ("ヴ", "ブ"),
                 ("ヂ", "ジ"), ("ヅ", "ズ"))
# Small kana made large, and ヲ read as オ — after the marks are gone, so ヺ (ヲ with a
# mark) folds as ヲ does (hypothesis found it left as ヲ, and ヲ then became オ).
_SMALL = str.maketrans("ァィゥェォッャュョヮヵヶヲ", "アイウエオツヤユヨワカケオ")
_O_ROW = frozenset("オコソトノホモヨロ")  # after the folds above: ゴ→コ, ョ→ヨ, ヲ→オ, …
_MARKS = {"\u3099", "\u309a"}  # combining voiced and semi-voiced sound marks
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")  # where the register system's 外字 live
# Variation selectors (VS1–16, and VS17–256 that ideographic variation sequences use).
_SELECTORS = "\ufe00-\ufe0f\U000e0100-\U000e01ef"
_CHARACTER = re.compile(f"[^{_SELECTORS}][{_SELECTORS}]*|[{_SELECTORS}]+")
_HAS_SELECTOR = re.compile(f"[{_SELECTORS}]")


def characters(text: str) -> list[str]:
    """``text`` as characters: each a code point with any variation selectors after it."""
    if _HAS_SELECTOR.search(text) is None:
        return list(text)  # nearly always
    return _CHARACTER.findall(text)


def char_length(text: str | None) -> int:
    """Characters in ``text`` (項目長): a kanji with its variation selector counts once."""
    if not text:
        return 0
    if _HAS_SELECTOR.search(text) is None:
        return len(text)
    return len(_CHARACTER.findall(text))


@lru_cache(maxsize=65536)  # a resident's name comes back with each of their changes
def seion_kana(kana: str) -> str:
    """清音化かな of a kana name (see the module docstring for the rules)."""
    text = jaconv.h2z(kana, kana=True, ascii=True, digit=True)
    text = jaconv.hira2kata(text).translate(_DASHES)
    for before, after in _BEFORE_MARKS:
        text = text.replace(before, after)
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if ch not in _MARKS)
    text = unicodedata.normalize("NFC", text).translate(_SMALL).replace("ー", "")
    out: list[str] = []
    for ch in text:
        if ch in (" ", "\u3000"):
            if out and out[-1] != "\u3000":
                out.append("\u3000")
            continue
        if ch == "ウ" and out and out[-1] in _O_ROW:
            ch = "オ"
        out.append(ch)
    return "".join(out).strip("\u3000")


@lru_cache(maxsize=65536)
def in_jisx0208(ch: str) -> bool:
    """Whether ``ch`` is in JIS X 0208 (or is ASCII)."""
    try:
        ch.encode("iso2022_jp")
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=65536)
def in_jisx0212(ch: str) -> bool:
    """Whether ``ch`` is in JIS X 0212 (the supplementary kanji)."""
    if in_jisx0208(ch):
        return False
    try:
        ch.encode("iso2022_jp_1")
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=65536)  # names and addresses come back with each change of a resident
def gaiji_count(text: str | None) -> int:
    """外字数: characters of ``text`` outside JIS X 0208 (see ``is_gaiji``)."""
    return sum(1 for ch in characters(text or "") if is_gaiji(ch))


@lru_cache(maxsize=65536)
def is_gaiji(ch: str) -> bool:
    """Whether the character ``ch`` is outside JIS X 0208: a plain one by itself; one with
    a variation selector by its base character and its MJ entry — not a 外字 only when
    its base is in JIS X 0208 and MJ gives that base as the sequence's own form."""
    if len(ch) == 1:
        return not in_jisx0208(ch)
    base = ch[0]
    return not in_jisx0208(base) or base not in set(jntajis.mj_shrink_candidates(
        ch, _ALL_SCHEMES))


_ALL_SCHEMES = int(jntajis.MJShrinkSchemeCombo.JIS_INCORPORATION_UCS_UNIFICATION_RULE
                   | jntajis.MJShrinkSchemeCombo.INFERENCE_BY_READING_AND_GLYPH
                   | jntajis.MJShrinkSchemeCombo.MOJ_NOTICE_582
                   | jntajis.MJShrinkSchemeCombo.MOJ_FAMILY_REGISTER_ACT_RELATED_NOTICE)

# 代替文字変換結果 and the per-character position flags.
NOT_NEEDED, SUBSTITUTED, KANA, GETA = "0", "1", "2", "3"
GETA_MARK = "〓"  # 下駄記号: where a character has neither a substitute nor a reading


@dataclass(frozen=True, slots=True)
class Substitution:
    result: str     # 代替文字変換結果: 0 none needed, 1 standard substitutes, 2 given in
                    # kana, 3 a character left as 〓 (no substitute, no reading)
    text: str       # 代替文字氏名 / 代替文字住所
    positions: str  # 代替文字位置情報: one flag per character of ``text``


def _in_jis(text: str) -> bool:
    return all(in_jisx0208(c) or in_jisx0212(c) for c in text)


def _standard_substitute(ch: str) -> str | None:
    """The MJ shrink maps' substitute of ``ch`` in JIS X 0208/0212; for a character with
    a variation selector, else its base character (or the base's own substitute)."""
    for cand in jntajis.mj_shrink_candidates(ch, _ALL_SCHEMES):
        if cand != ch and _in_jis(cand):
            return cand
    if len(ch) > 1:
        base = ch[0]
        return base if _in_jis(base) else _standard_substitute(base)
    return None


def substitute(text: str, kana: str | None = None, geta: bool = False) -> Substitution:
    """代替文字 of ``text``; ``kana`` (its reading) is used where a character has no
    standard substitute: the whole item is then given in kana, flagged 2.  Without a
    reading (an address) and with ``geta``, such a character becomes 〓, flagged 3;
    without either it is a ``BodyError``."""
    out: list[str] = []
    flags: list[str] = []
    for ch in characters(text):
        if len(ch) == 1 and (in_jisx0208(ch) or in_jisx0212(ch)):
            out.append(ch)
            flags.append(NOT_NEEDED)
            continue
        sub = _standard_substitute(ch)
        if sub is None and kana is None and geta:
            out.append(GETA_MARK)
            flags.append(GETA)
            continue
        if sub is None:
            if kana is None:
                raise BodyError("no_substitute", "a character has no substitute and no "
                                "kana reading was given")
            full = jaconv.h2z(kana, kana=True, ascii=True, digit=True)
            return Substitution(KANA, full, KANA * len(full))
        out.append(sub)
        flags.append(SUBSTITUTED * len(sub))
    positions = "".join(flags)
    result = (GETA if GETA in positions else SUBSTITUTED if SUBSTITUTED in positions
              else NOT_NEEDED)
    return Substitution(result, "".join(out), positions)


class UnifiedCharset:
    """The city's 外字 table: register code points <-> 住基ネット unified characters.

    The file is UTF-8 TSV, one mapping a line: ``U+E000<TAB>𠮷`` (register code point,
    the unified character as text — an ideographic variation sequence if need be);
    ``#`` starts a comment.  Text without private-use characters passes unchanged.
    """

    def __init__(self, mapping: dict[str, str]) -> None:
        self.to_unified_map = dict(mapping)
        self.to_register_map = {v: k for k, v in mapping.items()}
        if len(self.to_register_map) != len(self.to_unified_map):
            raise ValueError("two register code points map to one unified character")
        # Longest first, so a base character never pre-empts its variation sequence.
        self._unified_keys = sorted(self.to_register_map, key=len, reverse=True)

    @classmethod
    def load(cls, path: Path) -> UnifiedCharset:
        mapping: dict[str, str] = {}
        for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            try:
                code, unified = line.split("\t")
                ch = chr(int(code.removeprefix("U+"), 16))
            except ValueError:
                raise ValueError(f"{path}:{n}: expected U+XXXX<TAB>character") from None
            if not 0xE000 <= ord(ch) <= 0xF8FF:
                raise ValueError(f"{path}:{n}: {code} is not a private-use code point")
            mapping[ch] = unified.strip()
        return cls(mapping)

    def to_unified(self, text: str) -> str:
        """Register text to unified characters; an unmapped 外字 is an error."""
        if _PRIVATE_USE.search(text) is None:
            return text  # nearly always: no 外字 in it
        out = []
        for ch in text:
            if 0xE000 <= ord(ch) <= 0xF8FF:
                try:
                    out.append(self.to_unified_map[ch])
                except KeyError:
                    raise BodyError("unmapped_gaiji",
                                    "a private-use character is not in the 外字 table") from None
            else:
                out.append(ch)
        return "".join(out)

    def to_register(self, text: str) -> str:
        """Unified characters back to the register's code points."""
        for key in self._unified_keys:
            if key in text:
                text = text.replace(key, self.to_register_map[key])
        return text
