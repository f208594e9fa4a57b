"""Character conversion with real names and rare kanji, against known answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols import charconv
from protocols.charconv import (
    GETA,
    GETA_MARK,
    KANA,
    NOT_NEEDED,
    SUBSTITUTED,
    UnifiedCharset,
    char_length,
    characters,
    gaiji_count,
    in_jisx0208,
    in_jisx0212,
    seion_kana,
    substitute,
)
from protocols.errors import BodyError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("kana", "seion"), [
    ("タカハシ　ハナコ", "タカハシ　ハナコ"),  # nothing to do
    ("ガッコウ", "カツコオ"),                 # marks removed, small made large, コウ → コオ
    ("ヂヅヲ", "シスオ"),                     # ヂ→ジ→シ, ヅ→ズ→ス, ヲ→オ
    ("ヴァイオリン", "ハイオリン"),           # ヴァ→バ before the mark goes
    ("ヴィヴェヴォヴ", "ヒヘホフ"),
    ("トウキョウ", "トオキヨオ"),             # ョ is of the オ row once made large
    ("サイトウ　ユウコ", "サイトオ　ユウコ"),  # ユ is of the ウ row: ユウ stays
    ("ウエノ", "ウエノ"),                     # a leading ウ stays
    ("オオノ", "オオノ"),
    ("コーヒー", "コヒ"),                     # long-vowel marks ignored
    ("コ―ヒ－", "コヒ"),                      # dash variants too
    ("ｻｲﾄｳ ｼﾞﾛｳ", "サイトオ　シロオ"),         # half-width in, full-width out
    ("さいとう", "サイトオ"),                 # hiragana in
    ("ワタナベ  ケンジ", "ワタナヘ　ケンシ"),   # spaces folded to one
])
def test_seion_kana(kana: str, seion: str) -> None:
    assert seion_kana(kana) == seion


@pytest.mark.parametrize(("text", "count"), [
    ("髙橋　花子", 1),   # 髙 (はしごだか) is not in JIS X 0208
    ("山﨑　太郎", 1),    # 﨑 (たつさき)
    ("𠮷田　一郎", 1),    # 𠮷 (つちよし), outside the BMP
    ("渡邊　健二", 0),    # 邊 and 邉 are in JIS X 0208
    ("渡邉　健二", 0),
    ("森鷗外", 1),        # 鷗 is in JIS X 0212 only
    ("静岡県沼津市御幸町１６番１号", 0),
    ("\ue000田", 1),       # the city's own 外字
])
def test_gaiji_count(text: str, count: int) -> None:
    assert gaiji_count(text) == count


def test_character_sets() -> None:
    assert in_jisx0208("邊") and not in_jisx0212("邊")
    assert in_jisx0212("鷗") and not in_jisx0208("鷗")
    assert not in_jisx0208("髙") and not in_jisx0212("髙")


@pytest.mark.parametrize(("text", "result", "out", "positions"), [
    ("髙橋　花子", SUBSTITUTED, "高橋　花子", "10000"),
    ("山﨑", SUBSTITUTED, "山崎", "01"),
    ("𠮷田", SUBSTITUTED, "吉田", "10"),
    ("渡邉", NOT_NEEDED, "渡邉", "00"),
    ("森鷗外", NOT_NEEDED, "森鷗外", "000"),  # JIS X 0212 is kept
])
def test_substitute(text: str, result: str, out: str, positions: str) -> None:
    sub = substitute(text)
    assert (sub.result, sub.text, sub.positions) == (result, out, positions)
    assert len(sub.positions) == len(sub.text)


def test_no_substitute_falls_back_to_kana() -> None:
    sub = substitute("\ue000田", kana="ﾖｼﾀﾞ")  # a private-use 外字 has no MJ substitute
    assert (sub.result, sub.text, sub.positions) == (KANA, "ヨシダ", "222")
    with pytest.raises(BodyError) as err:
        substitute("\ue000田")
    assert err.value.code == "no_substitute"


def test_unified_charset_round_trip() -> None:
    table = UnifiedCharset.load(ROOT / "data" / "gaiji.tsv")
    register = "\ue000田　\ue001橋　渡\ue003"
    unified = table.to_unified(register)
    assert unified == "𠮷田　髙橋　渡邉\U000E0102"  # 邉 with its variation selector
    assert table.to_register(unified) == register
    assert table.to_register("渡邉") == "渡邉"  # the plain character is not the variant
    with pytest.raises(BodyError) as err:
        table.to_unified("\ue0ff")
    assert err.value.code == "unmapped_gaiji"


def test_table_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "g.tsv"
    bad.write_text("U+4E00\t一\n", encoding="utf-8")
    with pytest.raises(ValueError, match="g.tsv:1"):
        UnifiedCharset.load(bad)


# ---- a kanji with an ideographic variation selector is one character --------------------

IVS = "邉\U000E0102"  # what the city's 外字 table maps U+E003 to (data/gaiji.tsv)


@pytest.mark.parametrize(("text", "chars"), [
    (f"渡{IVS}　太郎", ["渡", IVS, "\u3000", "太", "郎"]),
    ("渡辺", ["渡", "辺"]),
    ("葛\U000E0100飾", ["葛\U000E0100", "飾"]),
    ("\U000E0100", ["\U000E0100"]),  # a selector alone is a character of its own
    ("", []),
])
def test_characters_keep_a_selector_with_its_kanji(text: str, chars: list[str]) -> None:
    assert charconv.characters(text) == chars
    assert charconv.char_length(text) == len(chars)


def test_a_variation_sequence_counts_once_as_a_gaiji_judged_by_its_base_and_mj() -> None:
    assert charconv.gaiji_count(f"渡{IVS}　太郎") == 1   # the IVS glyph is not JIS X 0208's
    assert charconv.gaiji_count("渡邉　太郎") == 0       # the base alone is in JIS X 0208
    assert charconv.is_gaiji(IVS) and not charconv.is_gaiji("邉")
    assert charconv.gaiji_count("\U00020BB7\U000E0100") == 1  # 𠮷 (outside JIS) with a selector


def test_a_variation_sequence_is_substituted_by_its_base_never_the_whole_name() -> None:
    name = charconv.substitute(f"渡{IVS}　太郎", kana="ワタナベ　タロウ")
    assert (name.result, name.text, name.positions) == ("1", "渡邉　太郎", "01000")
    address = charconv.substitute(f"静岡県沼津市{IVS}町", geta=True)
    assert (address.result, address.text) == ("1", "静岡県沼津市邉町")  # no 〓
    assert charconv.char_length(name.text) == len(name.positions)


def test_the_register_gets_its_own_codes_back() -> None:
    table = charconv.UnifiedCharset.load(Path(__file__).resolve().parents[2] / "data" / "gaiji.tsv")
    unified = table.to_unified("渡\ue003　太郎")
    assert unified == f"渡{IVS}　太郎"
    assert table.to_register(unified) == "渡\ue003　太郎"
    assert table.to_register("渡邉　太郎") == "渡邉　太郎"  # the base alone is not the 外字


# ---- properties, for any text -------------------------------------------------------------

PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[
    HealthCheck.too_slow])
# Text as a register holds it: kanji (some with variation selectors), kana, ASCII, CJK
# extension B (𠮷), the odd symbol — and anything else Unicode has.
KANJI = st.sampled_from("髙橋山﨑𠮷田渡邉辻葛飾区一丁目番地号")
TEXT = st.one_of(
    st.lists(st.one_of(KANJI, KANJI.map(lambda c: c + "\U000E0100"),
                       st.characters(min_codepoint=0x3041, max_codepoint=0x30FF),
                       st.characters(min_codepoint=0x20, max_codepoint=0x7E)),
             max_size=30).map("".join),
    st.text(max_size=30))
KATAKANA = st.lists(st.characters(min_codepoint=0x30A1, max_codepoint=0x30FC)
                    | st.just("\u3000"), max_size=30).map("".join)
# A reading as the register holds one (``checks.check_kana``: ァ–ヶ, ー, the space).
READING = st.lists(st.characters(min_codepoint=0x30A1, max_codepoint=0x30F6)
                   | st.sampled_from("ー\u3000"), min_size=1, max_size=30).map("".join)


@PROPERTY
@given(TEXT)
def test_characters_cover_the_text_and_count_it(text: str) -> None:
    chars = characters(text)
    assert "".join(chars) == text
    assert char_length(text) == len(chars)
    assert 0 <= gaiji_count(text) <= len(chars)


@PROPERTY
@given(KATAKANA)
def test_seion_kana_is_a_normal_form(kana: str) -> None:
    once = seion_kana(kana)
    assert seion_kana(once) == once
    assert len(once) <= len(kana)


@PROPERTY
@given(TEXT, st.one_of(st.none(), READING))
def test_a_substitute_is_all_jis_with_a_flag_per_character(text: str,
                                                           kana: str | None) -> None:
    """With 〓 allowed (an address) or a reading given (a name), any text has a
    substitute: every character in JIS X 0208/0212 (or 〓), one position flag each, and
    the result the highest flag."""
    sub = substitute(text, kana=kana, geta=kana is None)  # never refused here
    assert len(sub.positions) == len(sub.text)
    assert all(in_jisx0208(c) or in_jisx0212(c) or c == GETA_MARK for c in sub.text)
    assert sub.result == max(sub.positions, default=NOT_NEEDED) or sub.result == KANA
    assert (GETA in sub.positions) == (sub.result == GETA)


@PROPERTY
@given(st.dictionaries(st.characters(min_codepoint=0xE000, max_codepoint=0xF8FF),
                       KANJI.map(lambda c: c + "\U000E0101"), max_size=8, min_size=1)
       .filter(lambda m: len(set(m.values())) == len(m)),
       st.data())
def test_the_gaiji_table_round_trips_register_text(mapping: dict[str, str],
                                                   data: st.DataObject) -> None:
    table = UnifiedCharset(mapping)
    plain = st.characters(min_codepoint=0x3041, max_codepoint=0x30FF)
    text = data.draw(st.lists(st.sampled_from(sorted(mapping)) | plain, max_size=20)
                     .map("".join))
    unified = table.to_unified(text)
    assert not any(0xE000 <= ord(c) <= 0xF8FF for c in unified)
    assert table.to_register(unified) == text
