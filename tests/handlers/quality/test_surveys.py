"""Surveys: definitions and answers as tables, then one survey end to end: sent through
the outbox (opt-out, quiet hours, busy conversations), answered by SMS and in Telegram
through `handle_survey_answer`, reported."""

from __future__ import annotations

import csv
import json
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from bot.core import Outbound
from handlers.base import KEEP, Context, Outcome
from handlers.quality.render import write_survey_report
from handlers.quality.survey_repo import Question, SurveyRepo
from handlers.quality.surveys import (
    SURVEY_OVER,
    THANKS,
    SurveyError,
    after_quiet_hours,
    create_survey,
    handle_survey_answer,
    parse_answer,
    parse_question,
    question_reply,
    send_survey,
    survey_results,
    survey_spec,
)
from handlers.texts import SMS_MAX
from storage.db import to_db
from storage.models import ConversationKey, ConversationState
from storage.outbox import PRIORITY_BULK
from storage.store import Store
from tests.handlers.quality.history import TZ
from tests.stores import db, make_db, store, store_kind

# -- tables --------------------------------------------------------------------------

# The campaign/survey repositories are store contract tests too: both stores.
__all__ = ["db", "make_db", "store", "store_kind"]


@pytest.mark.parametrize(
    ("text", "scale", "expected"),
    [
        ("5", "score", 5),
        (" 4 ", "score", 4),
        ("5!", "score", 5),
        ("оценка 3", "score", 3),
        ("на 5 баллов", "score", 5),
        ("survey:2", "score", 2),  # a Telegram button
        ("Отлично", "score", 5),
        ("очень плохо", "score", 1),  # before «плохо» (2)
        ("плохо", "score", 2),
        ("6", "score", None),
        ("0", "score", None),
        ("45", "score", None),
        ("ЛС 1234567890 день 4521", "score", None),  # a reading, not an answer
        ("1 2", "score", None),
        ("", "score", None),
        ("да", "yesno", 1),
        ("Да, спасибо", "yesno", 1),
        ("ДА", "yesno", 1),
        ("survey:yes", "yesno", 1),
        ("нет", "yesno", 0),
        ("Нет.", "yesno", 0),
        ("survey:no", "yesno", 0),
        ("данные", "yesno", None),  # starts with «да» but is not «да»
        ("5", "yesno", None),
    ],
)
def test_parse_answer(text: str, scale: str, expected: int | None) -> None:
    assert parse_answer(text, scale) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Удобно ли передавать показания?:yesno", ("Удобно ли передавать показания?", "yesno")),
        ("Оцените работу офиса:score", ("Оцените работу офиса", "score")),
        ("Оцените работу офиса:1-5", ("Оцените работу офиса", "score")),
        ("Оцените работу офиса", ("Оцените работу офиса", "score")),
        # a colon inside the question is kept when no scale follows it
        ("Время: удобно ли?", ("Время: удобно ли?", "score")),
        ("Время: удобно ли?:да/нет", ("Время: удобно ли?", "yesno")),
    ],
)
def test_parse_question(text: str, expected: tuple[str, str]) -> None:
    spec = parse_question(text, "household")
    assert (spec.text, spec.scale) == expected


@pytest.mark.parametrize(
    ("question", "scale", "expected"),
    [
        # «Оцените обслуживание от 1 до 5 Ответьте цифрой…»: the question ran into the hint
        ("Оцените обслуживание от 1 до 5", "score", "Оцените обслуживание от 1 до 5. Ответьте"),
        ("Рекомендуете нас?", "yesno", "Рекомендуете нас? Ответьте"),
        ("Оцените офис.", "score", "Оцените офис. Ответьте"),
    ],
)
def test_question_reply_ends_the_question(question: str, scale: str, expected: str) -> None:
    reply = question_reply(Question(1, 1, "household", 0, question, scale), 1, "sms")
    assert reply.text.startswith(expected)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"household": ["Вопрос"]}, "название"),
        ({"title": "T"}, "нет ни одного вопроса"),
        ({"title": "T", "household": [{"text": "Q", "scale": "stars"}]}, "шкала"),
        ({"title": "T", "household": [{"scale": "score"}]}, "без текста"),
        ({"title": "T", "households": ["Q"]}, "неизвестные поля"),
        ({"title": "T", "household": ["Q"], "days": 0}, "days"),
    ],
)
def test_survey_spec_refuses(data: dict[str, object], error: str) -> None:
    with pytest.raises(SurveyError, match=error):
        survey_spec(data)


