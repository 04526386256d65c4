"""The real data folder (``../shared/data`` beside the checkout) and what a test does without it.

A test that needs a missing part (the data, a server, the browser) calls :func:`unavailable`: it
skips with the reason on a developer's machine and fails when ``CI`` is set, so a CI checkout
without ``../shared`` cannot look green.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
AMAZON = DATA_DIR / "uci_sentiment_labelled" / "amazon.csv"


def unavailable(reason: str) -> NoReturn:
    """Fail under CI (env ``CI`` set), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def require_data(*paths: Path) -> None:
    """Skip (fail under CI) unless the data folder and each of ``paths`` in it exist."""
    for path in (DATA_DIR, *paths):
        if not path.exists():
            unavailable(f"real data {path} absent (put shared/ beside the checkout)")
