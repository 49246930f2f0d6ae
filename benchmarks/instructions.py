"""Instructions per story, counted by callgrind: a cost this machine's noise cannot move.

Same workload as ``benchmarks/match.py`` (its seed, stories and rules). Each variant runs
in a process of its own under ``valgrind --tool=callgrind``: the index is built with
instrumentation off, 200 stories warm its caches and statistics, and only the matching
of the measured stories is counted (collection is toggled on around one call made
through ``ctypes``, a function nothing else in the process calls)::

    .venv/bin/python benchmarks/instructions.py --rules 10000 --rules 100000

prints instructions per story for each size, and writes JSON with ``--json PATH``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))

# The collection switch: callgrind counts only inside this function of libffi.
TOGGLE = "ffi_call"


def measure(n_rules: int, n_stories: int) -> None:
    """Runs inside valgrind: builds the index, warms it, matches the measured stories."""
    sys.path.insert(0, str(HERE.parent))
    import match  # the benchmark's workload

    from bot.rules import RuleIndex, compile_rule

    rng = random.Random(match.SEED)
    corpus = match.Corpus(rng)
    stories = [corpus.story() for _ in range(n_stories)]
    warm = [corpus.story()[0] for _ in range(match.WARMUP_STORIES)]
    index = RuleIndex()
    for i, query in enumerate(match.make_rules(corpus, stories, n_rules)):
        index.add(i, compile_rule(query))
    _instrument(on=True)
    for doc in warm:
        index.match(doc)
    docs = [s[0] for s in stories]
    matched = []

    def run() -> None:
        for doc in docs:
            matched.append(len(index.match(doc)))

    ctypes.CFUNCTYPE(None)(run)()
    print(json.dumps({"matches": sum(matched)}))


def _instrument(on: bool) -> None:
    """Switches callgrind's instrumentation (off at start: building the index is not
    measured, and runs near native speed)."""
    subprocess.run(
        ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def run_size(n_rules: int, n_stories: int) -> dict[str, Any]:
    """One size under callgrind; instructions per story."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--instr-atstart=no",
            "--collect-atstart=no",
            f"--toggle-collect={TOGGLE}",
            sys.executable,
            str(HERE),
            "--child",
            "--rules",
            str(n_rules),
            "--stories",
            str(n_stories),
        ]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        totals = re.search(r"^summary:\s+(\d+)", out.read_text(), re.MULTILINE)
        assert totals, "callgrind wrote no summary"
        matches = json.loads(done.stdout.strip().splitlines()[-1])["matches"]
    return {
        "rules": n_rules,
        "stories": n_stories,
        "matches": matches,
        "instructions_per_story": int(totals.group(1)) // n_stories,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=int, action="append", help="default 10k and 100k")
    parser.add_argument("--stories", type=int, default=100)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = sorted(args.rules or [10_000, 100_000])
    if args.child:
        measure(sizes[0], args.stories)
        return 0
    results = [run_size(n, args.stories) for n in sizes]
    print(f"{'rules':>7} {'instructions/story':>19}  matches")
    for r in results:
        print(
            f"{r['rules']:>7} {r['instructions_per_story']:>19,}  "
            f"{r['matches']} in {r['stories']} stories"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
