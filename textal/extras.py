"""Optional parts of textal and the pip extras that install them (``pyproject.toml``).

Rounds need none of them. A command that needs one calls :func:`require_extra` before its work,
so a missing extra is one ``error:`` line naming it instead of an ImportError midway.
"""

from __future__ import annotations

import importlib

from textal.errors import TextalError

#: The modules each extra of ``pyproject.toml`` installs (tests/test_extras.py keeps them equal).
EXTRAS: dict[str, tuple[str, ...]] = {
    "web": ("starlette", "uvicorn", "jinja2", "itsdangerous"),  # textal serve
    "quality": ("cleanlab",),  # suspect labels: textal suspects, status --suspects
    "plots": ("matplotlib",),  # textal simulate's curves.png
}


def require_extra(extra: str, needed_by: str) -> None:
    """Refuse, naming ``extra`` and how to install it, when one of its modules cannot be
    imported; ``needed_by`` says what needs it (``"textal serve"``)."""
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise TextalError(
                f"{needed_by} needs the '{extra}' extra, which is not installed ({exc}): "
                f"pip install 'textal[{extra}]' (in a checkout: pip install -e '.[{extra}]')"
            ) from None
