"""The CLI's arguments: options declared in the layers (:mod:`textal.options`) become argparse
arguments here, with their choices, type and default; a bad value is a usage error (exit 2)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from textal.options import POSITIVE, Interval, Number, StrOptions
from textal.strategy.diverse import MAX_CLASS_SHARE

PORT = Interval(int, 8000, low=0, high=65535)  # 0: any free port


def number(option: Interval[Number]) -> Callable[[str], Number]:
    """The argparse ``type`` of a number option: the number, or a usage error naming its bounds
    (``must be at least 1``)."""

    def parse(text: str) -> Number:
        value = option.kind(text)  # a ValueError: argparse says "invalid int value: 'x'"
        problem = option.problem(value)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = option.kind.__name__
    return parse


positive_int = number(POSITIVE)  # an integer of at least 1
share = number(MAX_CLASS_SHARE)  # a fraction in (0, 1], e.g. a class's share of a batch
port = number(PORT)  # a TCP port, 0 to 65535 (0: any free port)


def add_common_options(
    parser: argparse.ArgumentParser, *, default: str | object | None = argparse.SUPPRESS
) -> None:
    """``--workspace``, which every command takes anywhere on its line (``textal annotators add
    ana --workspace DIR`` too). Only the main parser sets a ``default``: a command's parser
    leaves the value alone unless given, so one given before the command is kept."""
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        default=default,
        help="workspace directory (default: $TEXTAL_WORKSPACE or ./textal-workspace)",
    )


def add_option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    flag: str,
    option: StrOptions | Interval[Any],
    help: str,
    **kwargs: Any,
) -> None:
    """Add ``flag`` with the option's choices (or checked number type) and default; ``help`` may
    say ``%(default)s`` and ``%(choices)s``, which argparse fills in from them."""
    if isinstance(option, StrOptions):
        kwargs.update(choices=list(option.choices), default=option.default)
    else:
        kwargs.update(type=number(option), default=option.default)
    parser.add_argument(flag, help=help, **kwargs)


def add_embedding_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
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
