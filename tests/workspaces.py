"""Fixtures: real workspaces, ingested once per store kind from ../shared/data, copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from textal.workspace import Workspace

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
AMAZON = SHARED_DATA / "uci_sentiment_labelled" / "amazon.csv"
WORKSPACE_STORES = {"memory": "memory", "lite": None}  # None: the default Milvus Lite file


def require_shared_data() -> None:
    if not AMAZON.exists():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (put shared/ beside the checkout)")


@pytest.fixture(scope="session")
def amazon_template(tmp_path_factory):
    """``{store kind: workspace dir}`` holding amazon.csv (1,000 reviews) with gold labels."""
    require_shared_data()
    templates = {}
    for kind, uri in WORKSPACE_STORES.items():
        root = tmp_path_factory.mktemp(f"template-{kind}") / "ws"
        with Workspace.open(root, store_uri=uri, labels=["negative", "positive"]) as ws:
            ws.ingest(AMAZON, label_column="label")
        templates[kind] = root
    return templates


@pytest.fixture(params=list(WORKSPACE_STORES))
def workspace_dir(request, amazon_template, tmp_path) -> Path:
    """A private copy of the ingested amazon workspace, for each store kind."""
    root = tmp_path / "ws"
    shutil.copytree(amazon_template[request.param], root)
    return root


def gold_labels(ws: Workspace, ids: list[str]) -> list[tuple[str, str]]:
    """The oracle: each item's gold label from the store's metadata."""
    return [(item.id, item.metadata["gold"]) for item in ws.store.get(ids)]
