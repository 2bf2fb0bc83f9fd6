"""PII detector quality on the labelled corpus (tests/privacy/corpus.jsonl).

Runs `modelmint.privacy.detect.detect` on every snippet (Chinese, English and mixed) and
prints a markdown table per entity type: labelled, found, true positives, precision and
recall, with exact span matching (a detected span with spaces around it counts as the span
without them), then the overall counts; then the same for the disguised snippets alone
(full-width forms, zero-width characters, odd spaces and dashes, letters glued on: see
tests/privacy/corpus_disguises.py). -v lists every miss and false positive.

    python benchmarks/pii_quality.py -v
    python benchmarks/pii_quality.py --lang zh
    python benchmarks/pii_quality.py --subset plain      # the snippets without disguises
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.privacy.scoring import (  # noqa: E402
    CORPUS,
    LANGS,
    TYPES,
    TypeScore,
    is_disguised,
    load_corpus,
    overall,
    run_detector,
    score,
)


def table(scores: dict[str, TypeScore]) -> str:
    rows = [
        "| type | labelled | found | true pos. | precision | recall |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in [*scores.values(), overall(scores)]:
        name = "**all**" if result.type == "all" else result.type
        rows.append(
            f"| {name} | {result.labelled} | {result.found} | {result.true_positives} |"
            f" {result.precision:.3f} | {result.recall:.3f} |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"default: {CORPUS}")
    parser.add_argument("--lang", choices=LANGS, help="only the snippets of this language")
    parser.add_argument(
        "--subset",
        choices=("all", "plain", "disguised"),
        default="all",
        help="all snippets (then the disguised ones again), or only one kind",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list every miss and false positive"
    )
    args = parser.parse_args()

    from modelmint.privacy.detect import detect

    corpus = load_corpus(args.corpus)
    if args.lang:
        corpus = [row for row in corpus if row["lang"] == args.lang]
    if args.subset != "all":
        corpus = [row for row in corpus if is_disguised(row) == (args.subset == "disguised")]
    detected = run_detector(corpus, detect)
    report(corpus, detected, args.lang or ", ".join(LANGS), args.verbose)
    if args.subset == "all":
        print("\n## disguised snippets only\n")
        report([row for row in corpus if is_disguised(row)], detected, "disguised", False)
    return 0


def report(corpus: list[dict], detected: dict[str, list], what: str, verbose: bool) -> None:
    scores = score(corpus, detected, TYPES)
    entities = sum(len(row["entities"]) for row in corpus)
    empty = sum(1 for row in corpus if not row["entities"])
    print(f"{len(corpus)} snippets ({what}), {entities} labelled entities, {empty} with none\n")
    print(table(scores))
    total = overall(scores)
    print(
        f"\noverall: {total.true_positives} true positives, {len(total.false)} false "
        f"positives, {len(total.misses)} misses"
    )
    if verbose:
        for result in scores.values():
            if result.misses or result.false:
                print()
                print(result.report())


if __name__ == "__main__":
    sys.exit(main())