def test_survey_spec_both_groups() -> None:
    spec = survey_spec(
        {"title": "T", "both": ["Общий:score"], "business": [{"text": "Б", "scale": "yesno"}]}
    )
    assert [(q.segment, q.text, q.scale) for q in spec.questions] == [
        ("household", "Общий", "score"),
        ("business", "Общий", "score"),
        ("business", "Б", "yesno"),
    ]


QUIET = (time(21), time(9))


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 11, 26, 22, 0, tzinfo=TZ), datetime(2026, 11, 27, 9, 0, tzinfo=TZ)),
        (datetime(2026, 11, 27, 3, 0, tzinfo=TZ), datetime(2026, 11, 27, 9, 0, tzinfo=TZ)),
        (datetime(2026, 11, 26, 21, 0, tzinfo=TZ), datetime(2026, 11, 27, 9, 0, tzinfo=TZ)),
        (datetime(2026, 11, 27, 9, 0, tzinfo=TZ), None),
        (datetime(2026, 11, 27, 15, 0, tzinfo=TZ), None),
    ],
)
def test_after_quiet_hours(local: datetime, expected: datetime | None) -> None:
    assert after_quiet_hours(local, TZ, QUIET) == expected


def test_after_quiet_hours_same_day_window() -> None:
    window = (time(13), time(14))
    assert after_quiet_hours(datetime(2026, 11, 27, 13, 30, tzinfo=TZ), TZ, window) == (
        datetime(2026, 11, 27, 14, 0, tzinfo=TZ))
    assert after_quiet_hours(datetime(2026, 11, 27, 12, 30, tzinfo=TZ), TZ, window) is None


# -- end to end ----------------------------------------------------------------------

P1, P2, P3, P4, P5, P6 = (f"+7912000000{n}" for n in range(1, 7))
TG_P2, TG_P6 = "111", "666"
SENT = datetime(2026, 11, 26, 22, 0, tzinfo=TZ)  # inside the quiet hours


async def add_account(store: Store, number: str, segment: str, *phones: str) -> None:
    await store.db.execute(
        "INSERT INTO accounts (number, holder, segment, updated_at) VALUES (?, ?, ?, ?)",
        (number, "Иванов И. И.", segment, to_db(SENT)),
    )
    for phone in phones:
        await store.db.execute(
            "INSERT INTO account_phones (account, phone) VALUES (?, ?)", (number, phone)
        )


async def registry(store: Store) -> None:
    """P1 household by SMS; P2 household, linked in Telegram; P3 business by SMS; P4
    household, said СТОП; P5 holds a household and a business account; P6 business, its
    Telegram user blocked the bot (so SMS), in the middle of a readings confirmation."""
    await add_account(store, "1000000001", "household", P1)
    await add_account(store, "1000000002", "household", P2)
    await add_account(store, "2000000003", "business", P3)
    await add_account(store, "1000000004", "household", P4)
    await add_account(store, "1000000005", "household", P5)
    await add_account(store, "2000000005", "business", P5)
    await add_account(store, "2000000006", "business", P6)
    tg = await store.contacts.resolve("telegram", TG_P2)
    await store.contacts.verify_phone(tg.id, P2, "contact")
    tg6 = await store.contacts.resolve("telegram", TG_P6)
    await store.contacts.verify_phone(tg6.id, P6, "contact")
    await store.contacts.set_blocked("telegram", TG_P6, True)
    p4 = await store.contacts.resolve("sms", P4, phone=P4, verified_by="sms")
    await store.contacts.set_opted_out(p4.id, True)
    await store.state.set(
        ConversationKey("sms", P6), ConversationState("confirm_readings", {"ids": [1]}, None)
    )


SPEC = survey_spec(
    {
        "title": "Удовлетворённость обслуживанием, 2 полугодие 2026",
        "intro": "ЭнергоСбыт: оцените нашу работу.",
        "household": [
            {"text": "Насколько вам удобно передавать показания?", "scale": "score"},
            {"text": "Получаете ли вы счёт вовремя?", "scale": "yesno"},
        ],
        "business": [{"text": "Оцените работу вашего менеджера", "scale": "score"}],
    }
)


