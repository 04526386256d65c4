"""Fixtures: real workspaces of real reviews from ../shared/data, made once per store kind on first
use and copied per test. The reviews are embedded once: other stores get the same items."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.realdata import AMAZON, require_data
from textal.workspace import Workspace

WORKSPACE_STORES = {"memory": "memory", "lite": None}  # None: the default Milvus Lite file


@pytest.fixture(scope="session")
def amazon_template(tmp_path_factory) -> Callable[[str], Path]:
    """``template(store kind) -> workspace dir`` holding amazon.csv (1,000 reviews) with gold
    labels. The memory workspace is ingested; the others copy its items (ids, vectors, texts,
    metadata), so the model embeds the reviews once."""
    require_data(AMAZON)
    templates: dict[str, Path] = {}

    def template(kind: str) -> Path:
        if kind not in templates:
            root = tmp_path_factory.mktemp(f"template-{kind}") / "ws"
            uri = WORKSPACE_STORES[kind]
            with Workspace.open(root, store_uri=uri, labels=["negative", "positive"]) as ws:
                if kind == "memory":
                    ws.ingest(AMAZON, label_column="label")
                else:
                    with Workspace.open(template("memory"), create=False) as source:
                        for chunk in source.store.iterate(with_metadata=True):
                            texts = [item.text for item in source.store.get(chunk.ids)]
                            ws.store.add(chunk.ids, chunk.vectors, texts, chunk.metadata)
            templates[kind] = root
        return templates[kind]

    return template


@pytest.fixture(params=["memory", pytest.param("lite", marks=pytest.mark.slow)])
def workspace_dir(request, amazon_template, tmp_path) -> Path:
    """A private copy of the ingested amazon workspace, for each store kind (Milvus Lite in the
    slow lane: opening it takes seconds)."""
    root = tmp_path / "ws"
    shutil.copytree(amazon_template(request.param), root)
    return root


def gold_labels(ws: Workspace, ids: list[str]) -> list[tuple[str, str]]:
    """The oracle: each item's gold label from the store's metadata."""
    return [(item.id, item.metadata["gold"]) for item in ws.store.get(ids)]
