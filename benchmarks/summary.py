"""ROUGE and speed of the extractive summariser against the lead-3 baseline.

Usage::

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/summary.py [--data articles.jsonl] [--json out.json] [--halves]

The data file holds one JSON object per line with ``article``, ``reference``,
``source_dataset`` and optionally ``title``. The default is the team's offline
evaluation set (CNN/DailyMail + XSum); it is used in place, never copied here.
Scores are mean ROUGE F1 x 100 (rouge-score, Porter stemmer); ROUGE-Lsum
compares newline-joined sentences. CNN/DM and XSum are reported separately
because their references differ in kind (3-4 highlights vs one abstractive line).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from rouge_score import rouge_scorer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.summarize import ExtractiveSummarizer, split_sentences  # noqa: E402
from bot.summarize.clip import clip_text  # noqa: E402

# The shared evaluation set sits beside the repository (../shared), never inside it.
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "summaries" / "articles.jsonl"
METRICS = ("rouge1", "rouge2", "rougeL", "rougeLsum")
Method = Callable[[str, str], str]


def load(path: Path) -> list[dict[str, str]]:
    """Read the JSONL evaluation file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def lead(n: int, max_chars: int | None = None) -> Method:
    """The first ``n`` sentences of the article: the classic news baseline.

    With ``max_chars`` the baseline is cut like our summaries are, which shows how
    much of any gain comes from the length cap alone (ROUGE F1 rewards brevity).
    """

    def method(title: str, text: str) -> str:
        summary = " ".join(split_sentences(text)[:n])
        return clip_text(summary, max_chars) if max_chars else summary

    return method


def as_lines(text: str) -> str:
    """One sentence per line, as ROUGE-Lsum expects."""
    return "\n".join(split_sentences(text))


def evaluate(method: Method, rows: Iterable[dict[str, str]]) -> dict[str, float]:
    """Mean ROUGE F1 (x100), summary length and timing of one method over ``rows``."""
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    totals = dict.fromkeys(METRICS, 0.0)
    timings: list[float] = []
    words = 0
    count = 0
    for row in rows:
        started = time.perf_counter()
        summary = method(row.get("title") or "", row["article"])
        timings.append(time.perf_counter() - started)
        scores = scorer.score(as_lines(row["reference"]), as_lines(summary))
        for metric in METRICS:
            totals[metric] += scores[metric].fmeasure
        words += len(summary.split())
        count += 1
    timings.sort()
    result = {metric: round(100 * total / count, 2) for metric, total in totals.items()}
    result.update(
        n=count,
        words=round(words / count, 1),
        per_s=round(count / sum(timings), 1),
        p50_ms=round(1000 * statistics.median(timings), 2),
        p99_ms=round(1000 * timings[min(count - 1, round(0.99 * (count - 1)))], 2),
    )
    return result


def run(
    rows: list[dict[str, str]], methods: dict[str, Method], *, halves: bool = False
) -> dict[str, dict[str, dict]]:
    """Evaluate every method on every subset (``source_dataset``) of ``rows``.

    With ``halves``, each subset is also scored as its first and second half (file
    order), so a setting tuned on one half can be checked on the other.
    """
    parts: dict[str, list[dict[str, str]]] = {}
    for subset in sorted({row["source_dataset"] for row in rows}):
        chosen = [r for r in rows if r["source_dataset"] == subset]
        parts[subset] = chosen
        if halves:
            middle = len(chosen) // 2
            parts[f"{subset} 1st half"] = chosen[:middle]
            parts[f"{subset} 2nd half"] = chosen[middle:]
    return {
        part: {name: evaluate(method, chosen) for name, method in methods.items()}
        for part, chosen in parts.items()
    }


def print_table(results: dict[str, dict[str, dict]]) -> None:
    """Print the results as a Markdown table."""
    print("| subset | method | R-1 | R-2 | R-L | R-Lsum | words | art/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for subset, by_method in results.items():
        for name, r in by_method.items():
            print(
                f"| {subset} ({r['n']}) | {name} | {r['rouge1']:.2f} | {r['rouge2']:.2f} "
                f"| {r['rougeL']:.2f} | {r['rougeLsum']:.2f} | {r['words']} | {r['per_s']} "
                f"| {r['p50_ms']} | {r['p99_ms']} |"
            )


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="JSONL evaluation file")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument("--sentences", type=int, default=3, help="summary sentences (default 3)")
    parser.add_argument("--max-chars", type=int, default=500, help="summary length cap")
    parser.add_argument("--limit", type=int, help="only the first N rows of each subset")
    parser.add_argument("--halves", action="store_true", help="also score each subset's two halves")
    args = parser.parse_args(argv)

    rows = load(args.data)
    if args.limit:
        seen: dict[str, int] = {}
        kept = []
        for row in rows:
            seen[row["source_dataset"]] = seen.get(row["source_dataset"], 0) + 1
            if seen[row["source_dataset"]] <= args.limit:
                kept.append(row)
        rows = kept
    ours = ExtractiveSummarizer(sentences=args.sentences, max_chars=args.max_chars)

    def extractive(title: str, text: str) -> str:
        return ours.summarize_sync(title, text).one_line()

    methods: dict[str, Method] = {
        "lead-3": lead(3),
        f"lead-3, cut at {args.max_chars} chars": lead(3, args.max_chars),
        f"extractive ({args.sentences} sent, {args.max_chars} chars)": extractive,
    }
    results = run(rows, methods, halves=args.halves)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