async def say(
    store: Store, channel: str, address: str, text: str, at: datetime, *, callback: bool = False
) -> Outcome | None:
    """What the engine does around the hook: resolve the contact, load the state, call
    the handler, save the state."""
    phone = address if channel == "sms" else None
    contact = await store.contacts.resolve(
        channel, address, phone=phone, verified_by="sms" if phone else None
    )
    key = ConversationKey(channel, address)
    ctx = Context(
        key=key, contact=contact, text=text, now=at, state=await store.state.get(key, at),
        is_callback=callback,
    )
    outcome = await handle_survey_answer(store, ctx, text)
    if outcome is not None and outcome.state is not KEEP:
        await store.state.set(key, outcome.state)  # type: ignore[arg-type]
    return outcome


async def test_survey_end_to_end(store: Store, tmp_path: Path) -> None:
    await registry(store)
    survey_id = await create_survey(store, SPEC, SENT)

    dry = await send_survey(store, survey_id, SENT, tz=TZ, quiet_hours=QUIET, dry_run=True)
    assert (dry.recipients, dry.opted_out, dry.campaign_id) == (5, 1, None)
    assert await store.outbox.pending_count() == 0

    sent = await send_survey(store, survey_id, SENT, tz=TZ, quiet_hours=QUIET)
    assert (sent.recipients, sent.already, sent.opted_out, sent.states_kept) == (5, 0, 1, 1)
    assert sent.by_segment == {"household": 3, "business": 2}
    assert sent.by_channel == {"sms": 4, "telegram": 1}

    # -- the outbox: one bulk row per person, on its channel, after the quiet hours
    rows = await store.db.fetchall("SELECT * FROM outbox ORDER BY phone")
    assert [(r["phone"], r["channel"], r["address"]) for r in rows] == [
        (P1, "sms", P1), (P2, "telegram", TG_P2), (P3, "sms", P3), (P5, "sms", P5),
        (P6, "sms", P6),
    ]
    morning = to_db(datetime(2026, 11, 27, 9, 0, tzinfo=TZ))
    for row in rows:
        assert row["priority"] == PRIORITY_BULK
        assert row["campaign_id"] == sent.campaign_id
        assert row["idempotency_key"] == f"survey:{survey_id}:{row['phone']}"
        assert row["not_before"] == morning
        assert row["status"] == "deferred"
    campaign = await store.db.fetchone(
        "SELECT * FROM campaigns WHERE id = ?", (sent.campaign_id,))
    assert campaign is not None
    assert (campaign["kind"], campaign["recipients"]) == ("survey", 5)

    sms = Outbound.model_validate_json(rows[0]["payload"])
    # The introduction made the invitation three SMS parts: it is dropped from the SMS.
    assert sms.text.startswith("Вопрос 1 из 2: ")
    assert len(sms.text) <= SMS_MAX
    assert "Ответьте цифрой 1–5" in sms.text
    assert "СТОП" in sms.text
    assert sms.buttons == ()
    telegram = Outbound.model_validate_json(rows[1]["payload"])
    assert [b.data for b in telegram.buttons[0]] == [f"survey:{n}" for n in range(1, 6)]
    business = Outbound.model_validate_json(rows[2]["payload"])
    assert "Оцените работу вашего менеджера" in business.text
    assert "Вопрос 1" not in business.text  # one question: no numbering

    # P6 was confirming readings: that state is kept, not replaced by the survey
    p6_state = await store.state.get(ConversationKey("sms", P6), SENT)
    assert p6_state is not None
    assert p6_state.kind == "confirm_readings"

    # sending again asks nobody twice
    again = await send_survey(store, survey_id, SENT + timedelta(hours=12), tz=TZ,
                              quiet_hours=QUIET)
    assert (again.recipients, again.already) == (0, 5)
    assert len(await store.db.fetchall("SELECT id FROM outbox")) == 5

    # -- answers: SMS
    t = datetime(2026, 11, 27, 10, 0, tzinfo=TZ)
    out = await say(store, "sms", P1, "5", t)
    assert out is not None
    assert "Вопрос 2 из 2: Получаете ли вы счёт вовремя? Ответьте ДА или НЕТ." in (
        out.replies[0].text)
    assert out.replies[0].choices == ()
    out = await say(store, "sms", P1, "Да", t)
    assert out is not None
    assert [r.text for r in out.replies] == [THANKS]
    assert await store.state.get(ConversationKey("sms", P1), t) is None
    assert await say(store, "sms", P1, "5", t) is None  # the survey is over for P1

    # -- answers: Telegram buttons
    out = await say(store, "telegram", TG_P2, "survey:3", t, callback=True)
    assert out is not None
    assert [d for _, d in out.replies[0].choices[0]] == ["survey:yes", "survey:no"]
    out = await say(store, "telegram", TG_P2, "survey:no", t, callback=True)
    assert out is not None
    assert out.replies[0].text == THANKS

    # -- a wrong answer is asked again; a reading is left to the usual handlers
    out = await say(store, "sms", P3, "7", t)
    assert out is not None
    assert out.state is KEEP
    assert "Не понял оценку" in out.replies[0].text
    assert await say(store, "sms", P5, "ЛС 1000000005 день 4521", t) is None
    p5_state = await store.state.get(ConversationKey("sms", P5), t)
    assert p5_state is not None
    assert p5_state.kind == "survey"  # still waiting for P5's answer
    out = await say(store, "sms", P3, "4", t)
    assert out is not None
    assert out.replies[0].text == THANKS
    assert await say(store, "sms", "+79990000000", "5", t) is None  # not in a survey
    out = await say(store, "telegram", TG_P2, "survey:4", t, callback=True)  # a stale button
    assert out is not None
    assert out.replies[0].text == SURVEY_OVER

    # -- the report
    results = await survey_results(store, survey_id)
    household, business_group = results.groups
    assert (household.recipients, household.responded, household.completed) == (3, 2, 2)
    assert household.response_rate == pytest.approx(2 / 3)
    score, yesno = household.questions
    assert (score.answers, score.mean, score.distribution[5], score.distribution[3]) == (
        2, 4.0, 1, 1)
    assert (yesno.answers, yesno.yes_share, yesno.distribution) == (2, 0.5, {1: 1, 0: 1})
    assert (business_group.recipients, business_group.responded) == (2, 1)
    assert business_group.questions[0].mean == 4.0
    assert results.by_channel == {"sms": (4, 2), "telegram": (1, 1)}

    path = write_survey_report(results, tmp_path / "survey", TZ)
    markdown = (tmp_path / "survey" / "report.md").read_text(encoding="utf-8")
    assert "| Население | 3 | 2 | 66,7 % | 2 (66,7 %) |" in markdown
    assert "| Юридические лица | 2 | 1 | 50,0 % | 1 (50,0 %) |" in markdown
    assert (tmp_path / "survey" / "scores_household.png").stat().st_size > 0
    assert "data:image/png;base64," in path.read_text(encoding="utf-8")
    with (tmp_path / "survey" / "answers.csv").open(encoding="utf-8-sig", newline="") as f:
        answers = list(csv.DictReader(f, delimiter=";"))
    assert len(answers) == 5
    assert not any(P1 in json.dumps(row) for row in answers)  # no phone numbers


