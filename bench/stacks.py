"""Summarises py-spy's collapsed stacks (``bench.run --profile``): where serve's time goes.

``python -m bench.stacks FILE [--top N] [--filter TEXT]`` prints the functions with the most
samples on the CPU themselves (self) and with the most samples anywhere on the stack
(inclusive), as shares of all samples.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def read(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def short(frame: str) -> str:
    """``func (path/to/module.py:12)`` → ``func (module.py)``: lines differ per sample."""
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rsplit("/", 1)[-1]
    return f"{name} ({file})" if file else name


def summarise(stacks: list[tuple[list[str], int]], top: int, only: str | None) -> str:
    total = sum(count for _, count in stacks)
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    for frames, count in stacks:
        names = [short(f) for f in frames]
        if only and not any(only in n for n in names):
            continue
        own[names[-1]] += count
        for name in set(names):
            anywhere[name] += count
    lines = [f"{total} samples"]
    for title, counter in (("self", own), ("inclusive", anywhere)):
        lines.append(f"\n{title}:")
        for name, count in counter.most_common(top):
            lines.append(f"{100 * count / total:6.1f} %  {name}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--filter", help="only stacks with a frame containing this text")
    args = parser.parse_args()
    print(summarise(read(args.file), args.top, args.filter))


if __name__ == "__main__":
    main()
