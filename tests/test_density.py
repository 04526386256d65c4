"""Information density: known search results give known densities; weighting keeps shapes."""

import numpy as np
import pytest

from textal.strategy.density import neighbor_density, weighted


def test_density_is_the_mean_similarity_of_the_k_nearest_others():
    hits = [
        [("a", 1.0), ("b", 0.8), ("c", 0.6), ("d", 0.1)],
        [("x", 0.9), ("b", 0.99), ("y", 0.5)],  # itself not first (an approximate index)
    ]
    np.testing.assert_allclose(neighbor_density(["a", "b"], hits, k=2), [0.7, 0.7])


def test_an_item_without_other_hits_has_density_zero():
    assert neighbor_density(["a"], [[("a", 1.0)]]).tolist() == [0.0]
    assert neighbor_density([], []).shape == (0,)


def test_search_results_must_match_the_items():
    with pytest.raises(ValueError):
        neighbor_density(["a", "b"], [[("a", 1.0)]])


def test_weighting_multiplies_and_treats_negative_similarity_as_zero():
    scores = np.array([1.0, 0.5, 0.8])
    np.testing.assert_allclose(weighted(scores, np.array([0.2, 0.8, -0.3])), [0.2, 0.4, 0.0])
    # An outlier loses to a slightly less ambiguous item in a dense region.
    assert np.argmax(weighted(np.array([1.0, 0.9]), np.array([0.3, 0.6]))) == 1