async def test_state_of_a_closed_survey_is_dropped(store: Store) -> None:
    await registry(store)
    survey_id = await create_survey(store, SPEC, SENT)
    await send_survey(store, survey_id, SENT, tz=TZ, quiet_hours=None)
    await store.db.execute("UPDATE surveys SET status = 'closed' WHERE id = ?", (survey_id,))
    t = SENT + timedelta(hours=12)
    assert await say(store, "sms", P1, "5", t) is None
    assert await store.state.get(ConversationKey("sms", P1), t) is None
    with pytest.raises(SurveyError, match="закрыт"):
        await send_survey(store, survey_id, t, tz=TZ)


async def test_state_expires_with_the_survey(store: Store) -> None:
    await registry(store)
    survey_id = await create_survey(store, SPEC, SENT)
    await send_survey(store, survey_id, SENT, tz=TZ, quiet_hours=None)
    late = SENT + timedelta(days=SPEC.days, minutes=1)
    assert await say(store, "sms", P1, "5", late) is None


async def test_outbox_not_before_outside_quiet_hours(store: Store) -> None:
    await registry(store)
    survey_id = await create_survey(store, SPEC, SENT)
    noon = datetime(2026, 11, 27, 12, 0, tzinfo=TZ)
    result = await send_survey(store, survey_id, noon, tz=TZ, quiet_hours=QUIET, limit=2)
    assert result.recipients == 2
    rows = await store.db.fetchall("SELECT not_before, created_at FROM outbox")
    assert len(rows) == 2
    assert all(r["not_before"] == r["created_at"] for r in rows)  # due at once


