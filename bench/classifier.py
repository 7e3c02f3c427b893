"""The statistical second opinion as tried for issue 12 (see BENCHMARKS.md, «Parser:
generalisation»): multinomial naive Bayes over lemma unigrams and character 2–4-grams,
trained on labelled messages (commands, appeals, unknown; readings are the rules' alone).

It is consulted only when the rules say `unknown`, and speaks only above a confidence
threshold. It lives in bench/, not parsers/: measured leave-one-batch-out it did not
beat the rules (figures in BENCHMARKS.md), so the parser does not use it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from parsers import Intent, parse
from parsers.appeals import lemmas
from parsers.corpus import Labelled
from parsers.normalize import normalize

_WORD = re.compile(r"[^\W\d_]+")


def features(text: str) -> list[str]:
    words = _WORD.findall(normalize(text))
    out = [f"l:{w}" for w in lemmas(words)]
    for word in words:
        padded = f"<{word}>"
        for n in (2, 3, 4):
            out += [padded[i : i + n] for i in range(len(padded) - n + 1)]
    return out


@dataclass
class Classifier:
    priors: dict[str, float]
    likelihood: dict[str, dict[str, float]]
    unseen: dict[str, float]
    threshold: float = 0.9

    @classmethod
    def train(cls, cases: Iterable[Labelled], threshold: float = 0.9) -> Classifier:
        counts: dict[str, Counter[str]] = {}
        docs: Counter[str] = Counter()
        for case in cases:
            if case.intent == "readings":
                continue
            docs[case.label] += 1
            counts.setdefault(case.label, Counter()).update(features(case.text))
        vocabulary = {f for c in counts.values() for f in c}
        total = sum(docs.values())
        likelihood, unseen = {}, {}
        for label, counter in counts.items():
            denominator = sum(counter.values()) + len(vocabulary)
            likelihood[label] = {f: math.log((n + 1) / denominator) for f, n in counter.items()}
            unseen[label] = math.log(1 / denominator)
        priors = {label: math.log(n / total) for label, n in docs.items()}
        return cls(priors, likelihood, unseen, threshold)

    def predict(self, text: str) -> tuple[str, float]:
        """The likeliest label and its posterior probability."""
        found = features(text)
        scores = {
            label: prior + sum(self.likelihood[label].get(f, self.unseen[label]) for f in found)
            for label, prior in self.priors.items()
        }
        best = max(scores, key=scores.__getitem__)
        top = scores[best]
        norm = sum(math.exp(s - top) for s in scores.values())
        return best, 1 / norm


def rules_then_classifier(model: Classifier) -> Callable[[str], Intent]:
    """The parser with the classifier's opinion where the rules said `unknown`."""

    def run(text: str) -> Intent:
        intent = parse(text)
        if intent.intent != "unknown":
            return intent
        label, confidence = model.predict(text)
        if confidence < model.threshold or label == "unknown":
            return intent
        kind, _, name = label.partition(":")
        if kind == "command" and name not in {"status", "notify"}:
            return intent.model_copy(update={"intent": "command", "command": name})
        if kind == "appeal":
            return intent.model_copy(update={"intent": "appeal", "appeal_category": name})
        return intent

    return run
