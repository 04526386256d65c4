"""Spreadsheet formula injection and terminal escape sequences are neutralised; text is kept."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from textal.textsafe import spreadsheet_safe, terminal_safe, undo_spreadsheet_safe

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'quoted", "''quoted"),
        ("a = b", "a = b"),
        ("", ""),
        ("naïve 😀", "naïve 😀"),
    ],
)
def test_spreadsheet_safe(cell: str, safe: str) -> None:
    assert spreadsheet_safe(cell) == safe
    assert undo_spreadsheet_safe(safe) == cell


def test_undo_leaves_cells_a_spreadsheet_already_unescaped() -> None:
    assert undo_spreadsheet_safe("-12") == "-12"
    assert undo_spreadsheet_safe("'tis") == "'tis"
    assert undo_spreadsheet_safe("'") == "'"


@given(st.text())
def test_spreadsheet_safe_never_starts_a_formula_and_is_reversible(cell: str) -> None:
    safe = spreadsheet_safe(cell)
    assert not safe.startswith(FORMULA_STARTS)
    assert undo_spreadsheet_safe(safe) == cell
    assert safe in (cell, "'" + cell)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[31mred\x1b[0m plain", "red plain"),
        ("\x1b[2J\x1b[Hcleared", "cleared"),
        ("\x1b]0;owned title\x07after", "after"),
        ("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x1bPdevice\x1b\\x", "x"),
        ("\x9b31mC1 CSI", "C1 CSI"),
        ("\x1b7saved\x1b8", "saved"),
        ("over\rwrite\x08\x7f\x00", "overwrite"),
        ("line\nnext\tcell", "line\nnext\tcell"),
        ("abc\u202edcba\u202c \u2066x\u2069", "abcdcba x"),
        ("Ünïcödé 中文 עברית 😀 \u00a0", "Ünïcödé 中文 עברית 😀 \u00a0"),
        ("lone \x1b", "lone "),
    ],
)
def test_terminal_safe(text: str, shown: str) -> None:
    assert terminal_safe(text) == shown


@given(st.text(st.one_of(st.sampled_from("\x1b[]0;m\x07\\\x9b\u202e\n\t"), st.characters())))
def test_terminal_safe_output_has_no_controls(text: str) -> None:
    shown = terminal_safe(text)
    for char in shown:
        assert char in "\n\t" or unicodedata.category(char) != "Cc", repr(shown)
        assert char not in BIDI
    assert terminal_safe(shown) == shown


@given(st.text(st.characters(exclude_categories=["Cc", "Cs"])))
def test_terminal_safe_keeps_printable_text(text: str) -> None:
    assert terminal_safe(text) == "".join(c for c in text if c not in BIDI)
