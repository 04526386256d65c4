"""A test whose real data is missing skips on a developer's machine and fails under ``CI``."""

from __future__ import annotations

import pytest

NEEDS_MISSING_DATA = """
from tests.realdata import DATA_DIR, require_data

def test_needs_data():
    require_data(DATA_DIR / "no-such-dataset" / "train.csv")
"""


@pytest.mark.parametrize("ci", [None, "1"])
def test_missing_data_fails_only_under_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    pytester.makepyfile(test_needs=NEEDS_MISSING_DATA)
    result = pytester.runpytest_inprocess("-rs", "-p", "no:cacheprovider")
    if ci is None:
        result.assert_outcomes(skipped=1)
    else:
        result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no-such-dataset*"])  # the reason names the missing file
