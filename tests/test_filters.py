"""Metadata filters: the expression language, the same answers from every store, and the
support team's question through the CLI ("which of today's reviews are ambiguous?").

The store tests run on each backend of ``make_store`` (memory, Milvus Lite, and, in the slow
lane, Lite's TCP server and Milvus 2.3.5), on real reviews and their real embeddings.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import numpy as np
import pytest

from tests.realdata import AMAZON, require_data
from textal.cli import main
from textal.errors import TextalError
from textal.store.filters import (
    INGESTED_AT,
    And,
    AnyOf,
    Compare,
    Or,
    filter_text,
    parse_filter,
    predicate,
    since_filter,
    to_milvus,
)


def test_the_grammar_builds_a_typed_tree_and_renders_it_for_milvus():
    tree = parse_filter('source == "app-store" and (stars <= 2 or lang in ["en", "de"])')
    assert tree == And(
        (
            Compare("source", "==", "app-store"),
            Or((Compare("stars", "<=", 2), AnyOf("lang", ("en", "de")))),
        )
    )
    assert to_milvus(parse_filter('a != "x\\"y"'), "metadata") == (
        '((exists metadata["a"]) and (metadata["a"] != "x\\"y"))'
    )
    assert (
        to_milvus(parse_filter("n >= -1.5e3 or n < 7"), "m")
        == '((m["n"] >= -1500.0) or (m["n"] < 7))'
    )


@pytest.mark.parametrize(
    "text",
    [
        'source == "app-store" and (stars <= 2 or lang in ["en", "de"])',
        '(a == 1 or b != "x\\"y\\\\z") and (c < -1.5e-07 or d >= 3) and e in [1, "\\u0007"]',
        'a == "ü é" or (b > 2 and (c == 1 or d == 2))',
        "n >= 12345678901234567890 or n <= 0.1",
    ],
)
def test_a_filter_is_written_back_as_text_that_reads_as_the_same_tree(text: str):
    """What the ledger records with a round: one spelling per tree, read back exactly."""
    tree = parse_filter(text)
    assert parse_filter(filter_text(tree)) == tree
    assert filter_text(parse_filter(filter_text(tree))) == filter_text(tree)
    since = since_filter("2026-12-01")
    assert since == Compare(INGESTED_AT, ">=", 1796083200)
    assert filter_text(And((tree, since))).endswith(
        ") and ingested_at >= 1796083200"
    ) == isinstance(tree, And | Or)


@pytest.mark.parametrize(
    ("text", "matching"),
    [
        ('source == "app-store"', {"a"}),
        ('source != "app-store"', {"b", "d"}),  # missing: false; another type: true
        ("stars >= 3", {"a", "b"}),  # a string "5" is not a number
        ('source < "b"', {"a"}),
        ('source in ["web", "app-store"]', {"a", "b"}),
        ('stars < 4 and source == "web" or source == 5', {"b", "d"}),
    ],
)
def test_the_predicate_follows_milvus_rules(text: str, matching: set[str]):
    metadata = {
        "a": {"source": "app-store", "stars": 5},
        "b": {"source": "web", "stars": 3.0},
        "c": {},
        "d": {"source": 5, "stars": "5"},
    }
    holds = predicate(parse_filter(text))
    assert {k for k, m in metadata.items() if holds(m)} == matching


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('source = "x"', "unexpected character '=' at column 8"),
        ("source ==", "expected a quoted string or a number, got the end"),
        ('(source == "x"', "expected ')', got the end"),
        ('source == "x" stars', "unexpected 'stars' at column 15"),
        ('and == "x"', "expected a metadata key, got 'and'"),
        ("__import__('os')", 'unexpected character "\'" at column 12'),
        ("stars", "expected one of == != <= >= < > or in after 'stars'"),
        ('source == "\\q"', "bad escape"),
        ("stars in []", "expected a quoted string or a number, got ']'"),
        ("", "expected a metadata key, got the end"),
    ],
)
def test_bad_filters_name_the_problem(text: str, problem: str):
    with pytest.raises(TextalError, match="filter") as caught:
        parse_filter(text)
    assert problem in str(caught.value)


def test_since_reads_dates_and_times_as_utc():
    assert since_filter("2026-12-01") == Compare(INGESTED_AT, ">=", 1796083200)
    assert since_filter("2026-12-01T01:00+01:00").value == 1796083200
    with pytest.raises(TextalError, match="--since 'yesterday' is not a date"):
        since_filter("yesterday")


FILTERS = [
    'source == "app-store"',
    'source != "app-store"',
    f"{INGESTED_AT} >= 2000",
    f'{INGESTED_AT} >= 2000 and (source == "web" or stars <= 2)',
    'stars > 3 or source in ["email", "chat"]',
    'missing_key == "x"',
]


def _reviews_with_metadata(real_vectors):
    """Real reviews with the kind of metadata ingest stores: yesterday's half and today's, a
    source per review (some without one, one as a number), star ratings."""
    texts, vectors, _ = real_vectors
    sources = ["app-store", "web", "email", None]
    metadata = []
    for k in range(len(texts)):
        meta = {INGESTED_AT: 1000 if k < len(texts) // 2 else 2000, "stars": k % 5 + 1}
        if sources[k % 4] is not None:
            meta["source"] = sources[k % 4]
        metadata.append(meta)
    metadata[7]["source"] = 7
    return [f"review-{k}" for k in range(len(texts))], vectors, texts, metadata


@pytest.mark.parametrize("text", FILTERS)
def test_every_store_applies_a_filter_as_the_predicate_does(make_store, real_vectors, text):
    ids, vectors, texts, metadata = _reviews_with_metadata(real_vectors)
    store = make_store(vectors.shape[1])
    store.add(ids, vectors, texts, metadata)
    tree = parse_filter(text)
    holds = predicate(tree)
    expected = [i for i, m in zip(ids, metadata, strict=True) if holds(m)]

    assert store.count(filter=tree) == len(expected)
    assert store.count() == len(ids)
    chunks = list(store.iterate(16, with_metadata=True, filter=tree))
    assert sorted(i for c in chunks for i in c.ids) == sorted(expected)
    assert all(holds(m) for c in chunks for m in c.metadata)
    sample = store.sample(10, seed=3, filter=tree)
    assert len(sample.ids) == min(10, len(expected)) and set(sample.ids) <= set(expected)

    rows = [ids.index(i) for i in expected]
    hits = store.search(vectors[:3], top_k=5, filter=tree)
    for q, found in enumerate(hits):
        exact = np.argsort(-(vectors[rows] @ vectors[q]), kind="stable")[:5]
        assert [i for i, _ in found] == [expected[k] for k in exact]


def test_a_collection_made_before_filters_still_works_and_refuses_a_filter(
    tmp_path: Path, real_vectors
):
    from tests.servers import make_lite_collection
    from textal.store.milvus import MilvusStore

    path = str(tmp_path / "old.db")
    ids, vectors, texts, metadata = _reviews_with_metadata(real_vectors)
    make_lite_collection(path, vectors.shape[1], bucket=True, indexed=True)
    store = MilvusStore(path, vectors.shape[1])
    try:
        assert store.add(ids, vectors, texts, metadata) == len(ids)
        assert store.get(["review-1"])[0].metadata == metadata[1]
        assert store.search(vectors[:1], top_k=1)[0][0][0] == "review-0"
        assert store.count() == len(ids)
        with pytest.raises(TextalError, match="was made before textal kept filterable metadata"):
            store.count(filter=parse_filter('source == "web"'))
    finally:
        store.close()


def _run(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _reviews_file(path: Path, rows: list[dict[str, str]], source: str) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, ["text", "label", "source"])
        writer.writeheader()
        writer.writerows({"text": r["text"], "label": r["label"], "source": source} for r in rows)
    return path


@pytest.mark.slow  # two ingests and two rounds with the real model, per store
@pytest.mark.parametrize(
    "store", ["memory", "lite", pytest.param("milvus235", marks=pytest.mark.server)]
)
def test_a_round_since_today_picks_only_todays_reviews(
    capsys, tmp_path, monkeypatch, request, store
):
    """Yesterday's reviews were ingested and partly labeled; today's arrive from the app store.
    ``round --since`` (and ``--filter``) ask only about today's; ``export --filter`` keeps them."""
    require_data(AMAZON)
    with open(AMAZON, encoding="utf-8", newline="") as f:
        reviews = list(csv.DictReader(f))[:240]
    yesterday = _reviews_file(tmp_path / "yesterday.csv", reviews[:160], "web")
    today = _reviews_file(tmp_path / "today.csv", reviews[160:], "app-store")
    ws = tmp_path / "ws"
    where: list[object] = ["--workspace", ws]
    if store == "milvus235":
        milvus = request.getfixturevalue("milvus235_server")
        monkeypatch.setenv("TEXTAL_MILVUS_TOKEN", milvus.token)
        where += ["--milvus-uri", milvus.uri, "--collection", f"today_{tmp_path.name[-8:]}"]
    first = ["--store", "memory"] if store == "memory" else []
    meta = ["--meta-column", "source", "--label-column", "label"]
    assert _run(capsys, "ingest", *where, *first, "--data", yesterday, *meta)[0] == 0
    from textal.store import credentials_from_env
    from textal.workspace import Workspace

    with Workspace.open(
        ws, credentials=credentials_from_env(os.environ)
    ) as opened:  # label 40 of yesterday's, by their content ids
        known = opened.store.sample(40, seed=0).ids
        gold = {i.id: i.metadata["gold"] for i in opened.store.get(known)}
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\n" + "".join(f"{i},{g}\n" for i, g in gold.items()))
    assert _run(capsys, "label", *where, labels)[0] == 0
    between = time.time()
    time.sleep(1.1)  # ingest times are whole seconds
    assert _run(capsys, "ingest", *where, "--data", today, *meta)[0] == 0
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(np.ceil(between)))

    with Workspace.open(ws, credentials=credentials_from_env(os.environ)) as opened:
        todays = {i for c in opened.store.iterate(filter=since_filter(since)) for i in c.ids}
    assert len(todays) == 80
    asked = (f"{INGESTED_AT} >= {int(np.ceil(between))}", 'source == "app-store"')
    for flag, restricted in zip((["--since", since], ["--filter", asked[1]]), asked, strict=True):
        code, out, err = _run(capsys, "round", *where, "--batch-size", "10", *flag)
        assert code == 0, err
        assert "scored all 80 unlabeled items" in out
        assert f"asked only items where {restricted}" in out
        batch = sorted((ws / "batches").glob("round-*.csv"))[-1]
        with open(batch, encoding="utf-8", newline="") as f:
            picked = [r["id"] for r in csv.DictReader(f)]
        assert len(picked) == 10 and set(picked) <= todays

    # The filter is recorded with the round: the same one again reuses the open round.
    code, out, err = _run(capsys, "round", *where, "--batch-size", "10", "--filter", asked[1])
    assert code == 0 and "is still open (no labels since)" in out, err
    code, out, _ = _run(capsys, "status", *where)
    assert code == 0 and f"last round  asked only items where {asked[1]}" in out

    out_file = tmp_path / "export.csv"
    code, out, _ = _run(capsys, "export", *where, out_file, "--filter", 'source == "web"')
    assert code == 0 and f"wrote {len(gold)} rows" in out
    code, out, _ = _run(capsys, "export", *where, out_file, "--since", since)
    assert code == 0 and "wrote 0 rows" in out

    code, _, err = _run(capsys, "round", *where, "--filter", "source = 1")
    assert code == 2 and err.startswith("error: filter 'source = 1'")
    code, _, err = _run(capsys, "round", *where, "--filter", 'source == "chat"')
    assert code == 2 and "no item in the store" in err


