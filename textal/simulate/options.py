"""Options of ``textal simulate``, in a module light enough for the CLI to import at start-up."""

from textal.options import Interval, StrOptions

#: The pool's store: a persisted memory store (runs in parallel) or Milvus Lite.
STORE = StrOptions(("memory", "milvus"), default="memory")
#: The initial labels: a random sample of the pool, or textal's cold-start batch.
INITIAL = StrOptions(("random", "cold-start"), default="random")
#: The chance that the oracle answers a wrong label.
LABEL_NOISE = Interval(float, 0.0, low=0, high=1, high_open=True)
