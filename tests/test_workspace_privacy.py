"""Issue 21, outside the server: workspace files are private, label names that only differ in
Unicode normalisation are refused, and a re-ingested id whose text changed is reported."""

from __future__ import annotations

import csv
import stat
import unicodedata
from pathlib import Path

import pytest

from tests.hardening import YELP, run_cli
from tests.realdata import require_data


def _rows(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        writer.writerows(rows)
    return path


def _yelp(n: int) -> list[tuple[str, str]]:
    require_data(YELP)
    with open(YELP, encoding="utf-8") as f:
        return [(f"r{k}", row["text"]) for k, row in enumerate(csv.DictReader(f)) if k < n]


@pytest.mark.parametrize("store", ["memory", "lite"])
def test_what_the_commands_create_only_its_owner_can_read(capsys, tmp_path, store):
    root = tmp_path / "ws"
    data = _rows(tmp_path / "reviews.csv", _yelp(30))
    store_args = ["--store", "memory"] if store == "memory" else []
    init = ["init", "--workspace", root, "--labels", "negative,positive", *store_args]
    assert run_cli(capsys, *init)[0] == 0
    assert run_cli(capsys, "ingest", "--workspace", root, "--data", data)[0] == 0
    assert run_cli(capsys, "round", "--workspace", root, "--batch-size", "5")[0] == 0
    labels = _rows(tmp_path / "labels.csv", [])
    with open(root / "batches" / "round-1.csv", encoding="utf-8") as f:
        picked = [row["id"] for row in csv.DictReader(f)]
    labels.write_text("id,label\n" + "".join(f"{i},positive\n" for i in picked), "utf-8")
    assert run_cli(capsys, "label", "--workspace", root, labels)[0] == 0
    export = tmp_path / "out" / "labels.csv"
    assert run_cli(capsys, "export", "--workspace", root, export)[0] == 0
    made = [root, *root.rglob("*"), export]
    assert len(made) > 6
    for path in made:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}: others may read it"


@pytest.mark.parametrize("form", ["NFD", "NFC"])
def test_label_names_differing_only_in_normalisation_are_refused(capsys, tmp_path, form):
    nfc = unicodedata.normalize("NFC", "café")
    other = unicodedata.normalize("NFD", "café")
    first, second = (nfc, other) if form == "NFD" else (other, nfc)
    root = tmp_path / "ws"
    code, out, err = run_cli(
        capsys, "init", "--workspace", root, "--store", "memory", "--labels", f"{first},{second}"
    )
    assert code == 2 and out == ""
    assert err.startswith("error: labels ") and "Unicode normalisation" in err
    assert err.count("\n") == 1
    assert not root.exists()


def test_a_reingested_id_with_another_text_is_reported(capsys, tmp_path):
    rows = _yelp(12)
    root = tmp_path / "ws"
    first = _rows(tmp_path / "a.csv", rows)
    ingest = ["ingest", "--workspace", root, "--store", "memory", "--id-column", "id"]
    assert run_cli(capsys, *ingest, "--data", first)[0] == 0
    changed = [
        (i, text + " (edited)") if k in (3, 7) else (i, text) for k, (i, text) in enumerate(rows)
    ]
    second = _rows(tmp_path / "b.csv", changed)
    code, out, err = run_cli(capsys, *ingest, "--data", second)
    assert code == 0 and "0 added, 12 already stored" in out
    assert "warning: 2 stored ids come with another text" in err and "first: r3, r7" in err
    code, out, err = run_cli(capsys, *ingest, "--data", first)  # the stored texts: no warning
    assert code == 0 and "warning" not in err
