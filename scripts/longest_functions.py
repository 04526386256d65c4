"""The N longest functions of a package tree (lines from ``def`` to the end, docstring included),
methods named by their class: where a room has grown too big.

    python scripts/longest_functions.py textal 15
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def longest(root: Path) -> list[tuple[int, str, Path]]:
    rows: list[tuple[int, str, Path]] = []

    def walk(node: ast.AST, prefix: str, path: Path) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                rows.append(((child.end_lineno or child.lineno) - child.lineno + 1, name, path))
                walk(child, name + ".", path)
            elif isinstance(child, ast.ClassDef):
                walk(child, prefix + child.name + ".", path)

    for path in sorted(root.rglob("*.py")):
        walk(ast.parse(path.read_text(encoding="utf-8")), "", path)
    return sorted(rows, key=lambda row: -row[0])


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "textal")
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    for lines, name, path in longest(root)[:count]:
        print(f"{lines:4d}  {name}  ({path})")


if __name__ == "__main__":
    main()
