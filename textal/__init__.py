"""textal: active learning for text classification on sentence embeddings stored in Milvus."""

__version__ = "0.1.0"
