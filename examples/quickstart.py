"""The active-learning loop from Python, on 1,000 real Amazon reviews, with a simulated annotator.

Run from the repository root with ../shared/data beside it:

    python examples/quickstart.py

Each round writes a batch; here the "annotator" copies the dataset's gold label, as a person
filling the batch's label column would.
"""

import tempfile
from pathlib import Path

from textal.workspace import Workspace

DATA = Path(__file__).resolve().parents[1].parent / "shared/data/uci_sentiment_labelled/amazon.csv"

with (
    tempfile.TemporaryDirectory() as tmp,
    Workspace.open(Path(tmp) / "ws", labels=["negative", "positive"]) as ws,
):
    report, _ = ws.ingest(DATA, label_column="label")  # gold labels kept for the "annotator"
    print(f"stored {report.added} reviews")
    for _ in range(4):
        result = ws.round(batch_size=20)
        batch = ws.store.get([s.item_id for s in result.selections])
        ws.add_labels([(item.id, item.metadata["gold"]) for item in batch], annotator="example")
        status = ws.status()
        cv = "n/a" if status.last_cv_score is None else f"{status.last_cv_score:.3f}"
        print(f"round {result.round.round}: labels {status.label_counts}, model CV score {cv}")
