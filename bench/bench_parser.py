"""Parser throughput on one core: `python bench/bench_parser.py [--messages N]`.

Messages are made from templates of real-looking texts (readings in many notations,
commands, appeals, noise) with fresh numbers in each, so no two texts repeat while words
do, as in a day of traffic. The first pass warms pymorphy3 and the lemma cache; the
figure is the median of several timed passes.

Then the slowest inputs: generated ones, timed warm; and texts built to miss the word
caches (made-up words, dictionary words, mixed scripts, digits and punctuation) at
1 000 and 5 000 characters, timed at their first parse (cold), their second (warm) and
with every word cache emptied, with the look-ups (`parsers.budget.LOOKUPS`) the
costliest one made.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parsers import clear_caches, parse  # noqa: E402
from parsers.budget import LOOKUPS, LookupCounter  # noqa: E402

TEMPLATES = [
    "ЛС {acc} день {a} ночь {b}",
    "{acc} {a}",
    "{acc} {a} {b}",
    "т1-{a}, т2-{b}",
    "Т1={a};Т2={b};Т3={c}",
    "Здравствуйте! Показания счетчика: день {a}, ночь {b}. Спасибо!",
    "л/с {acc} пок {a}",
    "показания {a},7",
    "счетчик №0{acc} показания {a}",
    "сч1 {a} сч2 {b}",
    "ЛС{acc} Д{a} Н{b}",
    "{a} кВт*ч",
    "Показания на 20.11: {a}",
    "{acc} {a} день {b} ночь",
    "лицевой счет {acc}, показания счетчика {a}",
    "Добрый день! {a}",
    "кв. 12, показания {a}",
    "Иванов И.И. ул. Ленина д. 5 кв. 12 показания {a}",
    "тел 8-912-123-45-67 показания {a}",
    "помощь",
    "баланс",
    "Баланс {acc}",
    "СТОП",
    "статус {c}",
    "да",
    "показания те же",
    "Нет света на ул. Ленина {h} с утра",
    "когда дадут свет? третий час сидим без электричества",
    "скачет напряжение, моргает свет",
    "почему такой большой счет за октябрь? я столько не мог нажечь",
    "оплатил {h} ноября, а долг висит",
    "сломался счетчик, экран не горит",
    "нужно переоформить лицевой счет на нового собственника",
    "не могу дозвониться в контакт-центр второй день",
    "привет",
    "кто это?",
    # recognised by meaning (issue 12)
    "в каком формате отправлять показания?",
    "вы в субботу работаете?",
    "да, всё верно, спасибо",
    "позовите оператора пожалуйста",
    "уведомления присылайте в телеграм",
    "что с моей жалобой по поводу перерасчета?",
    "гудит счётчик и сильно греется",
    "оплатил {h}00 вчера а баланс не изменился",
]


def corpus(n: int, seed: int = 3) -> list[str]:
    """`n` messages from the templates with random numbers."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        template = rng.choice(TEMPLATES)
        out.append(
            template.format(
                acc=rng.randrange(10**9, 10**10),
                a=rng.randrange(1000, 99999),
                b=rng.randrange(1000, 99999),
                c=rng.randrange(100, 9999),
                h=rng.randrange(1, 28),
            )
        )
    return out


# Pieces of adversarial input: long digit runs, separators, labels, words that start
# frames, letters the tokenizer treats specially, emoji.
_PIECES = [
    "1", "12", "123", "1234", "12345", "123456789012", "0", ",", ".", ":", "-", "/", " ", "\n",
    "№", "#", "?", "!", "т1", "день", "ночь", "сч", "счетчик", "лс", "ЛС№", "л/с", "тел",
    "+7", "кв.", "д.", "руб", "кВт", "в", "да", "нет", "не", "оператор", "уведомления",
    "офис", "где", "как", "показания", "статус", "обращение", "свет", "нет света", "ё",
    "😀", "a", "x", "ß", "\u200b", "  ", "...", "%", "вольт", "25.11", "10:30", "e-mail",
]  # fmt: skip


def slowest(samples: int, seed: int = 7) -> tuple[float, str]:
    """The slowest of `samples` generated inputs (up to 1 000 characters, a 15-part SMS):
    its CPU time in ms (the least of three runs) and the text."""
    rng = random.Random(seed)
    worst = (0.0, "")
    for i in range(samples):
        length = rng.choice([5, 20, 80, 300, 1000])
        text = _pieces(rng, length, repeat=i % 4 == 0)[:1000]
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            parse(text)
            best = min(best, time.process_time() - started)
        worst = max(worst, (best * 1000, text))
    return worst


def _pieces(rng: random.Random, count: int, *, repeat: bool) -> str:
    if repeat:  # one piece repeated: the worst case for backtracking
        return rng.choice(_PIECES) * count
    return "".join(rng.choice(_PIECES) for _ in range(count))


def _made_up(rng: random.Random, letters: str) -> str:
    return "".join(rng.choice(letters) for _ in range(rng.randint(3, 19)))


