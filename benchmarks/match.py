"""Benchmark: the rule presearcher against the naive way, tantivy, and tokenising alone.

Run the full set (1,000 stories; 1,000, 10,000 and 100,000 rules)::

    .venv/bin/python benchmarks/match.py --json bench.json

or a quick run: ``--rules 2000 --stories 200``.

Workload (fixed seed): a vocabulary of 50,000 made-up words with Zipf frequencies
(s = 1); stories of about 3.5 KB written from it in sentences, with a source, a URL and
an author. Rules cycle through six shapes -- ``a AND "b c"``, ``(a OR b) AND c -d``,
``title:x``, ``"a b"~5``, ``pref* AND b``, ``a AND b AND c`` -- with words drawn from the
vocabulary uniformly, past its 100 most common words (watch words are names and topics,
mostly in the long tail; no one watches for stop words); a quarter of the rules take
their words from a story: its distinctive words (outside the 1,000 most common), and
phrases and near pairs of content words as they occur in it.

Methods, measured in one run:

* ``ours``: ``RuleIndex.match`` per story, tokenising included. The index first sees
  200 other stories (a running service has seen many) so its key statistics are warm;
  ``ours_cold`` is a new index's first pass without that warm-up. Word caches are
  emptied and warmed with those same 200 other stories before every method, so each
  meets the measured stories' words for the first time.
* ``naive``: tokenise once, then every rule's exact evaluator -- on a sample spread
  over the stories when rules are many (its size is printed). Matches must equal ours
  exactly, what matched where included; the speed-up is naive's p50 over ours on the
  same stories. Between two timed stories ours keeps only the ids of the rules matched
  (explaining every match there would leave the next story a colder cache, and is not
  matching); its explained matches are compared with the naive way's afterwards, on a
  run of the sample outside the clock.
* ``tantivy``: all stories in one in-RAM index (en_stem), each rule run as a query; its
  time is per story amortised over the whole batch, so p50 = p99 = mean. Its analyser
  differs, so the agreement of its matches with ours is reported (Jaccard of pairs).
* ``tokenize_only``: analysing the story alone, every field with its stems, positions
  and words -- the floor for a matcher that reads every field (ours tokenises a field
  only when some rule reads it; the rules here never read source, URL or author).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.rules import Document, RuleIndex, RuleMatch, compile_rule  # noqa: E402
from bot.rules.analysis import get_analyzer  # noqa: E402
from bot.rules.document import FIELDS, AnalyzedDoc  # noqa: E402
from bot.rules.syntax import And, Leaf, Node, Not, Or  # noqa: E402

SEED = 20261129
VOCAB = 50_000
STOP_RANKS = 100
DISTINCT_RANKS = 1_000  # words in at most ~5% of stories
STORY_BYTES = 3_500
WARMUP_STORIES = 200
NAIVE_BUDGET = 5_000_000  # rule x story evaluations for the naive way per size
SOURCES = ["Reuters World", "AP News", "BBC Europe", "Belta", "Meduza", "DW", "Kyiv Independent"]


class Corpus:
    """Vocabulary, Zipf sampler and generated stories."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.words = _vocabulary(rng, VOCAB)
        weights = [1.0 / (rank + 1) for rank in range(VOCAB)]
        self.cum = list(itertools.accumulate(weights))
        self.rank = {w: i for i, w in enumerate(self.words)}

    def draw(self, k: int) -> list[str]:
        return [self.words[i] for i in self.rng.choices(range(VOCAB), cum_weights=self.cum, k=k)]

    def draw_watch(self, k: int) -> list[str]:
        """Words someone watches for: uniform over the vocabulary past the stop words."""
        return [self.words[self.rng.randrange(STOP_RANKS, VOCAB)] for _ in range(k)]

    def story(self) -> tuple[Document, list[str], list[str]]:
        title_words = self.draw(self.rng.randint(6, 12))
        body: list[str] = []
        sentences: list[str] = []
        size = 0
        while size < STORY_BYTES:
            sentence = self.draw(self.rng.randint(8, 20))
            body.extend(sentence)
            text = " ".join(sentence)
            if self.rng.random() < 0.3:
                cut = text.find(" ", len(text) // 2)
                text = text[:cut] + "," + text[cut:] if cut > 0 else text
            sentences.append(text[0].upper() + text[1:] + ".")
            size += len(text) + 2
        source = self.rng.choice(SOURCES)
        host = source.lower().replace(" ", "")
        slug = "-".join(title_words[:5])
        doc = Document(
            title=" ".join(title_words).capitalize(),
            text=" ".join(sentences),
            source=source,
            url=f"https://www.{host}.com/world/{slug}",
            author=" ".join(self.draw_watch(2)).title(),
        )
        return doc, title_words, body


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    consonants, vowels = "bcdfghjklmnprstvz", "aeiou"
    seen: set[str] = set()
    words: list[str] = []
    while len(words) < size:
        syllables = rng.choice((1, 2, 2, 3, 3, 4))
        word = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables))
        if rng.random() < 0.4:
            word += rng.choice(consonants)
        if len(word) >= 2 and word not in seen:
            seen.add(word)
            words.append(word)
    rng.shuffle(words)  # frequency rank independent of length
    return words


