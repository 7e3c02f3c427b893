"""Properties of the parser over generated text (hypothesis)."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from parsers import Intent, format_decimal, parse, parse_line

_SETTINGS = settings(max_examples=250, deadline=None)

# Words customers put around numbers: labels, greetings, units, separators.
_FILLER = st.sampled_from(
    [
        "",
        " ",
        ", ",
        "; ",
        ": ",
        "\n",
        " показания ",
        " день ",
        " ночь ",
        " т1 ",
        " Т2 ",
        " пик ",
        " счетчик ",
        " сч ",
        " передаю ",
        " Добрый день! ",
        " на ",
        " от ",
        " в ",
        " тел ",
        " звоните ",
        " спасибо ",
        " кВт*ч ",
        " д ",
        " н ",
    ]
)
_DAY = st.integers(1, 31)
_MONTH = st.integers(1, 12)
_DATE = st.one_of(
    st.builds(lambda d, m: f"{d:02d}.{m:02d}", _DAY, _MONTH),
    st.builds(lambda d, m: f"{d}.{m:02d}", _DAY, _MONTH),
    st.builds(lambda d, m, y: f"{d:02d}.{m:02d}.{y}", _DAY, _MONTH, st.integers(2000, 2099)),
    st.builds(lambda d, m, y: f"{d:02d}.{m:02d}.{y:02d}", _DAY, _MONTH, st.integers(0, 99)),
    st.builds(lambda d, m: f"{d}/{m:02d}", _DAY, _MONTH),
    st.builds(lambda m, y: f"{m:02d}.{y}", _MONTH, st.integers(2000, 2099)),
)
_TIME = st.builds(lambda h, m: f"{h}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
_DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=1)
_PHONE = st.one_of(
    st.builds(lambda n: f"+7{n:010d}", st.integers(9_000_000_000, 9_999_999_999)),
    st.builds(lambda n: f"89{n:09d}", st.integers(0, 999_999_999)),
    st.builds(lambda n: f"79{n:09d}", st.integers(0, 999_999_999)),
    st.builds(
        lambda a, b, c, d: f"8-9{a:02d}-{b:03d}-{c:02d}-{d:02d}",
        st.integers(0, 99),
        st.integers(0, 999),
        st.integers(0, 99),
        st.integers(0, 99),
    ),
    st.builds(
        lambda a, b, c, d: f"+7 (9{a:02d}) {b:03d}-{c:02d}-{d:02d}",
        st.integers(0, 99),
        st.integers(0, 999),
        st.integers(0, 99),
        st.integers(0, 99),
    ),
)


@_SETTINGS
@given(st.text(max_size=5000))
def test_any_text_gives_an_intent(text: str) -> None:
    intent = parse(text)
    assert isinstance(intent, Intent)
    assert intent.text == text


@_SETTINGS
@given(st.text(alphabet=st.sampled_from("0123456789 .,;:-=*#/\nдньочтТ1пкслЛС№+()"), max_size=200))
def test_dense_digit_text_gives_an_intent(text: str) -> None:
    """Text made mostly of digits and separators, where the number rules collide."""
    assert isinstance(parse(text), Intent)


@_SETTINGS
@given(st.text(max_size=300))
def test_json_mode_never_raises(line: str) -> None:
    out = parse_line(line, json_mode=True)
    assert out["intent"] in {"readings", "command", "appeal", "unknown"}
    out = parse_line(json.dumps(line, ensure_ascii=False), json_mode=True)
    assert out["text"] == line
    assert "error" not in out


@_SETTINGS
@given(
    st.lists(
        st.one_of(
            _FILLER,
            st.integers(0, 10**7).map(str),
            st.builds(lambda a, b: f"{a},{b}", st.integers(0, 99999), st.integers(0, 999)),
            st.builds(lambda a, b: f"{a}.{b}", st.integers(0, 99999), st.integers(0, 99)),
            _DATE,
            _PHONE,
        ),
        max_size=12,
    ).map("".join)
)
def test_every_value_is_written_in_the_text(text: str) -> None:
    for reading in parse(text).readings:
        whole, _, fraction = format_decimal(reading.value).partition(".")
        pattern = "(?<![0-9])0*" + whole + (r"[.,]" + fraction if fraction else "")
        assert re.search(pattern, text), (text, reading)


@_SETTINGS
@given(st.lists(st.tuples(_FILLER, st.one_of(_DATE, _TIME, _PHONE)), min_size=1, max_size=5))
def test_dates_times_and_phones_are_never_readings(parts: list[tuple[str, str]]) -> None:
    text = " ".join(filler + " " + protected for filler, protected in parts)
    assert parse(text).readings == (), text


# Words that start the frames of commands by meaning and the appeal rules (issue 12).
_FRAME_WORDS = st.sampled_from(
    [
        "да", "нет", "не", "оператор", "позовите", "человека", "уведомления", "в", "max",
        "телеграм", "почту", "смс", "офис", "где", "когда", "работаете", "субботу", "как",
        "передать", "показания", "статус", "моей", "заявки", "обращение", "№", "баланс",
        "долг", "сколько", "платить", "счетчик", "гудит", "кассир", "голос", "оплатил",
        "не", "поступила", "отписался", "верните", "рассылку", "?", ",", "1234567890",
        "25.11", "89121234567", "4521",
    ]
)  # fmt: skip


@_SETTINGS
@given(st.lists(_FRAME_WORDS, max_size=25))
def test_frame_words_in_any_order_give_an_intent(words: list[str]) -> None:
    intent = parse(" ".join(words))
    assert (intent.command == "notify") == (intent.notify_channel is not None)
    assert intent.notify_channel is None or intent.intent == "command"


@_SETTINGS
@given(st.text(alphabet="абвгдеёжзийклмнопрстуфхцчшщъыьэюя", min_size=41, max_size=3000))
def test_a_run_of_letters_is_no_word_to_look_up(text: str) -> None:
    # Once broke: «уведомления» repeated a thousand times overflowed pymorphy3's stack.
    assert parse(text).intent in {"unknown", "appeal"}


def test_the_word_that_overflowed_the_stack() -> None:
    assert parse("уведомления" * 1000).intent == "unknown"
