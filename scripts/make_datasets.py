"""Derived reference datasets for docs/results.md, built from ../shared/data only (seeded).

Writes ``<out>/<name>/pool.csv`` and ``<out>/<name>/test.csv`` (header ``text,label``) for:

* ``imdb-stars``: IMDB reviews labelled with their 1-10 star rating (``imdb/*_ratings.csv`` give
  it row by row). IMDB holds no 5 or 6 star review, so there are 8 classes: 1-4 and 7-10. Pool:
  5,000 whole reviews drawn uniformly from ``train.csv``; test: 1,000 drawn uniformly from
  ``test.csv`` (both keep IMDB's skew towards 1 and 10 stars; ``<br />`` tags made spaces; the
  model reads the first 256 tokens). Labels are the numbers as text ("1" ... "10").
* ``ag-rare``: AG News with Sci/Tech cut to 3% of the pool: 5,000 rows of ``train_subset.csv``,
  150 of them Sci/Tech, the rest a seeded sample of World, Sports and Business; test: 1,000 rows
  drawn uniformly from ``test.csv`` (about 250 per class, so the rare class weighs a quarter of
  macro-F1).

TREC's 50 fine labels need no derived file: ``trec/train_fine.csv`` and ``trec/test_fine.csv`` are
used as they are. The derived files stay out of the repository (default ``<out>`` is
``textal-workspace/derived``). Usage::

    python scripts/make_datasets.py [--data ../shared/data] [--out textal-workspace/derived]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 13
IMDB_POOL, IMDB_TEST = 5000, 1000
RARE_CLASS, RARE_SHARE, RARE_POOL, RARE_TEST = "Sci/Tech", 0.03, 5000, 1000


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, dtype=str)


def _imdb_split(data: Path, split: str, size: int, rng: np.random.Generator) -> pd.DataFrame:
    rows = _read(data / "imdb" / f"{split}.csv")
    ratings = _read(data / "imdb" / f"{split}_ratings.csv")
    if len(rows) != len(ratings):
        raise SystemExit(
            f"imdb/{split}_ratings.csv has {len(ratings)} rows, {split}.csv {len(rows)}"
        )
    text = rows["text"].str.replace("<br />", " ", regex=False)
    frame = pd.DataFrame({"text": text, "label": ratings["rating"].astype(int).astype(str)})
    return frame.iloc[np.sort(rng.choice(len(frame), size, replace=False))]


def imdb_stars(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(SEED)
    return _imdb_split(data, "train", IMDB_POOL, rng), _imdb_split(data, "test", IMDB_TEST, rng)


def ag_rare(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(SEED)
    train = _read(data / "ag_news" / "train_subset.csv")
    common = train[train["label"] != RARE_CLASS]
    rare = train[train["label"] == RARE_CLASS]
    n_rare = round(RARE_SHARE * RARE_POOL)
    common = common.iloc[rng.choice(len(common), RARE_POOL - n_rare, replace=False)]
    rare = rare.iloc[rng.choice(len(rare), n_rare, replace=False)]
    pool = train.loc[sorted([*common.index, *rare.index])]
    test = _read(data / "ag_news" / "test.csv")
    test = test.iloc[np.sort(rng.choice(len(test), RARE_TEST, replace=False))]
    return pool, test


BUILDERS = {"imdb-stars": imdb_stars, "ag-rare": ag_rare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("textal-workspace/derived"))
    parser.add_argument("names", nargs="*", help=f"some of {', '.join(BUILDERS)} (default: all)")
    args = parser.parse_args()
    unknown = set(args.names) - set(BUILDERS)
    if unknown:
        parser.error(f"unknown dataset {', '.join(sorted(unknown))}")
    for name in args.names or BUILDERS:
        pool, test = BUILDERS[name](args.data)
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        for part, frame in (("pool", pool), ("test", test)):
            frame[["text", "label"]].to_csv(folder / f"{part}.csv", index=False)
        counts = pool["label"].value_counts().sort_index().to_dict()
        print(f"{name}: pool {len(pool)} ({len(counts)} classes: {counts}), test {len(test)}")


if __name__ == "__main__":
    main()
