"""A command that needs a missing extra stops with one error line naming it.

The extra is made missing for real in a child process: an import hook at the front of
``sys.meta_path`` refuses its modules, as if they were not installed (textal itself runs
unchanged)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from textal.extras import EXTRAS

REPO = Path(__file__).resolve().parents[1]

BLOCK_AND_RUN = """
import sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

BLOCKED = set(sys.argv[1].split(","))
sys.meta_path.insert(0, NotInstalled())
from textal.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_extras_list_the_modules_pyproject_installs():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for extra, modules in EXTRAS.items():
        names = [req.split(">")[0].split("=")[0].strip().lower() for req in extras[extra]]
        assert names == list(modules), extra
    assert set(EXTRAS) <= {e.split("]")[0] for e in extras["all"][0].split("[")[1].split(",")}


@pytest.mark.parametrize(
    ("blocked", "argv", "extra"),
    [
        ("uvicorn", ["serve", "--port", "0"], "web"),
        ("cleanlab", ["suspects"], "quality"),
        ("cleanlab", ["status", "--suspects"], "quality"),
        ("matplotlib", ["simulate", "--data", "x.csv", "--test-fraction", "0.2"], "plots"),
    ],
)
def test_a_missing_extra_is_one_error_line(tmp_path, blocked, argv, extra):
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK_AND_RUN, blocked, *argv, "--workspace", str(tmp_path / "ws")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert f"needs the '{extra}' extra" in proc.stderr and f"textal[{extra}]" in proc.stderr
    assert blocked in proc.stderr
    assert not (tmp_path / "ws").exists()  # refused before anything was created