def make_rules(
    corpus: Corpus, stories: list[tuple[Document, list[str], list[str]]], n: int
) -> list[str]:
    """The rule mix; every fourth rule takes its words from a story."""
    rng = corpus.rng
    rules = []
    for i in range(n):
        shape = i % 6
        if i // 6 % 4 == 3:  # every shape, in turn
            rules.append(_from_story(rng, corpus, rng.choice(stories), shape))
        else:
            w = corpus.draw_watch(4)
            stem = next(
                x
                for x in itertools.chain(w, iter(lambda: corpus.draw_watch(1)[0], None))
                if len(x) >= 4
            )
            rules.append(_shape(shape, w, stem[: rng.randint(3, 5)], w[1]))
    return rules


def _shape(shape: int, w: list[str], prefix: str, title_word: str) -> str:
    return [
        f'{w[0]} AND "{w[1]} {w[2]}"',
        f"({w[0]} OR {w[1]}) AND {w[2]} -{w[3]}",
        f"title:{title_word}",
        f'"{w[0]} {w[1]}"~5',
        f"{prefix}* AND {w[1]}",
        f"{w[0]} AND {w[1]} AND {w[2]}",
    ][shape]


def _from_story(rng: random.Random, corpus: Corpus, story: Any, shape: int) -> str:
    _, title, body = story
    is_content = [corpus.rank[w] >= STOP_RANKS for w in body]
    # The words someone watching for this story would pick: its distinctive ones.
    content = [w for w in body if corpus.rank[w] >= DISTINCT_RANKS] or body
    title = [w for w in title if corpus.rank[w] >= DISTINCT_RANKS] or title
    w = [rng.choice(content) for _ in range(4)]
    if shape in (0, 3):
        # A phrase or a near pair of content words, as someone would watch for.
        gap = 1 if shape == 0 else rng.randint(1, 5)
        spots = [i for i in range(len(body) - gap) if is_content[i] and is_content[i + gap]]
        if spots:
            at = rng.choice(spots)
            # The phrase of ``a AND "b c"`` is w[1] w[2]; the pair of ``"a b"~5`` w[0] w[1].
            first = 1 if shape == 0 else 0
            w[first], w[first + 1] = body[at], body[at + gap]
    elif shape == 1:
        w[1], w[3] = corpus.draw_watch(1)[0], corpus.draw_watch(1)[0]
    long_words = [x for x in content if len(x) >= 5] or content
    return _shape(shape, w, rng.choice(long_words)[: rng.randint(3, 5)], rng.choice(title))


def _figures(latencies_ns: list[int], total_s: float, count: int) -> dict[str, float]:
    ordered = sorted(latencies_ns)
    return {
        "stories_per_s": round(count / total_s, 1) if total_s else 0.0,
        "p50_ms": round(statistics.median(ordered) / 1e6, 4),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6, 4),
    }


