"""The leak scan's own check: it finds what it must, escaped or not, and nothing else."""

from __future__ import annotations

import json

from devtools.leaks import Watch


def test_the_watch_finds_escaped_names_and_whole_numbers_only() -> None:
    w = Watch()
    w.note_sent({"resident_code": "12345678901", "resident": {
        "name_kanji": "山田　太郎", "individual_number": "123456789018",
        "address": {"text": "静岡県沼津市大手町１番"}}})
    w.note_written(json.dumps({"msg": "refused", "item": "name_kanji"}))
    w.note_written("ts 912345678901234 and 1234567890")  # digits, but not the code
    w.note_written("住民票コード is required")
    assert w.hits() == []
    w.note_written(json.dumps({"msg": "bad name 山田　太郎"}))  # \\u escaped in the line
    w.note_written("id=12345678901;")
    w.note_written("住所 静岡県沼津市大手町１番地")
    assert [value for value, _ in w.hits()] == [
        "12345678901", "山田　太郎", "静岡県沼津市大手町１番"]
