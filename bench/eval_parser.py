"""How well the parser generalises: `python bench/eval_parser.py [--batch NAME] [-v]`.

Scores every labelled batch under tests/data/ (heldout_*.jsonl, blind_*.jsonl) one by
one, as leave-one-batch-out: the rules are fixed, so each batch is scored as it stands;
with `--classifier` the statistical second opinion is trained on every OTHER batch (and
the official samples, and any `--train` file such as `gateway export labelled` output)
and scores the one left out. Exactness is that of docs/interfaces.md §5 («Measuring
it»); a wrong reading is a reading or account the label does not have.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # parsers, bench

from parsers import Intent, parse  # noqa: E402
from parsers.corpus import CorpusError, Labelled, is_exact, load_labelled, wrong_claims  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SAMPLES = DATA / "messages.jsonl"


def batches() -> list[Path]:
    """The scored batches, oldest first."""
    return sorted(DATA.glob("heldout_*.jsonl")) + sorted(DATA.glob("blind_*.jsonl"))


class Score:
    """Exact counts per intent (by the label) and the wrong readings of one batch."""

    def __init__(self) -> None:
        self.total: Counter[str] = Counter()
        self.exact: Counter[str] = Counter()
        self.wrong: list[str] = []
        self.misses: list[str] = []

    def add(self, expected: Labelled, got: Intent) -> None:
        self.total[expected.intent] += 1
        if is_exact(expected, got):
            self.exact[expected.intent] += 1
        else:
            said = got.command or got.appeal_category or ""
            self.misses.append(
                f"  {expected.text!r}\n      got {got.intent} {said} {got.notify_channel or ''}"
                f" ticket={got.ticket} account={got.account}\n"
                f"      want {expected.label} ticket={expected.ticket}"
                f" account={expected.account}"
            )
        self.wrong += [f"  {expected.text!r}: {p}" for p in wrong_claims(expected, got)]

    def merge(self, other: Score) -> None:
        self.total += other.total
        self.exact += other.exact
        self.wrong += other.wrong

    def rate(self, intent: str | None = None) -> str:
        total = sum(self.total.values()) if intent is None else self.total[intent]
        exact = sum(self.exact.values()) if intent is None else self.exact[intent]
        return f"{100 * exact / total:5.1f} % ({exact}/{total})" if total else "    —"

    def line(self, name: str) -> str:
        return (
            f"{name:28} exact {self.rate()}  commands {self.rate('command')}  "
            f"appeals {self.rate('appeal')}  readings {self.rate('readings')}  "
            f"unknown {self.rate('unknown')}  wrong readings {len(self.wrong)}"
        )


def evaluate(
    scored: list[Path],
    train_extra: list[Path],
    classifier: bool,
    verbose: bool,
    threshold: float = 0.9,
) -> Score:
    every = batches()
    overall = Score()
    for path in scored:
        cases = load_labelled(path)
        parser: Callable[[str], Intent] = parse
        if classifier:
            from bench.classifier import Classifier, rules_then_classifier

            training: list[Labelled] = load_labelled(SAMPLES)
            for other in [*every, *train_extra]:
                if other != path:
                    training += load_labelled(other)
            model = Classifier.train(training, threshold)
            parser = rules_then_classifier(model)
        score = Score()
        for case in cases:
            score.add(case, parser(case.text))
        print(score.line(path.name))
        if verbose:
            for line in score.misses:
                print(line)
        for line in score.wrong:
            print("WRONG", line)
        overall.merge(score)
    if len(scored) > 1:
        print(overall.line("all batches"))
    return overall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", action="append", help="score only this batch (file name)")
    ap.add_argument(
        "--file",
        action="append",
        type=Path,
        default=[],
        help="score this labelled file (e.g. gateway export labelled output)",
    )
    ap.add_argument(
        "--train",
        action="append",
        type=Path,
        default=[],
        help="more labelled lines to train on (e.g. gateway export labelled)",
    )
    ap.add_argument(
        "--classifier",
        action="store_true",
        help="rules, then the statistical second opinion trained on the others",
    )
    ap.add_argument(
        "--threshold", type=float, default=0.9, help="the classifier's least confidence to speak"
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    args = ap.parse_args()
    scored = [] if args.file and not args.batch else batches()
    if args.batch:
        scored = [p for p in scored if p.name in set(args.batch)]
        if not scored:
            sys.exit(f"no batch named {args.batch} under {DATA}")
    scored += args.file
    try:
        evaluate(scored, args.train, args.classifier, args.verbose, args.threshold)
    except CorpusError as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
