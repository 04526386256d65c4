"""Choices of ``textal simulate``, in a module light enough for the CLI to import at start-up."""

STORE_KINDS = ("memory", "milvus")  # the pool's store: a persisted memory store or Milvus Lite
INITIAL_KINDS = ("random", "cold-start")  # the initial labels: a random sample or a cold start
