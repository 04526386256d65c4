"""scripts/make_datasets.py: the derived reference sets have the documented sizes and classes.

Reads ../shared/data (skipped where absent, failed under CI); writes only under pytest's tmp_path.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.realdata import DATA_DIR, require_data

REPO = Path(__file__).resolve().parents[1]


def make(name: str, out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    require_data(DATA_DIR / "README.md")
    script = REPO / "scripts" / "make_datasets.py"
    args = [sys.executable, str(script), "--data", str(DATA_DIR), "--out", str(out), name]
    subprocess.run(args, check=True, capture_output=True)
    read = lambda part: pd.read_csv(out / name / f"{part}.csv", keep_default_na=False, dtype=str)  # noqa: E731
    return read("pool"), read("test")


@pytest.mark.slow  # reads AG News (120,000 rows) in a child process
def test_ag_rare_cuts_sci_tech_to_three_percent(tmp_path):
    pool, test = make("ag-rare", tmp_path)
    assert len(pool) == 5000 and len(test) == 1000
    counts = pool["label"].value_counts()
    assert counts["Sci/Tech"] == 150
    assert set(counts.index) == {"World", "Sports", "Business", "Sci/Tech"}
    assert test["label"].value_counts().min() > 100  # the test set keeps AG News's balance
    again, _ = make("ag-rare", tmp_path / "again")
    assert again.equals(pool)  # seeded


@pytest.mark.slow
def test_imdb_stars_has_eight_rating_classes(tmp_path):
    pool, test = make("imdb-stars", tmp_path)
    assert len(pool) == 5000 and len(test) == 1000
    assert set(pool["label"]) == set(test["label"]) == {"1", "2", "3", "4", "7", "8", "9", "10"}
    assert not pool["text"].str.contains("<br />").any()
