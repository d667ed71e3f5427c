"""Summarises a py-spy `--format raw` profile: top functions by self and by inclusive samples.

.venv/bin/python bench/_pyspy_top.py PROFILE.txt [--top 25] [--match SUBSTRING ...]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--match", nargs="*", default=[], help="also report inclusive share of frames containing these"
    )
    args = parser.parse_args()
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    matched: Counter[str] = Counter()
    total = 0
    for line in open(args.profile):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [f for f in stack.split(";") if not f.startswith("process ") and not f.startswith("thread ")]
        names = []
        for f in frames:
            m = FRAME.match(f)
            names.append(f"{m.group(1)} ({m.group(2).split('site-packages/')[-1]})" if m else f)
        if names:
            self_c[names[-1]] += n
        for name in set(names):
            incl[name] += n
        for want in args.match:
            if any(want in f for f in frames):
                matched[want] += n
    print(f"total samples {total}")
    print("\n-- self")
    for name, n in self_c.most_common(args.top):
        print(f"{100 * n / total:5.1f}%  {name}")
    print("\n-- inclusive")
    for name, n in incl.most_common(args.top * 2):
        print(f"{100 * n / total:5.1f}%  {name}")
    if matched:
        print("\n-- matched (inclusive)")
        for want in args.match:
            print(f"{100 * matched[want] / total:5.1f}%  {want}")


if __name__ == "__main__":
    main()
