"""The oracle loop: the round of ``textal round`` (:func:`plan_round`), with gold labels revealed
in place of people, and many (strategy, seed) runs spread over processes.

One run: draw the initial labels (the same for every strategy of a seed), then ``rounds`` times:
``plan_round`` fits the model on the current labels and picks a batch; that model is scored on
the test set (the curve point at the current label count) and the oracle reveals the batch's gold
labels. After the last batch one more model is fitted for the last point, so a curve has
``rounds + 1`` points at ``init, init + batch_size, ..., init + rounds * batch_size`` labels
(fewer if the pool runs out).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.queues
import queue
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from textal.model.automl import AutoClassifier, fit_on_labels
from textal.quality.noise import NOISE_KIND, confusable_classes, noisy_oracle
from textal.round.candidates import CANDIDATES
from textal.round.plan import RoundPlan, plan_round
from textal.simulate.dataset import SimulationData
from textal.simulate.metrics import Scores, score_predictions
from textal.simulate.options import INITIAL

M = TypeVar("M")


@dataclass(frozen=True)
class Protocol:
    """``init`` labels, then ``rounds`` batches of ``batch_size``: 25 + 20 x 25 = 525 by default.

    ``initial`` is ``"random"`` (a uniform sample of the pool, drawn from the seed) or
    ``"cold-start"`` (textal's cold-start batch, what a real project starts with).
    ``max_class_share`` caps a predicted class's share of each batch, as in ``plan_round`` (and
    ``textal round``), and so does ``candidates`` (``auto``, ``all`` or ``index``: what each round
    scores).
    ``label_noise`` is the chance that the oracle answers a wrong label, of ``label_noise_kind``
    (see ``textal.quality.noise``); the test set keeps its gold labels.
    """

    init: int = 25
    batch_size: int = 25
    rounds: int = 20
    initial: str = INITIAL.default
    max_class_share: float | None = None
    candidates: str = CANDIDATES.default
    label_noise: float = 0.0
    label_noise_kind: str = NOISE_KIND.default


@dataclass(frozen=True)
class CurvePoint:
    """One point of a learning curve: the model fitted on ``labels`` labels, scored on the test set.

    ``round`` counts batches revealed so far (0: the initial labels). ``fit_s`` is the time to fit
    the model, ``select_s`` to score the pool and select the next batch (``None`` at the last
    point, after which nothing is selected). ``labeled`` counts the labels per class.

    Multi-label runs (:mod:`textal.simulate.multilabel`): ``accuracy`` is the subset accuracy
    (the predicted set equals the gold set), ``macro_f1`` and ``micro_f1`` are over the labels,
    ``recall`` and ``labeled`` are per label; ``micro_f1`` is None in single-label runs.
    """

    strategy: str
    seed: int
    round: int
    labels: int
    labeled: dict[str, int]
    accuracy: float
    macro_f1: float
    recall: dict[str, float]
    model: str | None
    fit_s: float
    select_s: float | None
    micro_f1: float | None = None


@dataclass(frozen=True)
class Reference:
    """The same model fitted on every pool label: the score the curves are measured against
    (``micro_f1`` only for multi-label data, where ``accuracy`` is the subset accuracy)."""

    labels: int
    accuracy: float
    macro_f1: float
    recall: dict[str, float]
    model: str
    fit_s: float
    micro_f1: float | None = None


def initial_labels(data: SimulationData, protocol: Protocol, seed: int) -> dict[str, str]:
    """The first ``protocol.init`` gold labels of ``seed``: the same for every strategy."""
    if protocol.initial == "random":
        ids = sorted(data.oracle)
        chosen = np.random.default_rng(seed).choice(len(ids), min(protocol.init, len(ids)), False)
        return {ids[k]: data.oracle[ids[k]] for k in sorted(chosen)}
    if protocol.initial == "cold-start":
        plan = plan_round(
            data.store,
            {},
            batch_size=protocol.init,
            seed=seed,
            candidates=protocol.candidates,
            probes=data.class_vectors,
        )
        return {p.item_id: data.oracle[p.item_id] for p in plan.picks}
    raise ValueError(f"initial must be one of {INITIAL.choices}, got {protocol.initial!r}")


def oracle_answers(data: SimulationData, protocol: Protocol, seed: int) -> Mapping[str, str]:
    """What the oracle answers for each pool id in run ``seed``: the gold labels, or with
    ``protocol.label_noise`` a seeded share of them wrong (the same wrong answers every time)."""
    if not protocol.label_noise:
        return data.oracle
    targets = None
    if protocol.label_noise_kind == "class":
        ids, chunks = [], []
        for chunk in data.store.iterate():
            ids += chunk.ids
            chunks.append(np.array(chunk.vectors))
        targets = confusable_classes(
            np.concatenate(chunks), np.array([data.oracle[i] for i in ids])
        )
    return noisy_oracle(
        data.oracle, protocol.label_noise, seed, kind=protocol.label_noise_kind, targets=targets
    )


def evaluate(
    model: AutoClassifier | None, labels: Mapping[str, str], data: SimulationData
) -> Scores:
    """Score ``model`` on the test set. Without a model (one class labeled) every test item is
    given the most common label: the only guess the labels support."""
    if model is None:
        guess = Counter(labels.values()).most_common(1)[0][0]
        predicted = np.full(len(data.test_labels), guess)
    else:
        predicted = model.predict(data.test_vectors)
    test_classes = sorted(set(data.test_labels.tolist()))
    return score_predictions(data.test_labels, predicted, test_classes)


def _plan_seconds(plan: RoundPlan) -> tuple[float, float]:
    """(fit, the rest: candidates, score and select) seconds of a plan."""
    seconds = plan.report.timings
    return seconds.fit, seconds.total - seconds.fit


def _point(
    data: SimulationData,
    strategy: str,
    seed: int,
    round_: int,
    labels: Mapping[str, str],
    model: AutoClassifier | None,
    fit_s: float,
    select_s: float | None,
) -> CurvePoint:
    scores = evaluate(model, labels, data)
    return CurvePoint(
        strategy=strategy,
        seed=seed,
        round=round_,
        labels=len(labels),
        labeled=dict(sorted(Counter(labels.values()).items())),
        accuracy=scores.accuracy,
        macro_f1=scores.macro_f1,
        recall=scores.recall,
        model=model.best_name_ if model is not None else None,
        fit_s=round(fit_s, 4),
        select_s=None if select_s is None else round(select_s, 4),
    )


@dataclass(frozen=True)
class Learner(Generic[M]):
    """What a kind of labels brings to :func:`oracle_run`: its round (``plan(data, labels,
    strategy, seed, protocol)``), its final fit (``fit(data, labels, seed) -> model or None``)
    and its curve point (:func:`_point`'s signature). ``M`` is the model."""

    plan: Callable[[SimulationData, Mapping[str, str], str, int, Protocol], RoundPlan[M]]
    fit: Callable[[SimulationData, Mapping[str, str], int], M | None]
    point: Callable[
        [SimulationData, str, int, int, Mapping[str, str], M | None, float, float | None],
        CurvePoint,
    ]


def oracle_run(
    data: SimulationData,
    strategy: str,
    seed: int,
    protocol: Protocol,
    on_point: Callable[[], None] | None,
    learner: Learner[M],
    answers: Mapping[str, str],
) -> list[CurvePoint]:
    """The oracle loop of either kind of labels: the initial labels, then ``protocol.rounds``
    times plan a round (seeded ``1000 * seed + r + 1``), score its model and reveal ``answers``
    of its picks; then one more fit (seed ``1000 * seed + rounds + 1``) for the last point.
    BLAS and OpenMP run single-threaded (parallelism is across runs), which also makes the
    result independent of how many runs share the machine. ``on_point`` is called after every
    point."""
    points: list[CurvePoint] = []
    with threadpool_limits(limits=1):
        labels = {i: answers[i] for i in initial_labels(data, protocol, seed)}
        for round_ in range(protocol.rounds):
            plan = learner.plan(data, labels, strategy, seed * 1000 + round_ + 1, protocol)
            fit_s, select_s = _plan_seconds(plan)
            points.append(
                learner.point(data, strategy, seed, round_, labels, plan.model, fit_s, select_s)
            )
            if on_point is not None:
                on_point()
            if not plan.picks:  # the pool is used up
                return points
            labels.update((p.item_id, answers[p.item_id]) for p in plan.picks)
        started = time.perf_counter()
        model = learner.fit(data, labels, seed * 1000 + protocol.rounds + 1)
        fit_s = time.perf_counter() - started
        points.append(
            learner.point(data, strategy, seed, protocol.rounds, labels, model, fit_s, None)
        )
        if on_point is not None:
            on_point()
    return points


def _plan(
    data: SimulationData, labels: Mapping[str, str], strategy: str, seed: int, protocol: Protocol
) -> RoundPlan[AutoClassifier]:
    return plan_round(
        data.store,
        labels,
        strategy=strategy,
        batch_size=protocol.batch_size,
        max_class_share=protocol.max_class_share,
        seed=seed,
        candidates=protocol.candidates,
        probes=data.class_vectors,
    )


def _fit(data: SimulationData, labels: Mapping[str, str], seed: int) -> AutoClassifier | None:
    ids = list(labels)
    y = np.array([labels[i] for i in ids])
    return fit_on_labels(data.store.get_vectors(ids), y, seed=seed)


SINGLE_LABEL = Learner(_plan, _fit, _point)


def simulate_run(
    data: SimulationData,
    strategy: str,
    seed: int,
    protocol: Protocol,
    on_point: Callable[[], None] | None = None,
) -> list[CurvePoint]:
    """One learning curve (:func:`oracle_run` with ``plan_round`` and the oracle's answers,
    :func:`oracle_answers`); deterministic given the data, strategy, seed and protocol."""
    with threadpool_limits(limits=1):  # the noisy oracle's classes too
        answers = oracle_answers(data, protocol, seed)
    return oracle_run(data, strategy, seed, protocol, on_point, SINGLE_LABEL, answers)


def full_data_reference(data: SimulationData) -> Reference:
    """Fit the model on every pool item's gold label (seed 0) and score it on the test set."""
    with threadpool_limits(limits=1):
        ids: list[str] = []
        chunks = []
        for chunk in data.store.iterate():
            ids.extend(chunk.ids)
            chunks.append(np.array(chunk.vectors))
        y = np.array([data.oracle[i] for i in ids])
        started = time.perf_counter()
        model = fit_on_labels(np.concatenate(chunks), y, seed=0)
        fit_s = time.perf_counter() - started
        if model is None:
            raise ValueError("the pool has a single class: nothing to classify")
        scores = evaluate(model, dict(zip(ids, y.tolist(), strict=True)), data)
    return Reference(
        len(ids), scores.accuracy, scores.macro_f1, scores.recall, model.best_name_, round(fit_s, 3)
    )


# -- many runs ----------------------------------------------------------------------------------


#: One learning curve: ``(data, strategy, seed, protocol, on_point) -> points``.
RunFunction = Callable[
    [SimulationData, str, int, Protocol, Callable[[], None] | None], list[CurvePoint]
]


@dataclass(frozen=True)
class _Shared:
    """What the forked workers of :func:`run_all` share: handed to each worker's initializer
    as it forks, so never pickled (the pool store stays in the parent's memory pages)."""

    data: SimulationData
    protocol: Protocol
    progress: multiprocessing.queues.Queue
    run: RunFunction
    reference: Callable[[SimulationData], Reference]


_worker: _Shared | None = None  # in a worker process: what its initializer was given


def _init_worker(shared: _Shared) -> None:
    global _worker
    _worker = shared


def _shared() -> _Shared:
    assert _worker is not None, "called outside a run_all worker"
    return _worker


def _run_job(job: tuple[str, int]) -> list[CurvePoint]:
    strategy, seed = job
    shared = _shared()
    return shared.run(shared.data, strategy, seed, shared.protocol, lambda: shared.progress.put(1))


def _reference_job() -> Reference:
    shared = _shared()
    return shared.reference(shared.data)


def run_all(
    data: SimulationData,
    strategies: list[str],
    seeds: list[int],
    protocol: Protocol,
    *,
    workers: int = 2,
    run: RunFunction = simulate_run,
    reference: Callable[[SimulationData], Reference] = full_data_reference,
) -> tuple[list[list[CurvePoint]], Reference]:
    """Every (strategy, seed) run, ordered seed by seed then strategy, and the full-data reference.
    ``run`` and ``reference`` make them (the multi-label simulation passes its own).

    With ``workers > 1`` the runs go to that many forked processes, which share the pool store
    read-only (so the store must live in this process's memory: the memory store). A progress bar
    counts curve points on stderr.
    """
    jobs = [(strategy, seed) for seed in seeds for strategy in strategies]
    bar = tqdm(
        total=len(jobs) * (protocol.rounds + 1),
        desc="simulating",
        unit="point",
        disable=None,
        file=sys.stderr,
    )
    with bar:
        if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
            found = reference(data)
            return [run(data, s, seed, protocol, bar.update) for s, seed in jobs], found
        context = multiprocessing.get_context("fork")
        shared = _Shared(data, protocol, context.Queue(), run, reference)
        processes = min(workers, len(jobs) + 1)
        with context.Pool(processes, initializer=_init_worker, initargs=(shared,)) as pool:
            pending_reference = pool.apply_async(_reference_job)
            pending_runs = pool.map_async(_run_job, jobs, chunksize=1)
            while not pending_runs.ready():
                with contextlib.suppress(queue.Empty):
                    bar.update(shared.progress.get(timeout=0.5))
            runs, found = pending_runs.get(), pending_reference.get()
            bar.update(bar.total - bar.n)
    return runs, found
