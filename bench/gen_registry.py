"""Generate a realistic billing registry CSV (docs/interfaces.md §3) for benchmarks and tests.

    .venv/bin/python bench/gen_registry.py var/bench/registry.csv --accounts 500000

Deterministic for a given seed: the same arguments write the same bytes. About one
account in six has two meters and one in fifty three; phones come in the notations
billing exports really carry; a household's phone is sometimes on several accounts.
With `--broken N`, N deliberately bad rows (one of each kind in turn) are mixed in.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections.abc import Iterator
from pathlib import Path

COLUMNS = (
    "account", "phones", "name", "settlement", "street", "house", "apartment",
    "meter_serial", "zones", "digits", "last_t1", "last_t2", "last_t3", "last_date",
    "balance",
)

SURNAMES = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
    "Новиков", "Федоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семенов", "Егоров",
    "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин",
    "Захаров", "Зайцев", "Соловьев", "Борисов", "Яковлев", "Григорьев", "Романов",
    "Воробьев", "Сергеев", "Кузьмин", "Фролов", "Александров", "Дмитриев", "Королев",
    "Гусев", "Киселев", "Ильин", "Максимов", "Поляков", "Сорокин", "Виноградов", "Ковалев",
    "Белов", "Медведев", "Антонов", "Тарасов", "Жуков", "Баранов", "Филиппов", "Комаров",
    "Давыдов", "Беляев", "Герасимов", "Богданов", "Осипов", "Сидоров", "Матвеев", "Титов",
    "Марков", "Миронов", "Крылов", "Куликов", "Карпов", "Власов", "Мельников", "Денисов",
    "Канев", "Попов", "Туркин", "Остапов", "Чупров", "Терентьев", "Игушев", "Рочев",
)
MALE = (
    "Александр", "Сергей", "Дмитрий", "Андрей", "Алексей", "Максим", "Евгений", "Иван",
    "Михаил", "Артём", "Николай", "Владимир", "Павел", "Роман", "Олег", "Виктор", "Юрий",
    "Игорь", "Василий", "Пётр", "Анатолий", "Геннадий", "Степан", "Фёдор",
)
FEMALE = (
    "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана", "Анна", "Мария",
    "Екатерина", "Юлия", "Галина", "Людмила", "Надежда", "Валентина", "Любовь", "Нина",
    "Марина", "Оксана", "Дарья", "Алёна", "Зинаида", "Раиса",
)
# Male patronymic stems: «Иванович» / «Ивановна»
PATRONYMIC_STEMS = (
    "Иванов", "Петров", "Сергеев", "Николаев", "Александров", "Владимиров", "Михайлов",
    "Андреев", "Викторов", "Юрьев", "Васильев", "Анатольев", "Геннадьев", "Степанов",
    "Фёдоров", "Павлов", "Олегов", "Игорев",
)
# (settlement as billing writes it, weight, streets)
SETTLEMENTS = (
    ("г. Сыктывкар", 40, (
        "ул. Коммунистическая", "ул. Первомайская", "Октябрьский пр-т", "ул. Ленина",
        "ул. Интернациональная", "ул. Комарова", "ул. Морозова", "ул. Петрозаводская",
        "ул. Карла Маркса", "ул. Сысольское шоссе", "ул. Орджоникидзе", "ул. Тентюковская",
        "ул. Пушкина", "ул. Гоголя", "ул. Куратова", "ул. Старовского", "ул. Клары Цеткин",
        "ул. Мира", "ул. Катаева", "ул. Покровский бульвар", "ул. Чернова", "ул. Лесная",
    )),
    ("г. Ухта", 18, (
        "пр-т Ленина", "ул. Интернациональная", "ул. Октябрьская", "ул. Первомайская",
        "ул. Севастопольская", "ул. Загородная", "ул. Дзержинского", "пр-т Космонавтов",
        "ул. Пушкина", "ул. Губкина", "ул. Бушуева", "ул. 30 лет Октября",
    )),
    ("г. Воркута", 10, (
        "ул. Ленина", "ул. Яновского", "ул. Гагарина", "ул. Тиманская", "бульвар Пищевиков",
        "ул. Дончука", "ул. Шахтёрская набережная", "ул. Московская",
    )),
    ("Эжва", 8, (
        "ул. Мира", "ул. Славы", "ул. Калинина", "ул. Лесозаводская", "ул. Садовая",
        "ул. Школьная", "ул. Менделеева", "ул. Космонавтов",
    )),
    ("г. Печора", 6, ("Печорский пр-т", "ул. Гагарина", "ул. Социалистическая", "ул. Мира")),
    ("г. Усинск", 5, ("ул. Нефтяников", "ул. Мира", "ул. Молодёжная", "ул. Парковая")),
    ("г. Инта", 4, ("ул. Кирова", "ул. Горького", "ул. Мира", "ул. Куратова")),
    ("г. Сосногорск", 4, ("ул. Зои Космодемьянской", "ул. Ленина", "ул. Советская")),
    ("с. Выльгорт", 3, ("ул. Домны Каликовой", "ул. Советская", "ул. Д. Каликовой")),
    ("пгт. Троицко-Печорск", 2, ("ул. Ленина", "ул. Советская", "ул. Мира")),
)
_SETTLEMENT_WEIGHTS = tuple(weight for _, weight, _ in SETTLEMENTS)
OPERATOR_CODES = ("912", "904", "908", "950", "958", "963", "982", "909", "919", "996")
PERIOD_DATES = ("2026-09-23", "2026-09-25", "2026-10-20", "2026-10-24", "2026-10-25",
                "2026-11-19", "2026-11-22", "2026-11-25")

BROKEN = (
    ("zones", "4"),
    ("meter_serial", ""),
    ("account", "12З4567890"),  # a Cyrillic «З» typed for 3
    ("phones", "8 912 ЗВОНИТЬ"),
    ("last_date", "25.11.2026"),
    ("balance", "12.345,67"),
    ("digits", "0"),
    ("last_t1", "4521.7.1"),
    ("fields", ""),  # a row with a field missing
)


def _phone(rng: random.Random) -> tuple[str, str]:
    """(E.164 digits, as written in the registry)."""
    code = rng.choice(OPERATOR_CODES)
    rest = f"{rng.randrange(10_000_000):07d}"
    e164 = f"+7{code}{rest}"
    style = rng.randrange(10)
    if style < 3:
        written = f"8{code}{rest}"
    elif style < 5:
        written = e164
    elif style < 7:
        written = f"+7 {code} {rest[:3]}-{rest[3:5]}-{rest[5:]}"
    elif style < 8:
        written = f"8 ({code}) {rest[:3]}-{rest[3:5]}-{rest[5:]}"
    elif style < 9:
        written = f"{code}{rest}"
    else:
        written = f"7{code}{rest}"
    return e164, written


def _name(rng: random.Random) -> str:
    surname = rng.choice(SURNAMES)
    stem = rng.choice(PATRONYMIC_STEMS)
    if rng.random() < 0.55:
        first = rng.choice(FEMALE)
        surname += "а"
        patronymic = (stem[:-2] + "ьевна") if stem.endswith("ьев") else stem + "на"
    else:
        first = rng.choice(MALE)
        patronymic = (stem[:-2] + "ьевич") if stem.endswith("ьев") else stem + "ич"
    return f"{surname} {first} {patronymic}"


def _account_number(index: int) -> str:
    # Unique for index < 10**10 (7919 is coprime with 10**10); some have leading zeros,
    # one in fifty is a 12-digit number of a newer billing series.
    number = (index * 7919 + 3_000_000) % 10**10
    return f"11{number:010d}" if index % 50 == 49 else f"{number:010d}"


def _reading(rng: random.Random, digits: int) -> str:
    value = rng.randrange(10 ** min(digits, 6))
    if rng.random() < 0.05:
        return f"{value},{rng.randrange(10)}"
    return str(value)


def rows(accounts: int, seed: int, broken: int = 0) -> Iterator[list[str]]:
    """The data rows of a registry of `accounts` accounts, in file order."""
    rng = random.Random(seed)
    recent_phones: list[str] = []
    serial = 1_000_000
    broken_every = accounts // broken if broken else 0
    broken_done = 0
    for index in range(accounts):
        account = _account_number(index)
        settlement, _, streets = rng.choices(SETTLEMENTS, _SETTLEMENT_WEIGHTS)[0]
        street = rng.choice(streets)
        private_house = rng.random() < 0.25
        house = str(rng.randint(1, 60 if private_house else 120))
        if rng.random() < 0.08:
            house += rng.choice("АБВ")
        apartment = "" if private_house else str(rng.randint(1, 180))
        phone_count = rng.choices((0, 1, 2, 3), (4, 70, 22, 4))[0]
        phones = []
        for _ in range(phone_count):
            if recent_phones and rng.random() < 0.04:
                phones.append(rng.choice(recent_phones))  # one person, several accounts
            else:
                _, written = _phone(rng)
                phones.append(written)
        recent_phones.extend(phones)
        del recent_phones[:-200]
        balance_kind = rng.random()
        if balance_kind < 0.15:
            balance = "0"
        elif balance_kind < 0.30:
            balance = f"-{rng.randrange(5000)},{rng.randrange(100):02d}"
        else:
            balance = f"{rng.randrange(30000)}{rng.choice((',', '.'))}{rng.randrange(100):02d}"
        meter_count = rng.choices((1, 2, 3), (82, 16, 2))[0]
        name = _name(rng)
        for _ in range(meter_count):
            serial += rng.randint(1, 50)
            zones = rng.choices((1, 2, 3), (60, 35, 5))[0]
            digits = rng.choice((5, 5, 6, 6, 6, 7, 8))
            last = [_reading(rng, digits) if zone <= zones else "" for zone in (1, 2, 3)]
            never_read = rng.random() < 0.03
            row = [
                account, "|".join(phones), name, settlement, street, house, apartment,
                f"{serial:09d}", str(zones), str(digits),
                *(["", "", ""] if never_read else last),
                "" if never_read else rng.choice(PERIOD_DATES), balance,
            ]
            if broken_every and index % broken_every == broken_every // 2 and (
                broken_done < broken
            ):
                column, value = BROKEN[broken_done % len(BROKEN)]
                broken_done += 1
                if column == "fields":
                    row = row[:-1]
                else:
                    row[COLUMNS.index(column)] = value
            yield row


def write(path: Path, accounts: int, seed: int, *, broken: int = 0, delimiter: str = ";",
          bom: bool = True) -> int:
    """Write the registry CSV to `path`; returns the number of data rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for row in rows(accounts, seed, broken):
            writer.writerow(row)
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="CSV file to write")
    parser.add_argument("--accounts", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--broken", type=int, default=0, help="mix in N bad rows")
    parser.add_argument("--delimiter", choices=(";", ","), default=";")
    parser.add_argument("--no-bom", action="store_true", help="write UTF-8 without a BOM")
    args = parser.parse_args(argv)
    count = write(args.path, args.accounts, args.seed, broken=args.broken,
                  delimiter=args.delimiter, bom=not args.no_bom)
    print(f"{args.path}: {count} rows, {args.accounts} accounts", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
