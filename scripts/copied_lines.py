"""How many lines one tap folder repeats from another, to the letter.

For each pair of tap folders, the lines of the first that lie in a run of six or more
identical lines (blank lines and indentation aside) also found in the second, summed
over the pairs. What every tap shares belongs in the core (tapkit/), so this stays
small; ``tests/test_layout.py`` holds it under a limit.

    .venv/bin/python scripts/copied_lines.py [--root DIR]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TAP_FOLDERS = ("tap-painchek", "tap-humanapi", "tap-healthex")
RUN = 6


def _lines(folder: Path) -> list[list[str]]:
    files = sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
    return [[s for line in p.read_text().splitlines() if (s := line.strip())] for p in files]


def _windows(files: list[list[str]]) -> set[tuple[str, ...]]:
    return {tuple(f[i : i + RUN]) for f in files for i in range(len(f) - RUN + 1)}


def copied(first: Path, second: Path) -> int:
    """Lines of ``first`` in a run of RUN or more lines that ``second`` also holds."""
    theirs = _windows(_lines(second))
    count = 0
    for lines in _lines(first):
        covered = [False] * len(lines)
        for i in range(len(lines) - RUN + 1):
            if tuple(lines[i : i + RUN]) in theirs:
                covered[i : i + RUN] = [True] * RUN
        count += sum(covered)
    return count


def total(root: Path = ROOT) -> dict[str, int]:
    """Copied lines per pair of tap folders (``a ~ b``: a's lines found in b)."""
    return {
        f"{a} ~ {b}": copied(root / a, root / b) for a, b in itertools.combinations(TAP_FOLDERS, 2)
    }


def main() -> None:
    """Print the figure per pair and in all."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository's root")
    pairs = total(parser.parse_args().root)
    for pair, count in pairs.items():
        print(f"{pair:<32}{count:>6}")
    print(f"{'in all':<32}{sum(pairs.values()):>6}")


if __name__ == "__main__":
    main()
