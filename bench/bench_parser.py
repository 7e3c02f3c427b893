"""Parser throughput on one core: `python bench/bench_parser.py [--messages N]`.

Messages are made from templates of real-looking texts (readings in many notations,
commands, appeals, noise) with fresh numbers in each, so no two texts repeat while words
do, as in a day of traffic. The first pass warms pymorphy3 and the lemma cache; the
figure is the median of several timed passes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parsers import parse  # noqa: E402

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
        if i % 4 == 0:  # one piece repeated: the worst case for backtracking
            text = rng.choice(_PIECES) * length
        else:
            text = "".join(rng.choice(_PIECES) for _ in range(length))
        text = text[:1000]
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            parse(text)
            best = min(best, time.process_time() - started)
        worst = max(worst, (best * 1000, text))
    return worst


def slowest_novel(samples: int, seed: int = 11) -> float:
    """The slowest of `samples` 1 000-character texts of made-up words never seen before,
    timed at their first parse (the lemma caches cold for them), in ms."""
    rng = random.Random(seed)
    worst = 0.0
    for i in range(samples):
        letters = "прстлаеиоу" if i % 2 else "shlaeiouyt"
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < 1000:
            words.append("".join(rng.choice(letters) for _ in range(rng.randint(3, 19))))
        started = time.process_time()
        parse(" ".join(words)[:1000])
        worst = max(worst, (time.process_time() - started) * 1000)
    return worst


def main() -> None:
    """Print messages per second (median of `--repeat` passes)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--slowest", type=int, default=3000, help="generated inputs to time (0: none)")
    ap.add_argument(
        "--novel", type=int, default=20, help="texts of made-up words to time cold (0: none)"
    )
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
    if args.novel:
        novel = slowest_novel(args.novel)
        print(f"slowest of {args.novel} texts of made-up words, first parse: {novel:.2f} ms")


if __name__ == "__main__":
    main()
