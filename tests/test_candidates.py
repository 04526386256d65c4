"""Candidate retrieval (textal.round.candidates) and uniform samples from every store.

Sampling runs on every backend through ``make_store`` (memory, Milvus Lite file and server,
Milvus 2.3.5); retrieval on the memory store and Milvus Lite, with real embeddings where the
neighbourhoods matter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from textal.round.candidates import (
    ANCHORS_PER_CLASS,
    EXPLORE_PER_PICK,
    NEIGHBORS_PER_ANCHOR,
    candidate_mode,
    retrieve,
    sample_unlabeled,
    search_within,
)
from textal.round.plan import plan_round
from textal.store import open_store
from textal.store.memory import MemoryStore

DIM = 16


def clustered(n: int, seed: int = 0, dim: int = DIM) -> tuple[list[str], np.ndarray]:
    """``n`` unit vectors around 40 centres; ids ``v-0`` ... ``v-{n-1}``."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, dim))
    vectors = centres[rng.integers(0, 40, n)] + 0.4 * rng.standard_normal((n, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [f"v-{k}" for k in range(n)], vectors.astype(np.float32)


def filled(n: int, seed: int = 0) -> tuple[MemoryStore, list[str], np.ndarray]:
    ids, vectors = clustered(n, seed)
    store = MemoryStore(DIM)
    store.add(ids, vectors, ids, [{}] * n)
    return store, ids, vectors


def labels_by_rule(ids: list[str], vectors: np.ndarray, rows: range) -> dict[str, str]:
    """Three classes by the sign pattern of two coordinates; ``rows`` are the labeled ones."""
    names = {(True, True): "a", (True, False): "b", (False, True): "c", (False, False): "c"}
    return {ids[k]: names[(bool(vectors[k, 0] > 0), bool(vectors[k, 1] > 0))] for k in rows}


def test_candidates_are_unlabeled_cover_every_class_and_do_not_grow_with_the_pool():
    sizes = []
    for n in (2_000, 20_000):
        store, ids, vectors = filled(n)
        labels = labels_by_rule(ids, vectors, range(300))
        labeled_vectors = store.get_vectors(list(labels))
        excluded = {ids[k] for k in range(300, 330)}
        skip = set(labels) | excluded
        found = retrieve(store, list(labels.values()), labeled_vectors, skip, batch_size=20, seed=3)

        assert len(found.ids) == len(set(found.ids)) == len(found.vectors)
        assert not set(found.ids) & skip
        np.testing.assert_allclose(found.vectors, store.get_vectors(found.ids), atol=1e-6)
        # every class's neighbourhood: each class has an anchor whose nearest unlabeled
        # neighbour is a candidate
        candidate_set = set(found.ids)
        for label in set(labels.values()):
            members = [i for i, v in labels.items() if v == label]
            hits = store.search(store.get_vectors(members), NEIGHBORS_PER_ANCHOR)
            nearest = [next((h for h, _ in row if h not in skip), None) for row in hits]
            assert any(h in candidate_set for h in nearest), label
        bound = (3 * ANCHORS_PER_CLASS + 20) * NEIGHBORS_PER_ANCHOR + EXPLORE_PER_PICK * 20
        assert found.anchors == 3 * ANCHORS_PER_CLASS + 20
        assert 0 < len(found.ids) <= bound
        sizes.append(len(found.ids))
        # deterministic for a seed, and another seed draws other anchors and samples
        again = retrieve(store, list(labels.values()), labeled_vectors, skip, batch_size=20, seed=3)
        assert again.ids == found.ids
        other = retrieve(store, list(labels.values()), labeled_vectors, skip, batch_size=20, seed=4)
        assert other.ids != found.ids
    # the pool grew tenfold; the candidate set stays within the same bound
    assert sizes[1] < 2 * sizes[0]


def test_rare_class_gets_its_anchors():
    store, ids, _ = filled(5_000)
    labels = {ids[k]: "common" for k in range(400)}
    labels.update({ids[k]: "rare" for k in range(400, 403)})
    found = retrieve(
        store,
        list(labels.values()),
        store.get_vectors(list(labels)),
        set(labels),
        batch_size=10,
        seed=0,
    )
    rare_hits = store.search(store.get_vectors(ids[400:403]), 5)
    near_rare = {h for row in rare_hits for h, _ in row} - set(labels)
    assert near_rare <= set(found.ids)


def test_search_within_the_candidate_set_is_exact_nearest_neighbours():
    store, ids, vectors = filled(500)
    search = search_within(ids, vectors)
    queries = vectors[:20]
    found, exact = search(queries, 15), store.search(queries, 15)  # the store's is exact here
    assert [[i for i, _ in hits] for hits in found] == [[i for i, _ in hits] for hits in exact]
    np.testing.assert_allclose(
        [[s for _, s in hits] for hits in found],
        [[s for _, s in hits] for hits in exact],
        atol=1e-5,
    )
    assert [len(hits) for hits in search(queries, 900)] == [500] * 20
    assert search_within([], vectors[:0])(queries, 5) == [[]] * 20


def test_unlabeled_samples_are_uniform_over_the_whole_store():
    """Stores return samples in their own order (the memory store by row): a subset must not
    favour the rows stored first (a pool file sorted by label would give one class)."""
    store, ids, _ = filled(2_000)
    skip = set(ids[::3])
    rows = []
    for seed in range(10):
        drawn = sample_unlabeled(store, skip, 100, seed)
        assert len(drawn.ids) == 100 and not set(drawn.ids) & skip
        rows += [int(i.split("-")[1]) for i in drawn.ids]
    assert 850 < np.mean(rows) < 1150  # uniform over 0..1999: mean 1000, std of mean ~18


def test_adaptive_exploration_in_index_rounds_reaches_the_whole_store():
    """With labels no better than chance, ``adaptive`` explores (the whole batch drawn
    uniformly): in an index round its picks must not come from the rows stored first."""
    store, ids, _ = filled(2_000)
    rng = np.random.default_rng(0)
    labels = {ids[k]: str(rng.choice(["a", "b"])) for k in rng.choice(2_000, 60, replace=False)}
    plan = plan_round(store, labels, strategy="adaptive", batch_size=25, candidates="index")
    picked = [int(p.item_id.split("-")[1]) for p in plan.picks]
    assert sum(p.score is None for p in plan.picks) >= 20  # explored picks carry no score
    assert 600 < np.mean(picked) < 1400  # uniform over 0..1999: mean 1000, std of mean ~115


def test_auto_chooses_by_pool_size_and_rejects_unknown_modes():
    assert candidate_mode("auto", 1_000) == "all"
    assert candidate_mode("auto", 10_000_000) == "index"
    assert candidate_mode("index", 10) == "index"
    assert candidate_mode("all", 10**9) == "all"
    with pytest.raises(ValueError, match="candidates must be one of"):
        candidate_mode("some", 10)


@pytest.mark.parametrize("kind", ["memory", pytest.param("lite", marks=pytest.mark.slow)])
def test_round_with_index_candidates_picks_unlabeled_items_and_says_so(tmp_path: Path, kind):
    ids, vectors = clustered(3_000, seed=1)
    uri = "memory" if kind == "memory" else str(tmp_path / "m.db")
    store = open_store(uri, DIM)
    store.add(ids, vectors, ids, [{}] * len(ids))
    labels = labels_by_rule(ids, vectors, range(60))
    cold = plan_round(store, {}, batch_size=10, candidates="index", seed=0)
    assert cold.report.candidates == "index" and len(cold.picks) == 10
    plan = plan_round(store, labels, batch_size=10, candidates="index", seed=0, exclude={"v-99"})
    assert plan.report.candidates == "index"
    assert plan.report.scored < len(ids) - len(labels)
    assert len(plan.picks) == 10
    assert not {p.item_id for p in plan.picks} & (set(labels) | {"v-99"})
    assert len(plan.stop_predictions) > 0 and not set(plan.stop_predictions) & set(labels)
    full = plan_round(store, labels, batch_size=10, candidates="auto", seed=0)
    assert full.report.candidates == "all"
    assert full.report.scored == len(ids) - len(labels)
    store.close()


def test_sample_is_uniform_distinct_and_seeded(make_store):
    """Chi-square over ten groups of items: 20 samples of 100 from 2,000 items."""
    store = make_store(DIM)
    ids, vectors = clustered(2_000, seed=2)
    store.add(ids, vectors, ids, [{}] * len(ids))
    counts = np.zeros(10)
    for seed in range(20):
        sample = store.sample(100, seed)
        assert 90 <= len(sample.ids) <= 100
        assert len(set(sample.ids)) == len(sample.ids)
        np.testing.assert_allclose(sample.vectors, store.get_vectors(sample.ids), atol=1e-6)
        np.add.at(counts, [int(i.split("-")[1]) % 10 for i in sample.ids], 1)
    assert store.sample(100, 7).ids == store.sample(100, 7).ids
    assert store.sample(100, 7).ids != store.sample(100, 8).ids
    expected = counts.sum() / 10
    chi_square = float(((counts - expected) ** 2 / expected).sum())
    assert chi_square < 27.9  # the 0.999 quantile with 9 degrees of freedom
    assert len(store.sample(5_000, 0).ids) == 2_000  # asking for more gives every item


def test_collection_without_bucket_field_still_samples_and_rounds(tmp_path: Path):
    """A collection made before the bucket field: sampling falls back to one scan."""
    from tests.servers import make_lite_collection
    from textal.store.milvus import MilvusStore

    path = str(tmp_path / "old.db")
    make_lite_collection(path, DIM, bucket=False, indexed=True)

    store = MilvusStore(path, DIM)
    assert store.sampling == "scan"
    ids, vectors = clustered(600, seed=5)
    store.add(ids, vectors, ids, [{}] * len(ids))
    sample = store.sample(50, 0)
    assert len(sample.ids) == len(set(sample.ids)) == 50 and set(sample.ids) <= set(ids)
    labels = labels_by_rule(ids, vectors, range(40))
    plan = plan_round(store, labels, batch_size=5, candidates="index", seed=0)
    assert len(plan.picks) == 5 and not {p.item_id for p in plan.picks} & set(labels)
    store.close()


def test_workspace_round_with_index_candidates_is_recorded_and_shown_by_status(workspace_dir):
    """Real reviews: cold start and a trained round from the index; ``status`` says which."""
    from tests.workspaces import gold_labels
    from textal.workspace import Workspace

    with Workspace.open(workspace_dir) as ws:
        first = ws.round(batch_size=10, candidates="index")
        assert first.round.report.candidates == "index"
        picked = [s.item_id for s in first.selections]
        ws.add_labels(gold_labels(ws, picked), annotator="oracle")
        second = ws.round(batch_size=10, candidates="index")
        ids = [s.item_id for s in second.selections]
        assert second.round.report.candidates == "index"
        assert len(set(ids)) == 10 and not set(ids) & set(picked)
        assert second.round.report.scored < ws.store.count() - len(picked)
        assert ws.status().last_candidates == "index"
        # the ledger gives the round back as it went in: what it scored, and how it was found
        recorded = ws.ledger.rounds()[-1]
        assert recorded == second.round and recorded.params.candidates == "index"
        found = recorded.report.candidate_set
        assert found is not None and found.anchors > 0 and found.neighbors > 0
        assert found.neighbors + found.sample == recorded.report.scored
        assert ws.round(batch_size=10, candidates="index").reused  # same settings, no labels
        # a 1,000-item pool: auto scans, which is another setting, so a new round
        third = ws.round(batch_size=10)
        assert not third.reused and third.round.report.candidates == "all"
        assert third.round.report.candidate_set is None and third.round.params.candidates == "all"
        assert ws.status().last_candidates == "all"
