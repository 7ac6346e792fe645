"""Figures of the package's layout: `python scripts/house.py [ROOT]`.

Modules at the top level of `qodlab/`, lines per folder (code lines of the .py files directly in it), functions
longer than 50 lines, and the count of `# fmt: skip`. The issue on the layout quotes them before and after a move.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path


def main(root: Path) -> None:
    package = root / "qodlab"
    files = sorted(package.rglob("*.py"))
    top = [f for f in files if f.parent == package and f.name not in ("__init__.py", "__main__.py")]
    print(f"top-level modules: {len(top)} ({sum(f.name.startswith('_') for f in top)} private)")
    lines: Counter[str] = Counter()
    for f in files:
        lines[str(f.parent.relative_to(root))] += len(f.read_text().splitlines())
    for folder, count in sorted(lines.items()):
        print(f"  {folder:<32} {count:>6} lines")
    long: list[tuple[int, str]] = []
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
                size = node.end_lineno - node.lineno + 1
                if size > 50:
                    long.append((size, f"{f.relative_to(root)}:{node.lineno} {node.name}"))
    print(f"functions over 50 lines: {len(long)}")
    for size, where in sorted(long, reverse=True):
        print(f"  {size:>4} {where}")
    skips = {d: sum(f.read_text().count("# fmt: skip") for f in (root / d).rglob("*.py")) for d in ("qodlab", "tests")}
    print(f"# fmt: skip: {skips['qodlab']} in qodlab/, {skips['tests']} in tests/")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
