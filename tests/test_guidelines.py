"""Guidelines for the label page (textal.workspace.guidelines and ``textal guidelines``): the
file format, its errors (one line naming the file and line, exit 2), and nothing lost on a bad
file. The page side is in tests/test_label_page.py."""

from __future__ import annotations

import pytest

from tests.hardening import run_cli
from textal.errors import TextalError
from textal.workspace.config import WorkspaceConfig, write_config
from textal.workspace.guidelines import GUIDELINES_NAME, load_guidelines, parse_guidelines

LABELS = ("billing", "refund")
FILE = """Read the whole ticket first.
Shipping questions are billing.

# refund
The customer wants money back,
even partly.

# billing
Invoices and\x1b[31m charges\u202e.
"""


def test_the_file_format_gives_instructions_and_one_line_per_label():
    guidelines = parse_guidelines(FILE, LABELS, where="g.txt")
    assert (
        guidelines.instructions == "Read the whole ticket first.\nShipping questions are billing."
    )
    assert dict(guidelines.labels) == {
        "billing": "Invoices and charges.",  # escapes and bidi controls removed
        "refund": "The customer wants money back, even partly.",
    }


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Intro\n# billing\nx\n# refunds\ny", "g.txt line 4: 'refunds' is not a label"),
        ("# billing\nx\n# billing\ny", "g.txt line 3: 'billing' is described twice"),
        ("# refund\n" + "x" * 501, "g.txt: the description of 'refund' has 501 characters"),
    ],
)
def test_bad_files_are_refused_naming_the_line(text, error):
    with pytest.raises(TextalError, match=error):
        parse_guidelines(text, LABELS, where="g.txt")


def test_the_cli_sets_shows_and_refuses_keeping_what_was_set(tmp_path, capsys):
    root = tmp_path / "ws"
    root.mkdir()
    write_config(root, WorkspaceConfig(model="m", dim=4, store_uri="memory", labels=LABELS))
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(FILE, encoding="utf-8")
    bad.write_text("# refnud\nx\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "guidelines", "--workspace", root, good)
    assert code == 0 and "descriptions of billing, refund" in out
    code, out, err = run_cli(capsys, "guidelines", "--workspace", root, bad)
    assert code == 2 and out == ""
    assert err == f"error: {bad} line 1: 'refnud' is not a label of this workspace " + (
        "(billing, refund); a description starts with '# LABEL'\n"
    )
    assert load_guidelines(root).labels["refund"].startswith("The customer wants money back")
    code, out, _ = run_cli(capsys, "guidelines", "--workspace", root)
    assert code == 0 and out.startswith("Read the whole ticket first.\n")
    assert "\n# refund\nThe customer wants money back, even partly.\n" in out
    (root / GUIDELINES_NAME).write_text("{not json", encoding="utf-8")
    code, _, err = run_cli(capsys, "guidelines", "--workspace", root)
    assert code == 2 and "not valid textal guidelines" in err and err.count("\n") == 1