# -- the staff commands --------------------------------------------------------------

SURVEY_TOML = """
title = "Удовлетворённость обслуживанием"
intro = "ЭнергоСбыт: оцените нашу работу."
[[household]]
text = "Насколько вам удобно передавать показания?"
scale = "score"
[[business]]
text = "Вовремя ли вы получаете счета?"
scale = "yesno"
"""


def test_cli_survey_create_send_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from bot.cli import main

    db = tmp_path / "gateway.db"

    async def fill() -> None:
        async with await Store.open(db) as store:
            await registry(store)

    asyncio.run(fill())
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[storage]\npath = "{db.as_posix()}"\n[notifications]\nconfirm_above = 3\n',
        encoding="utf-8",
    )
    cfg = ["--config", str(config)]
    definition = tmp_path / "survey.toml"
    definition.write_text(SURVEY_TOML, encoding="utf-8")

    assert main(["survey", "create", "--file", str(definition), *cfg]) == 0
    assert "опрос №1 создан" in capsys.readouterr().out
    assert main(["survey", "create", "--title", "Кратко", "--group", "both",
                 "--question", "Довольны ли вы?:yesno", *cfg]) == 0
    assert "население 1, юрлица 1" in capsys.readouterr().out
    assert main(["survey", "create", "--title", "Без вопросов", *cfg]) == 2
    capsys.readouterr()

    assert main(["survey", "send", "1", "--dry-run", *cfg]) == 0
    assert "опрос №1: 5 получателей" in capsys.readouterr().out
    assert main(["survey", "send", "1", *cfg]) == 3  # 5 > confirm_above = 3
    assert "--yes" in capsys.readouterr().err
    assert main(["survey", "send", "1", "--yes", *cfg]) == 0
    assert "поставлено в очередь: 5" in capsys.readouterr().out
    assert main(["survey", "send", "9", *cfg]) == 1
    capsys.readouterr()

    assert main(["survey", "list", *cfg]) == 0
    listing = capsys.readouterr().out
    assert "sent" in listing
    assert "draft" in listing

    out = tmp_path / "report"
    assert main(["report", "survey", "1", "--out", str(out), *cfg]) == 0
    assert capsys.readouterr().out.strip() == str(out / "report.html")
    assert (out / "summary.csv").exists()
    assert main(["report", "survey", "9", *cfg]) == 1


async def test_opting_out_leaves_the_survey(store: Store) -> None:
    await registry(store)
    survey_id = await create_survey(store, SPEC, SENT)
    await send_survey(store, survey_id, SENT, tz=TZ, quiet_hours=None)
    contact = await store.contacts.resolve("sms", P1, phone=P1, verified_by="sms")
    await store.contacts.set_opted_out(contact.id, True)  # «СТОП» handled by dispatch
    t = SENT + timedelta(hours=1)
    assert await say(store, "sms", P1, "5", t) is None
    assert await store.state.get(ConversationKey("sms", P1), t) is None
    results = await survey_results(store, survey_id)
    assert results.answers == ()


async def test_answer_by_sms_after_a_blocked_bot_rerouted_the_question(store: Store) -> None:
    # The Telegram question went by SMS (the user had blocked the bot), but the survey
    # state stayed on the Telegram conversation: the SMS answer was not counted.
    await registry(store)
    survey_id = await create_survey(store, SPEC, SENT)
    await send_survey(store, survey_id, SENT, tz=TZ, quiet_hours=QUIET)
    t = datetime(2026, 11, 27, 10, 0, tzinfo=TZ)
    out = await say(store, "sms", P2, "4", t)
    assert out is not None
    assert "Вопрос 2 из 2" in out.replies[0].text
    answers = await SurveyRepo(store.db).answers(survey_id)
    assert [a.value for a in answers] == [4]
    # the state moved with the person: the Telegram chat is no longer mid-survey
    assert await store.state.get(ConversationKey("telegram", TG_P2), t) is None
    # and a stranger's «4» by SMS is not taken for anyone's answer
    assert await say(store, "sms", "+79990000000", "4", t) is None
