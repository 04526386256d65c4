"""Runtimes other than PyTorch for a sentence-transformers model, exported once into a cache.

The whole model (transformer, pooling, normalisation) is traced from PyTorch into one graph that
maps the tokenizer's tensors to the sentence embedding, so any sentence-transformers text model
works. sentence-transformers' own ``backend="onnx"/"openvino"`` goes through optimum, whose
releases do not import with the transformers version textal runs on; ONNX Runtime and OpenVINO
themselves do, and are all this needs.

Exports live in ``$TEXTAL_CACHE`` (default ``~/.cache/textal/models``), one folder per
(model, backend), written into a temporary folder and renamed into place, so a crash or two
processes exporting at once never leave half an export behind. Nothing here needs the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from textal.errors import TextalError

#: Backend name -> the family of vectors it gives. Backends of one family give the same vectors
#: (cosine >= 0.999 to PyTorch fp32), so a workspace may switch between them; others may not.
BACKENDS: dict[str, str] = {
    "torch": "fp32",
    "onnx": "fp32",
    "openvino": "fp32",
    "onnx-int8": "onnx-int8",
}
DEFAULT_BACKEND = "torch"
_PACKAGES = {"onnx": "onnxruntime onnx", "onnx-int8": "onnxruntime onnx", "openvino": "openvino"}
_MODEL_FILES = {"onnx": "model.onnx", "onnx-int8": "model.onnx", "openvino": "model.xml"}
_INPUTS_FILE = "inputs.json"  # the graph's input names in order, written last: marks a full export
_EXAMPLE = ["an example sentence", "a second, somewhat longer example sentence to trace"]

Runner = Callable[[dict[str, np.ndarray]], np.ndarray]


def check_backend(name: str) -> str:
    """``name`` if it is a known backend, else a :class:`TextalError` listing them."""
    if name not in BACKENDS:
        raise TextalError(f"unknown embedding backend {name!r}; choose from {', '.join(BACKENDS)}")
    return name


def same_vectors(a: str, b: str) -> bool:
    """Whether backends ``a`` and ``b`` give interchangeable vectors."""
    return BACKENDS.get(a, a) == BACKENDS.get(b, b)


def cache_root() -> Path:
    return Path(os.environ.get("TEXTAL_CACHE") or Path.home() / ".cache" / "textal" / "models")


def export_dir(model_id: str, backend: str) -> Path:
    """Where ``model_id``'s ``backend`` export lives: readable name plus a hash of the full id."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id.rstrip("/").rsplit("/", 1)[-1])
    digest = hashlib.sha256(model_id.encode("utf-8")).hexdigest()[:10]
    return cache_root() / f"{name}-{digest}-{backend}"


def load_runner(model: Any, model_id: str, backend: str) -> tuple[Runner, list[str]]:
    """A function from tokenizer tensors (numpy, by name) to sentence embeddings, and the input
    names it takes; exports ``model`` (a loaded ``SentenceTransformer``) first if not cached."""
    folder = export_dir(model_id, backend)
    if not (folder / _INPUTS_FILE).exists():
        _export(model, backend, folder)
    names = json.loads((folder / _INPUTS_FILE).read_text(encoding="utf-8"))
    path = folder / _MODEL_FILES[backend]
    if backend == "openvino":
        import openvino

        compiled = openvino.Core().compile_model(str(path), "CPU")
        return (lambda features: np.asarray(compiled(features)[0])), names
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # Idle threads sleep instead of spinning: spinning starves everything else on a busy machine.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return (lambda features: np.asarray(session.run(None, features)[0])), names


def _export(model: Any, backend: str, folder: Path) -> None:
    try:
        if backend == "openvino":
            import openvino  # noqa: F401
        else:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise TextalError(
            f"embedding backend {backend!r} needs `pip install {_PACKAGES[backend]}` "
            "(or `pip install textal[fast]`)"
        ) from exc
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        names = _trace(model, backend, tmp)
        (tmp / _INPUTS_FILE).write_text(json.dumps(names), encoding="utf-8")
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / _INPUTS_FILE).exists():  # not another process's finished export
                raise
    except Exception as exc:
        if isinstance(exc, TextalError):
            raise
        raise TextalError(f"cannot export the embedding model to {backend}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _trace(model: Any, backend: str, out: Path) -> list[str]:
    """Write ``backend``'s model file into ``out``; returns the graph's input names."""
    import torch

    features = {k: v for k, v in model.preprocess(_EXAMPLE).items() if isinstance(v, torch.Tensor)}
    names = list(features)

    class _Embed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(names, tensors, strict=True)))["sentence_embedding"]

    module = _Embed().to("cpu").float().eval()
    inputs = tuple(features[n].to("cpu") for n in names)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracing warnings about Python control flow
        if backend == "openvino":
            import openvino

            graph = openvino.convert_model(module, example_input=inputs)
            for port, name in zip(graph.inputs, names, strict=True):
                port.get_tensor().set_names({name})
            openvino.save_model(graph, out / _MODEL_FILES[backend], compress_to_fp16=False)
            return names
        fp32 = out / ("fp32.onnx" if backend == "onnx-int8" else _MODEL_FILES[backend])
        axes = {n: {0: "batch", 1: "tokens"} for n in names}
        torch.onnx.export(
            module,
            inputs,
            str(fp32),
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    if backend == "onnx-int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Per-channel int8 weights of the matrix products only: quantising embeddings and
        # per-tensor scales cost far more agreement (mean cosine 0.95 against 0.99 measured).
        quantize_dynamic(
            fp32,
            out / _MODEL_FILES[backend],
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
        fp32.unlink()
    return names
