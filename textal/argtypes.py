"""Argument types shared by the CLI's commands: a bad value is an argparse usage error (exit 2)."""

import argparse


def positive_int(text: str) -> int:
    """An integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def share(text: str) -> float:
    """A fraction in (0, 1], e.g. a class's share of a batch."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError("must be in (0, 1]")
    return value


def port(text: str) -> int:
    """A TCP port, 0 to 65535 (0: any free port)."""
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be from 0 to 65535")
    return value


def add_embedding_options(parser: argparse.ArgumentParser) -> None:
    """``--embed-backend`` and ``--device``, shared by the commands that embed."""
    from textal.embed.backends import BACKENDS, DEFAULT_BACKEND

    parser.add_argument(
        "--embed-backend",
        choices=list(BACKENDS),
        help=f"embedding runtime (default: the workspace's, for a new one {DEFAULT_BACKEND}); "
        "onnx and openvino give torch's vectors, faster on CPU; onnx-int8 quantised ones "
        "(cosine ~0.99, fastest) that a workspace does not mix with the others; "
        "other than torch needs `pip install textal[fast]`",
    )
    parser.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        help="where torch embeds; cuda runs in fp16 (default: cuda when PyTorch sees a GPU)",
    )
