"""Making untrusted text safe to show: in spreadsheets (formula injection) and terminals (escapes).

Texts come from users' files and end up in exported CSVs that people open in Excel or LibreOffice,
and in terminal output. Neither function changes ordinary text.
"""

from __future__ import annotations

import re

# A spreadsheet evaluates a cell that starts with one of these as a formula (OWASP "CSV
# injection"). The apostrophe is escaped too so that undo_spreadsheet_safe is an exact inverse.
_FORMULA_STARTS = frozenset("=+-@\t\r'")

_ANSI_ESCAPE = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]                  # CSI: colours, cursor movement, erase
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?       # OSC: window title, hyperlinks (BEL or ST ends)
    | \x1b[PX^_][^\x1b]*(?:\x1b\\)?            # DCS, SOS, PM, APC strings (ST ends)
    | \x1b[ -/]*[0-~]                          # any other escape sequence
    | \x9b[0-?]*[ -/]*[@-~]                    # 8-bit CSI
    """,
    re.VERBOSE,
)
# C0 controls but \t and \n, DEL, C1 controls, and the bidi embeddings/overrides/isolates that
# make text display in another order than it is stored ("Trojan Source").
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def spreadsheet_safe(cell: str) -> str:
    """Prefix ``'`` to a cell that starts with ``= + - @``, tab, CR or ``'``.

    Spreadsheets show the ``'`` as "this is text" and never run the cell as a formula. Apply it to
    text cells only (ids, texts, labels), not to numbers such as scores.
    """
    return "'" + cell if cell[:1] in _FORMULA_STARTS else cell


def undo_spreadsheet_safe(cell: str) -> str:
    """The inverse of :func:`spreadsheet_safe`, for reading back a file textal exported.

    ``undo_spreadsheet_safe(spreadsheet_safe(s)) == s`` for every string; a cell whose ``'`` a
    spreadsheet already dropped on saving is returned unchanged.
    """
    return cell[1:] if cell[:1] == "'" and cell[1:2] in _FORMULA_STARTS else cell


def terminal_safe(text: str) -> str:
    """Remove ANSI escape sequences, control characters (except newline and tab) and bidi controls.

    Everything else, including all printable Unicode, is kept as it is.
    """
    return _UNSAFE_CHARS.sub("", _ANSI_ESCAPE.sub("", text))