def test_all_meta_keeps_every_other_column_and_names_a_bad_one(capsys, tmp_path):
    """``ingest --all-meta`` stores every column but text, id and label; a column a filter could
    not name is refused by name before anything is stored."""
    good = tmp_path / "reviews.csv"
    good.write_text(
        "id,text,label,source,stars\n"
        "r1,The battery died in a day.,negative,app-store,1\n"
        "r2,Great sound and it fits well.,positive,web,5\n",
        encoding="utf-8",
    )
    ws = tmp_path / "ws"
    code, _, err = _run(
        capsys, "ingest", "--workspace", ws, "--store", "memory", "--data", good,
        "--id-column", "id", "--label-column", "label", "--all-meta",
    )  # fmt: skip
    assert code == 0, err
    from textal.workspace import Workspace

    with Workspace.open(ws) as opened:
        meta = {item.id: item.metadata for item in opened.store.get(["r1", "r2"])}
    assert meta["r1"]["source"] == "app-store" and meta["r2"]["stars"] == "5"
    assert {"id", "text", "label"}.isdisjoint(meta["r1"]) and meta["r1"]["gold"] == "negative"

    bad = tmp_path / "bad.csv"
    bad.write_text("text,star rating\nFine.,4\n", encoding="utf-8")
    code, _, err = _run(capsys, "ingest", "--workspace", tmp_path / "ws2", "--store", "memory",
                        "--data", bad, "--all-meta")  # fmt: skip
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: --all-meta: column 'star rating'") and "--meta-column" in err
    assert not (tmp_path / "ws2").exists()
    with pytest.raises(SystemExit):  # one or the other
        main(["ingest", "--data", str(good), "--all-meta", "--meta-column", "source"])