def _kept(result: Any) -> Any:
    """What a run keeps of one story's result: its matches, explained, without the story.

    A service hands matches on and drops them; keeping every story's analysis alive
    (a RuleMatch holds it until explained) would make each garbage collection during
    the run walk all of them, a cost no service pays.
    """
    if isinstance(result, list):
        return [(m.rule_id, m.terms, m.spans) for m in result]
    return None


def _ids(result: Any) -> Any:
    """What a timed run of ours keeps of a story's result: the ids of the rules matched."""
    return [m.rule_id for m in result]


def _timed(
    fn: Any, docs: list[Document], keep: Any = _kept
) -> tuple[dict[str, float], list[Any], list[int]]:
    """Runs ``fn`` on each story: figures, what was kept of each result, latencies (ns)."""
    gc.collect()
    out = []
    latencies = []
    total = 0
    result = None
    for doc in docs:
        # The previous story's result, analysis and explanations included, goes before
        # the clock starts: what a caller does with a result is not matching.
        result = None
        t0 = time.perf_counter_ns()
        result = fn(doc)
        latency = time.perf_counter_ns() - t0
        latencies.append(latency)
        total += latency
        out.append(keep(result))  # not timed
    return _figures(latencies, total / 1e9, len(docs)), out, latencies


def _to_tantivy(node: Node, schema: Any, tantivy: Any) -> Any:
    """Our syntax tree as a tantivy query (benchmark shapes only).

    Leaves already hold Snowball English stems, the form tantivy's en_stem indexes.
    """
    occur = tantivy.Occur
    query = tantivy.Query
    if isinstance(node, (And, Or)):
        subs = []
        for child in node.children:
            if isinstance(node, And) and isinstance(child, Not):
                subs.append((occur.MustNot, _to_tantivy(child.child, schema, tantivy)))
            else:
                kind = occur.Must if isinstance(node, And) else occur.Should
                subs.append((kind, _to_tantivy(child, schema, tantivy)))
        return query.boolean_query(subs)
    if isinstance(node, Not):
        inner = _to_tantivy(node.child, schema, tantivy)
        return query.boolean_query([(occur.Must, query.all_query()), (occur.MustNot, inner)])
    assert isinstance(node, Leaf)
    fields = ["title", "text"] if node.group == "" else [node.group]
    per_field = []
    for name in fields:
        if node.kind == "prefix":
            per_field.append(query.regex_query(schema, name, node.text + ".*"))
        else:
            words = [alts[0][0] for alts in node.slots]
            if len(words) == 1:
                per_field.append(query.term_query(schema, name, words[0]))
            else:
                per_field.append(query.phrase_query(schema, name, words, slop=node.slop or 0))
    if len(per_field) == 1:
        return per_field[0]
    return query.boolean_query([(occur.Should, q) for q in per_field])


def run_tantivy(
    docs: list[Document], rules: list[Any]
) -> tuple[dict[str, float], set[tuple[int, int]]]:
    import tantivy

    builder = tantivy.SchemaBuilder()
    for name in ("title", "text", "source", "url", "author"):
        builder.add_text_field(name, stored=False, tokenizer_name="en_stem")
    schema = builder.build()
    index = tantivy.Index(schema)  # in RAM
    start = time.perf_counter()
    writer = index.writer(heap_size=200_000_000, num_threads=1)
    for doc in docs:
        writer.add_document(
            tantivy.Document(
                title=doc.title, text=doc.text, source=doc.source, url=doc.url, author=doc.author
            )
        )
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()
    assert searcher.num_segments == 1, "doc ids below assume one segment"
    queries = [(rid, _to_tantivy(rule.root, schema, tantivy)) for rid, rule in rules]
    pairs: set[tuple[int, int]] = set()
    for rid, q in queries:
        for _, address in searcher.search(q, limit=len(docs), count=False).hits:
            pairs.add((address.doc, rid))
    total = time.perf_counter() - start
    per_story = int(total / len(docs) * 1e9)
    return _figures([per_story], total, len(docs)), pairs


