"""The parts of an open workspace and the reads every job shares."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from textal.embed import Encoder
from textal.errors import TextalError
from textal.ledger import LabelEvent, Ledger, RoundRecord, Selection
from textal.store import VectorStore
from textal.workspace.accounts import Accounts
from textal.workspace.config import LEDGER_NAME, WorkspaceConfig


class WorkspaceCore:
    """A workspace's parts and what every job shares: closing, threads, the embedding model,
    reading the ledger. :class:`textal.workspace.Workspace` adds the jobs."""

    def __init__(self, path: Path, config: WorkspaceConfig, store: VectorStore, ledger: Ledger):
        self.path = path
        self.config = config
        self.store = store
        self.ledger = ledger
        self._encoder: Encoder | None = None
        self.labels_added: tuple[str, ...] = ()  # names this open added to the label set
        self._backend = config.backend  # the session's backend: the recorded one's family
        self._device: str | None = None

    def close(self) -> None:
        self.store.close()
        self.ledger.close()

    @contextmanager
    def sibling(self) -> Iterator[Self]:
        """This workspace for another thread of this process: the same config, store and
        embedding model, its own ledger connection (SQLite connections belong to the thread that
        made them), closed at the end of the block; the store stays open."""
        ledger = Ledger(self.path / LEDGER_NAME)
        try:
            other = type(self)(self.path, self.config, self.store, ledger)
            other._encoder = self._encoder
            other._backend, other._device = self._backend, self._device
            yield other
        finally:
            ledger.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def encoder(self) -> Encoder:
        """The workspace's embedding model, loaded on first use."""
        if self._encoder is None:
            self._encoder = Encoder(self.config.model, device=self._device, backend=self._backend)
            if self._encoder.dim != self.config.dim:
                raise TextalError(
                    f"model {self.config.model} gives dimension {self._encoder.dim}, "
                    f"but workspace {self.path} stores dimension {self.config.dim}"
                )
        return self._encoder

    @property
    def multi_label(self) -> bool:
        """Whether answers here are label sets (fixed when the workspace was made)."""
        return self.config.multi_label

    def current_label_sets(self) -> dict[str, frozenset[str]]:
        """A multi-label workspace's current answers, ``{item_id: label set}`` (an empty set:
        "none of these"), oldest first."""
        if not self.multi_label:
            raise TextalError(f"workspace {self.path} is single-label: it has no label sets")
        return self.ledger.current_label_sets()

    # -- reading the ledger ---------------------------------------------------------------

    def last_seq(self) -> int:
        """The sequence number of the latest label event (0: none yet)."""
        return self.ledger.last_seq()

    def current_labels(self) -> dict[str, str]:
        """``{item_id: current label}`` (a canonical label-set cell when multi-label)."""
        return self.ledger.current_labels()

    def ambiguous_items(self) -> set[str]:
        """Items whose latest event marks them ambiguous."""
        return self.ledger.ambiguous_items()

    def history(self) -> list[LabelEvent]:
        """Every label event, oldest first."""
        return self.ledger.history()

    def events_of(self, item_ids: Sequence[str]) -> list[LabelEvent]:
        """Every label event on ``item_ids``, oldest first."""
        return self.ledger.events_of(item_ids)

    def rounds(self) -> list[RoundRecord]:
        """Every recorded round, oldest first."""
        return self.ledger.rounds()

    def last_round(self) -> RoundRecord | None:
        return self.ledger.last_round()

    def selections(self, round_number: int) -> list[Selection]:
        """A round's selections, by rank."""
        return self.ledger.selections(round_number)

    @property
    def accounts(self) -> Accounts:
        """The web accounts and sessions (this thread's ledger connection)."""
        return Accounts(self.ledger)
