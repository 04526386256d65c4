"""What ``textal status`` shows: counts, the last model, the stopping signal, label quality."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from textal.data.label_sets import parse_label_set
from textal.ledger import Ledger, RoundRecord, labels_digest
from textal.model.routing import Route
from textal.quality.agreement import AgreementReport
from textal.round.stopping import is_stable
from textal.store import VectorStore
from textal.workspace.config import WorkspaceConfig
from textal.workspace.predicting import saved_route


@dataclass(frozen=True)
class Status:
    """What ``textal status`` shows."""

    workspace: Path
    model: str
    dim: int
    backend: str  # the recorded embedding backend (textal.embed.backends)
    store_uri: str
    items: int
    label_counts: dict[str, int]
    ambiguous: int
    rounds: int
    last_model: str | None
    last_cv_score: float | None
    last_candidates: str | None  # what the last round scored: "all" or "index"
    agreement: float | None
    stable: bool
    suspects: int | None  # None: not computed since the last label event (status(suspects=True))
    annotators: AgreementReport  # per-pair Cohen's kappa and disagreements of annotators
    route: Route | None = None  # the saved predict model's routing (textal predict); None: none
    route_current: bool = False  # whether that model was trained on the current labels
    labeled: int = 0  # items whose current answer is a label (a label set, when multi-label)
    multi_label: bool = False  # label_counts then counts each label's items
    none_of_these: int = 0  # multi-label: items answered with the empty set
    last_filter: str | None = None  # what the last round's items were restricted to (filters)


def read_status(
    path: Path,
    config: WorkspaceConfig,
    store: VectorStore,
    ledger: Ledger,
    suspects: int | None,
    annotators: AgreementReport,
) -> Status:
    """The status of the workspace at ``path`` made of these parts; ``suspects`` is the suspect
    count to show (``None``: not computed since the last label event)."""
    labels = ledger.current_labels()
    if config.multi_label:
        sets = [parse_label_set(cell) for cell in labels.values()]
        counts = {name: sum(name in s for s in sets) for name in config.labels}
    else:  # every declared label, those nobody has given yet with 0
        given = Counter(labels.values())
        counts = {name: given[name] for name in sorted(set(config.labels) | set(given))}
    rounds = ledger.rounds()
    last = rounds[-1] if rounds else None
    kappas = _evidence(rounds)
    saved = saved_route(path, labels_digest(labels))
    return Status(
        workspace=path,
        model=config.model,
        dim=config.dim,
        backend=config.backend,
        store_uri=store.uri,
        items=store.count(),
        label_counts=counts,
        ambiguous=len(ledger.ambiguous_items()),
        rounds=len(rounds),
        last_model=last.report.model if last else None,
        last_cv_score=last.report.cv_score if last else None,
        last_candidates=last.report.candidates if last else None,
        agreement=kappas[-1] if kappas else None,
        stable=is_stable(kappas),
        suspects=suspects,
        annotators=annotators,
        route=saved[0] if saved else None,
        route_current=bool(saved and saved[1]),
        labeled=len(labels),
        multi_label=config.multi_label,
        none_of_these=sum(cell == "" for cell in labels.values()) if config.multi_label else 0,
        last_filter=last.params.filter if last else None,
    )


def _evidence(rounds: Sequence[RoundRecord]) -> list[float | None]:
    """The stopping signal's agreements, oldest first: one per trained round whose labels differ
    from the previous trained round's. A round on the same labels (another batch size, strategy
    or seed) compares a model with itself: no evidence, so it does not count."""
    kappas: list[float | None] = []
    previous: RoundRecord | None = None
    for record in rounds:
        if record.report.cold_start:
            continue
        if previous is not None and record.trained_on != previous.trained_on:
            kappas.append(record.report.agreement)
        previous = record
    return kappas