_MIXED = "абвгдежзиклмнопрстуфхцчшщыэюяabcdefghiklmnoprstuvxyz0123456789-'"


def _dictionary_words() -> list[str]:
    """Every 53rd word form of pymorphy3's dictionary: real words, rare ones mostly."""
    from parsers.appeals import _morph

    forms = (item[0] for item in _morph().dictionary.iter_known_words())
    return [w for i, w in enumerate(forms) if i % 53 == 0 and w.isalpha()]


# Texts built to miss the caches: each a function of a random source and a length.
def _cold_kinds() -> dict[str, Callable[[random.Random, int], str]]:
    dictionary = _dictionary_words()

    def words(make: Callable[[random.Random], str]) -> Callable[[random.Random, int], str]:
        def build(rng: random.Random, length: int) -> str:
            out: list[str] = []
            while sum(len(w) + 1 for w in out) < length:
                out.append(make(rng))
            return " ".join(out)[:length]

        return build

    return {
        "made-up Cyrillic words": words(lambda rng: _made_up(rng, "прстлаеиоу")),
        "made-up Latin words": words(lambda rng: _made_up(rng, "shlaeiouyt")),
        "dictionary words": words(lambda rng: rng.choice(dictionary)),
        "mixed scripts and digits": words(lambda rng: _made_up(rng, _MIXED)),
        "pieces: digits, labels, punctuation": lambda rng, length: _pieces(
            rng, length, repeat=False
        )[:length],
        "one piece repeated": lambda rng, length: _pieces(rng, length, repeat=True)[:length],
    }


def _timed(text: str) -> float:
    gc.collect()  # a full collection is the whole heap's cost, not this text's
    started = time.process_time()
    parse(text)
    return (time.process_time() - started) * 1000


def slowest_cold(samples: int, lengths: tuple[int, ...], seed: int = 11) -> None:
    """Per kind of text and length, the slowest of `samples` texts, in ms: at its first
    parse in a process warmed by ordinary traffic (its own words never seen: cold), at
    its second (warm), and at a parse with every word cache emptied first (as right
    after a start, common words cold too); and the most look-ups a first parse made."""
    rng = random.Random(seed)
    texts = {
        (kind, length): [build(rng, length) for _ in range(samples)]
        for kind, build in _cold_kinds().items()
        for length in lengths
    }
    rows: dict[tuple[str, int], list[float]] = {}
    counts: dict[tuple[str, int], LookupCounter] = {}
    for key, batch in texts.items():
        cold = warm = 0.0
        most = LookupCounter()
        for text in batch:
            LOOKUPS.reset()
            cold = max(cold, _timed(text))
            for f in fields(most):
                setattr(most, f.name, max(getattr(most, f.name), getattr(LOOKUPS, f.name)))
            warm = max(warm, _timed(text))
        rows[key] = [cold, warm]
        counts[key] = most
    for key, batch in texts.items():  # last: it empties what the traffic warmed
        emptied = 0.0
        for text in batch:
            clear_caches()
            emptied = max(emptied, _timed(text))
        rows[key].append(emptied)
    print(
        f"{'kind':<37}{'chars':>6}{'cold ms':>8}{'warm ms':>8}{'emptied':>8}"
        "  look-ups (most of one first parse)"
    )
    for (kind, length), (cold, warm, emptied) in rows.items():
        most = counts[kind, length]
        said = ", ".join(f"{f.name} {getattr(most, f.name)}" for f in fields(most))
        print(f"{kind:<37}{length:>6}{cold:>8.2f}{warm:>8.2f}{emptied:>8.2f}  {said}")


def main() -> None:
    """Print messages per second (median of `--repeat` passes)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--slowest", type=int, default=3000, help="generated inputs to time (0: none)")
    ap.add_argument(
        "--cold", type=int, default=20, help="texts of each kind to time cold (0: none)"
    )
    ap.add_argument("--lengths", default="1000,5000", help="characters of the cold texts")
    args = ap.parse_args()
    messages = corpus(args.messages)
    for text in messages[:2000]:  # warm-up: dictionary load, lemma cache
        parse(text)
    rates = []
    for _ in range(args.repeat):
        started = time.process_time()
        for text in messages:
            parse(text)
        rates.append(len(messages) / (time.process_time() - started))
    print(
        f"parse: {statistics.median(rates):,.0f} messages/s "
        f"(median of {args.repeat} passes over {len(messages):,} messages; "
        f"min {min(rates):,.0f}, max {max(rates):,.0f})"
    )
    if args.slowest:
        ms, text = slowest(args.slowest)
        shown = f"{len(text)} chars: {text[:60]!r}…"
        print(f"slowest of {args.slowest:,} generated inputs: {ms:.2f} ms ({shown})")
    if args.cold:
        lengths = tuple(int(n) for n in args.lengths.split(","))
        slowest_cold(args.cold, lengths)


if __name__ == "__main__":
    main()
