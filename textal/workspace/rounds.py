"""Rounds: train, score, select a batch, record it and write it for people."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from textal.data.label_sets import parse_label_set
from textal.errors import TextalError, show_value
from textal.ledger import RoundParams, RoundRecord, Selection
from textal.round.candidates import CANDIDATES, candidate_mode
from textal.round.stopping import agreement
from textal.store import VectorStore
from textal.store.base import Filtered
from textal.store.filters import Filter, filter_text
from textal.strategy.diverse import BATCH_SIZE
from textal.strategy.multilabel import STRATEGIES as ML_STRATEGIES
from textal.strategy.multilabel import STRATEGY as ML_STRATEGY
from textal.strategy.probes import probe_text
from textal.strategy.scores import STRATEGIES, STRATEGY, Builtin
from textal.workspace.batch_files import write_batch
from textal.workspace.guidelines import load_guidelines
from textal.workspace.queue import pending, queued_first

if TYPE_CHECKING:  # scikit-learn is imported by the commands that train, not by every command
    from textal.round.plan import RoundPlan, Scorer
from textal.workspace.core import WorkspaceCore


@dataclass(frozen=True)
class RoundResult:
    """A recorded round and where its batch was written."""

    round: RoundRecord
    selections: list[Selection]
    csv_path: Path
    jsonl_path: Path
    reused: bool  # True when the open round was re-exported instead of a new one made
    label_column: str = "label"  # the column people fill: "labels" in a multi-label workspace


class Rounds(WorkspaceCore):
    def round(
        self,
        *,
        batch_size: int = BATCH_SIZE.default,
        strategy: str | None = None,
        max_class_share: float | None = None,
        seed: int = 0,
        scorer: Scorer | None = None,
        candidates: str = CANDIDATES.default,
        filter: Filter | None = None,
    ) -> RoundResult:
        """Train, score, select a diverse batch, record it and write it for people.

        ``filter`` (:mod:`textal.store.filters`) restricts the unlabeled items the round scores
        and selects (e.g. today's reviews); it trains on every label all the same. It is
        recorded with the round (:attr:`RoundParams.filter`, in the filter language).

        ``batch_size`` is checked against :data:`textal.strategy.diverse.BATCH_SIZE`.
        ``candidates`` is what the round scores (:data:`textal.round.candidates.CANDIDATES`:
        ``"all"`` stored items, a candidate set from the vector ``"index"``, or ``"auto"``); see
        :func:`textal.round.plan.plan_round`.

        ``strategy`` names a built-in score (default: :data:`textal.strategy.scores.STRATEGY`'s);
        ``scorer`` is your own instead, ``(proba, vectors) -> scores`` (higher = ask first),
        recorded as strategy ``custom:<its name>``.

        The last round is still open while no label event arrived since it was made: asked again
        with exactly the same settings (the same filter, or none), its batch is written again.
        Asked with any other setting, a new round is recorded and the open one is marked
        superseded in the history (its items are free again, so the new round may pick some of
        them).
        """
        name = self._strategy_name(strategy, scorer, batch_size, max_class_share)
        pool = self.store if filter is None else Filtered(self.store, filter)
        count = pool.count()
        params = RoundParams(
            name,
            batch_size,
            max_class_share,
            seed,
            candidate_mode(candidates, count),
            None if filter is None else filter_text(filter),
        )
        with self.ledger.snapshot():  # so last_seq names exactly the labels trained on
            rounds = self.ledger.rounds()
            last_seq = self.ledger.last_seq()
            labels = self.ledger.current_labels()
            ambiguous = self.ledger.ambiguous_items()
            stop_ids = self.ledger.stop_set()
        last = rounds[-1] if rounds else None
        queued = pending(self.path, set(labels) | ambiguous)[:batch_size]
        if (
            scorer is None  # a function cannot be compared with the one used before
            and last is not None
            and last.last_seq == last_seq
            and last.params == params
            and set(queued) <= {s.item_id for s in self.ledger.selections(last.round)}
        ):
            return self._export_round(last, reused=True)
        _check_something_to_ask(self.store.uri, count, filter, len(labels), len(ambiguous))
        plan = self._plan(
            pool,
            labels,
            params,
            exclude=ambiguous | set(queued),
            batch_size=batch_size - len(queued),  # `predict --queue`'s reviews come first
            stop_ids=stop_ids,
            scorer=scorer,
        )
        report = replace(plan.report, agreement=self._agreement(rounds, plan))
        record = self.ledger.record_round(
            params=replace(plan.params, batch_size=batch_size, filter=params.filter),
            report=report,
            last_seq=last_seq,
            trained_on=plan.trained_on,
            selections=queued_first(self.store, plan, queued),
            stop_predictions=plan.stop_predictions,
            new_stop_set=list(plan.stop_predictions) if plan.drew_stop_set else (),
        )
        return self._export_round(record, reused=False)

    def _strategy_name(
        self,
        strategy: str | None,
        scorer: Scorer | None,
        batch_size: int,
        max_class_share: float | None,
    ) -> str:
        """The strategy a round records, once its settings are checked for this workspace."""
        if scorer is not None and strategy is not None:
            raise ValueError("give a strategy name or your own scorer, not both")
        BATCH_SIZE.check(batch_size, "batch_size")
        registry = ML_STRATEGY if self.multi_label else STRATEGY
        if strategy is not None and strategy not in registry.choices:
            kind = "multi-label" if self.multi_label else "single-label"
            raise TextalError(
                f"strategy {show_value(strategy)} is not one for a {kind} workspace: choose "
                f"from {', '.join(registry.choices)}"
            )
        if self.multi_label and (scorer is not None or max_class_share is not None):
            raise TextalError(
                "a multi-label round takes no own scorer and no --max-class-share (a pick is "
                "predicted several labels)"
            )
        if scorer is not None:
            return f"custom:{getattr(scorer, '__name__', 'scorer')}"
        return strategy or registry.default

    def _plan(
        self,
        pool: VectorStore,
        labels: dict[str, str],
        params: RoundParams,
        *,
        exclude: set[str],
        batch_size: int,
        stop_ids: list[str],
        scorer: Scorer | None,
    ) -> RoundPlan[Any]:
        """The round's plan: :func:`~textal.round.plan.plan_round` on the labels, or in a
        multi-label workspace :func:`~textal.round.multilabel.plan_multilabel_round` on the
        label sets (its picks keep every label's probability, :func:`_per_label`)."""
        if self.multi_label:
            from textal.round.multilabel import plan_multilabel_round

            plan = plan_multilabel_round(
                pool,
                {i: parse_label_set(cell) for i, cell in labels.items()},
                self.config.labels,
                strategy=params.strategy,
                batch_size=batch_size,
                exclude=exclude,
                seed=params.seed or 0,
                stop_ids=stop_ids or None,
                candidates=params.candidates,
                probes=self._name_probes(labels, params.strategy),
            )
            return replace(plan, picks=[_per_label(s) for s in plan.picks])
        from textal.round.plan import plan_round  # scikit-learn: only for commands that train

        return plan_round(
            pool,
            labels,
            strategy=params.strategy,
            batch_size=batch_size,
            exclude=exclude,
            max_class_share=params.max_class_share,
            seed=params.seed or 0,
            stop_ids=stop_ids or None,
            scorer=scorer,
            candidates=params.candidates,
            probes=self._name_probes(labels, params.strategy),
        )

    def _name_probes(self, labels: dict[str, str], strategy: str) -> dict[str, np.ndarray]:
        """The embedded names (with their guideline descriptions) of the declared labels nobody
        has given yet, for a strategy that probes (:mod:`textal.strategy.probes`). Embedding
        them loads the model, so only then."""
        if self.multi_label:
            builtin: Builtin[Any] | None = ML_STRATEGIES.get(strategy)
            given = {name for cell in labels.values() for name in parse_label_set(cell)}
        else:
            builtin, given = STRATEGIES.get(strategy), set(labels.values())
        missing = [name for name in self.config.labels if name not in given]
        if builtin is None or not builtin.probe or not missing:
            return {}
        descriptions = load_guidelines(self.path).labels
        texts = [probe_text(name, descriptions.get(name, "")) for name in missing]
        return dict(zip(missing, self.encoder.encode(texts), strict=True))

    def _agreement(self, rounds: list[RoundRecord], plan: RoundPlan) -> float | None:
        """Kappa with the previous trained round's stop-set predictions; ``None`` without one,
        or when it was trained on these very labels (the same labels are no new evidence)."""
        trained = [r for r in rounds if not r.report.cold_start]
        if not trained or plan.report.cold_start or trained[-1].trained_on == plan.trained_on:
            return None
        return agreement(self.ledger.stop_predictions(trained[-1].round), plan.stop_predictions)

    def _export_round(self, record: RoundRecord, *, reused: bool) -> RoundResult:
        selections = self.ledger.selections(record.round)
        csv_path = self.path / "batches" / f"round-{record.round}.csv"
        names = self.config.labels if self.multi_label else None
        write_batch(csv_path, selections, self.store, label_names=names)
        return RoundResult(
            record,
            selections,
            csv_path,
            csv_path.with_suffix(".jsonl"),
            reused,
            "labels" if self.multi_label else "label",
        )

    def open_batch(self) -> list[Selection]:
        """The last round's selections that are not labeled or marked yet, by rank."""
        last = self.ledger.last_round()
        if last is None:
            return []
        done = set(self.ledger.current_labels()) | self.ledger.ambiguous_items()
        return [s for s in self.ledger.selections(last.round) if s.item_id not in done]


def _check_something_to_ask(
    uri: str, count: int, filter: Filter | None, labeled: int, ambiguous: int
) -> None:
    """Refuse a round over ``count`` items (those ``filter`` matches) that has nothing to ask."""
    if count == 0 and filter is not None:
        raise TextalError(
            f"no item in the store {uri} matches the filter (items ingested "
            "before filters have no metadata but their gold label)"
        )
    if count == 0:
        raise TextalError(f"the store {uri} is empty: run `textal ingest` first")
    if filter is None and count <= labeled + ambiguous:
        raise TextalError(
            f"nothing left to label: all {count} items are labeled ({labeled}) or marked "
            f"ambiguous ({ambiguous}); no round was recorded"
        )


def _per_label(pick: Selection) -> Selection:
    """A multi-label pick as the ledger keeps it: every label's presence probability in
    ``probabilities`` (label order), the two likeliest in ``top2``, best first."""
    best = sorted(pick.top2, key=lambda c: -c.probability)[:2]
    return replace(pick, top2=tuple(best), probabilities=pick.top2)