def run_size(
    corpus: Corpus, stories: list[Any], warm: list[Document], rule_texts: list[str], args: Any
) -> dict[str, Any]:
    docs = [s[0] for s in stories]
    n = len(rule_texts)
    t0 = time.perf_counter()
    compiled = [(i, compile_rule(q)) for i, q in enumerate(rule_texts)]
    compile_s = time.perf_counter() - t0

    # Memory of compiled rules plus their index entries, measured on a sample.
    sample = min(n, 5_000)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    probe = RuleIndex()
    probe_rules = [(i, compile_rule(q)) for i, q in enumerate(rule_texts[:sample])]
    for i, rule in probe_rules:
        probe.add(i, rule)
    per_rule = (tracemalloc.get_traced_memory()[0] - base) / sample
    tracemalloc.stop()
    del probe, probe_rules

    def build() -> RuleIndex:
        built = RuleIndex()
        for i, rule in compiled:
            built.add(i, rule)
        return built

    t0 = time.perf_counter()
    index = build()
    index_s = time.perf_counter() - t0

    analyzer = get_analyzer("english")

    def warm_up(fn: Any) -> None:
        # Every method meets the measured stories for the first time, after the same
        # 200 other stories: no method profits from a word cache filled by another.
        analyzer.clear_caches()
        for doc in warm:
            fn(doc)

    analyzer.clear_caches()
    cold, _, _ = _timed(index.match, docs, keep=_ids)
    del index
    index = build()
    warm_up(index.match)
    # Ours keeps rule ids while timed: explaining every match between two stories
    # (the naive comparison below needs it) is not matching, and would leave the next
    # story's match a colder cache. Explanations are compared on the sample below.
    ours, ours_ids, ours_ns = _timed(index.match, docs, keep=_ids)

    def tokenize(doc: Document) -> AnalyzedDoc:
        # Fields are tokenised when a rule first reads them: read every one.
        adoc = AnalyzedDoc(doc, analyzer)
        for field in FIELDS:
            adoc.positions(field)
            adoc.word_set(field)
        return adoc

    warm_up(tokenize)
    tokenize_only, _, _ = _timed(tokenize, docs)

    # The naive way runs on a sample spread over the run (its first stories meet more
    # new words than later ones), and the speed-up compares the same stories.
    naive_n = max(1, min(len(docs), NAIVE_BUDGET // n, args.naive_stories or len(docs)))
    sample = range(0, len(docs), len(docs) // naive_n)[:naive_n]

    def naive(doc: Document) -> list[RuleMatch]:
        adoc = AnalyzedDoc(doc, analyzer)
        return [m for i, rule in compiled if (m := rule.match_analyzed(adoc, i)) is not None]

    warm_up(tokenize)
    naive_fig, naive_out, _ = _timed(naive, [docs[k] for k in sample])
    for k, naive_matches in zip(sample, naive_out, strict=True):
        ours_matches = _kept(index.match(docs[k]))  # again, untimed, now explained
        if ours_matches != naive_matches or [m[0] for m in ours_matches] != ours_ids[k]:
            raise AssertionError(
                f"story {k}: index and naive differ: {ours_matches} vs {naive_matches}"
            )
    ours_on_sample = statistics.median(ours_ns[k] for k in sample) / 1e6

    ours_pairs = {(k, rule_id) for k, ids in enumerate(ours_ids) for rule_id in ids}
    result: dict[str, Any] = {
        "rules": n,
        "stories": len(docs),
        "story_kb": round(sum(len(d.title) + len(d.text) for d in docs) / len(docs) / 1000, 2),
        "ours": ours,
        "ours_cold": cold,
        "naive": {**naive_fig, "stories_measured": naive_n, "equal_to_ours": True},
        "tokenize_only": tokenize_only,
        "matches": len(ours_pairs),
        "compile_us_per_rule": round(compile_s / n * 1e6, 1),
        "index_add_us_per_rule": round(index_s / n * 1e6, 1),
        "memory_bytes_per_rule": round(per_rule),
        "ours_p50_ms_on_naive_stories": round(ours_on_sample, 4),
        "speedup_vs_naive_p50": round(naive_fig["p50_ms"] / ours_on_sample, 1),
    }
    if args.no_tantivy:
        result["tantivy"] = None
    else:
        try:
            figs, pairs = run_tantivy(docs, compiled)
        except ImportError:
            result["tantivy"] = None
        else:
            union = ours_pairs | pairs
            agreement = len(ours_pairs & pairs) / len(union) if union else 1.0
            result["tantivy"] = {
                **figs,
                "matches": len(pairs),
                "agreement_jaccard": round(agreement, 4),
            }
    return result


def print_table(results: list[dict[str, Any]]) -> None:
    print(f"{'rules':>7} {'method':<14} {'stories/s':>10} {'p50 ms':>9} {'p99 ms':>9}  notes")
    for r in results:
        for name in ("ours", "ours_cold", "naive", "tantivy", "tokenize_only"):
            fig = r.get(name)
            if not fig:
                print(f"{r['rules']:>7} {name:<14} {'-':>10} {'-':>9} {'-':>9}  not run")
                continue
            note = ""
            if name == "ours":
                note = (
                    f"{r['matches']} matches; {r['memory_bytes_per_rule']} B/rule; "
                    f"{r['speedup_vs_naive_p50']}x naive (p50, same stories)"
                )
            elif name == "naive":
                note = (
                    f"on {fig['stories_measured']} stories spread over the run "
                    f"(ours on them: p50 {r['ours_p50_ms_on_naive_stories']} ms); equal to ours"
                )
            elif name == "tantivy":
                note = (
                    f"batch of {r['stories']}; {fig['matches']} matches; "
                    f"agreement {fig['agreement_jaccard']}"
                )
            cells = f"{fig['stories_per_s']:>10} {fig['p50_ms']:>9} {fig['p99_ms']:>9}"
            print(f"{r['rules']:>7} {name:<14} {cells}  {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--rules", type=int, action="append", help="rule count (repeatable); default 1k, 10k, 100k"
    )
    parser.add_argument("--stories", type=int, default=1_000)
    parser.add_argument(
        "--naive-stories", type=int, default=0, help="cap on stories for the naive way"
    )
    parser.add_argument("--no-tantivy", action="store_true")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = sorted(args.rules or [1_000, 10_000, 100_000])
    if len(sizes) > 1:
        results = [_run_apart(n, args) for n in sizes]
        _report(results, args)
        return 0

    rng = random.Random(SEED)
    corpus = Corpus(rng)
    stories = [corpus.story() for _ in range(args.stories)]
    warm = [corpus.story()[0] for _ in range(WARMUP_STORIES)]
    all_rules = make_rules(corpus, stories, max(sizes))
    _report([run_size(corpus, stories, warm, all_rules[:n], args) for n in sizes], args)
    return 0


def _run_apart(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """One size in a process of its own, as a service holds one index: no size runs in
    a heap left fragmented by the sizes before it. Same seed, so the same stories and
    the first ``n`` rules of the same list."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        command = [sys.executable, __file__, "--quiet", "--rules", str(n), "--json", str(out)]
        command += ["--stories", str(args.stories), "--naive-stories", str(args.naive_stories)]
        command += ["--no-tantivy"] if args.no_tantivy else []
        subprocess.run(command, check=True)
        result: dict[str, Any] = json.loads(out.read_text())
        result.pop("runs", None)
        return result


def _report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    if not args.quiet:
        first = results[0]
        print(
            f"{first['stories']} stories, {first['story_kb']} KB average; vocabulary {VOCAB}; "
            f"seed {SEED}; each size measured in a process of its own"
        )
        print_table(results)
    if args.json:
        payload = {**results[-1], "runs": results}
        args.json.write_text(json.dumps(payload, indent=2))
        if not args.quiet:
            print(f"wrote {args.json}")


if __name__ == "__main__":
    raise SystemExit(main())
