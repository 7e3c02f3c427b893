"""Routes a parsed message to its use case.

Order matters, and each step is where it is for a reason:

1. media without text: nothing to parse, ask for text;
2. a shared contact (Telegram): linking comes with no text at all;
3. «отвязать» and buttons with their own data (appeal topics): fixed words the parser
   does not know;
4. the conversation state: a pending question changes what «да», «2» or six digits
   mean, so it is asked before the intent (and an answer that does not fit falls through
   to the ordinary routing: the customer moved on);
5. the intent: readings, commands, appeals, and the rest (an account alone, a phone
   number in Telegram, long or unreadable text), each getting a reply.

What the bot cannot act on (media only, over-long or unreadable text) and a request for
a person carry an `InboxNote`: the engine's inbox step hands them to people and answers
with the time a person will answer by (handlers/inbox.py).
"""

from __future__ import annotations

import re
from dataclasses import replace

from handlers import texts
from handlers.appeals import AppealsUseCase
from handlers.base import KEEP, Context, HandlerConfig, InboxNote, Outcome
from handlers.common import (
    APPEAL_TOPIC,
    AWAIT_READINGS,
    CHOOSE_ACCOUNT,
    CHOOSE_METER,
    CODE_CHANNELS,
    CONFIRM_READINGS,
    LINK_CODE,
    LINK_OFFER,
    choice_reply_options,
    phone_in_text,
    pick_option,
    state,
)
from handlers.identity import IdentityUseCase
from handlers.notify import NotifyUseCase
from handlers.offices import OfficesUseCase
from handlers.quality.surveys import handle_survey_answer
from handlers.readings import ReadingsUseCase
from parsers.intent import Intent
from storage.store import Store

UNLINK_WORDS = frozenset({"отвязать", "отвязать номер", "/unlink", "unlink", "отвяжите"})
LINK_WORDS = frozenset({"привязать", "привязать номер", "код", "/link", "получить код"})
THANKS = frozenset({"спасибо", "спс", "благодарю", "спасибо большое", "большое спасибо",
                    "ок", "ok", "хорошо", "понятно", "ясно"})
GREETINGS = frozenset({"привет", "здравствуйте", "добрый день", "добрый вечер", "доброе утро",
                       "здрасте", "hi", "hello"})
# A thanks inside an otherwise unreadable text («свет дали, спасибо»).
_THANKED = re.compile(r"\b(?:спасибо|спс|благодар\w*)\b")
# Telegram menu commands (setMyCommands) that the parser does not read as words.
MENU = {"/readings": "readings", "/appeal": "appeal", "/status": "status"}
# A text this long that the parser could not read is not worth a help hint alone.
LONG_TEXT = 1000
# Asking for a person in the simplest words (the parser's `operator` command reads more).
OPERATOR_WORDS = frozenset({"оператор", "оператора", "позовите оператора", "позовите человека",
                            "человек", "специалист", "/operator"})
# A thumbs-up after the bot's answer is thanks, not a question for a person.
THANKS_EMOJI = frozenset("👍👌🙏❤♥😊🙂☺😀😃😄👏✅💪🤝")
_EMOJI_JOINERS = frozenset("\ufe0f\u200d\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff")
UNRECOGNISED = InboxNote("unrecognised")
HANDOVER = InboxNote("handover")


def _thanks_emoji(text: str) -> bool:
    """Only emoji of thanks or approval («👍», «🙏🏻»); any other emoji-only text («😡»,
    «❓») goes to a person."""
    marks = [ch for ch in text if not ch.isspace() and ch not in _EMOJI_JOINERS]
    return bool(marks) and all(ch in THANKS_EMOJI for ch in marks)


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w/ ]+", " ", text.lower()).split())


class Handlers:
    """The use cases behind the conversation engine."""

    def __init__(self, store: Store, config: HandlerConfig) -> None:
        self.store = store
        self.config = config
        self.readings = ReadingsUseCase(store, config)
        self.identity = IdentityUseCase(store, config)
        self.appeals = AppealsUseCase(store, config)
        self.offices = OfficesUseCase(store, config)
        self.notify = NotifyUseCase(store, config)

    async def handle(self, ctx: Context, intent: Intent) -> Outcome:
        """Answer one inbound message; every message gets at least one reply."""
        outcome = await self._route(ctx, intent)
        if not outcome.replies:  # a use case must always answer; never drop silently
            return Outcome.say(texts.UNKNOWN, state=outcome.state)
        return outcome

    async def _route(self, ctx: Context, intent: Intent) -> Outcome:
        text = ctx.text.strip()
        words = _words(text)
        tg = ctx.has_buttons

        # 1. media
        if ctx.media and not text and ctx.shared is None:
            return Outcome.say(texts.MEDIA, inbox=UNRECOGNISED)
        # 2. a shared contact
        if ctx.shared is not None:
            return await self.identity.shared_contact(ctx)
        # 3. fixed words and button data
        if words in UNLINK_WORDS:
            return await self.identity.unlink(ctx)
        if words in LINK_WORDS:
            return self.identity.howto(ctx)
        if words in OPERATOR_WORDS:
            return self.handover()
        if text.startswith("appeal:"):
            topic = text.removeprefix("appeal:")
            if topic == "pick":
                return self.appeals.topics(ctx)
            return self.appeals.topic_chosen(ctx, topic)
        # 3b. surveys: an answer in the survey state, or a stale survey button; before
        # the state routing and the intent, or «да»/«5» would read as a command/reading
        surveyed = await handle_survey_answer(self.store, ctx, text)
        if surveyed is not None:
            return surveyed
        # 3c. Telegram menu commands that are not words of the parser
        menu = MENU.get(words.split(" ")[0]) if words.startswith("/") else None
        if menu == "readings":
            return Outcome.say(texts.NEED_ACCOUNT)
        if menu == "appeal":
            return self.appeals.topics(ctx)
        if menu == "status":
            ticket = words.split(" ")[1] if " " in words else None
            if ticket and ticket.isdigit():
                intent = intent.model_copy(
                    update={"intent": "command", "command": "status", "ticket": ticket}
                )
                return await self._command(ctx, intent)
        # 4. the conversation state
        routed = await self._by_state(ctx, intent, text)
        if routed is not None:
            return routed
        # 5. the intent
        if intent.intent == "readings":
            await self._drop_held(ctx)
            return await self.readings.submit(ctx, intent)
        if intent.intent == "command":
            return await self._command(ctx, intent)
        if intent.intent == "appeal":
            category = None
            if ctx.state is not None and ctx.state.kind == APPEAL_TOPIC:
                category = str(ctx.state.data["category"])
            return await self.appeals.create(ctx, intent, category)
        # unknown
        if (
            ctx.state is not None
            and ctx.state.kind == APPEAL_TOPIC
            and any(ch.isalnum() for ch in text)
        ):
            return await self.appeals.create(ctx, intent, str(ctx.state.data["category"]))
        if intent.account:
            return await self.readings.account_alone(ctx, intent.account)
        phone = phone_in_text(text)
        if phone is not None and ctx.channel in CODE_CHANNELS:
            return await self.identity.request_code(ctx, phone)
        if ctx.media:
            return Outcome.say(texts.MEDIA, inbox=UNRECOGNISED)
        if len(text) > LONG_TEXT:
            return Outcome.say(texts.TOO_LONG_TEXT, inbox=UNRECOGNISED)
        if words in THANKS or _THANKED.search(words) or _thanks_emoji(text):
            return Outcome.say(texts.COURTESY)
        if words in GREETINGS:
            return Outcome.say(texts.GREETING)
        if tg:
            return Outcome.say(
                texts.UNKNOWN,
                choices=((("Справка", "помощь"), ("Обращение", "appeal:pick")),),
                inbox=UNRECOGNISED,
            )
        return Outcome.say(texts.UNKNOWN, inbox=UNRECOGNISED)

    async def _by_state(self, ctx: Context, intent: Intent, text: str) -> Outcome | None:
        current = ctx.state
        if current is None:
            return None
        data = current.data
        yes_no = intent.command if intent.command in ("yes", "no") else None
        if current.kind == CONFIRM_READINGS and yes_no:
            return await self.readings.answer(ctx, data, yes_no == "yes")
        if current.kind == LINK_OFFER and yes_no:
            return await self.identity.offer_answer(ctx, data, yes_no == "yes")
        if current.kind == LINK_CODE:
            digits = re.sub(r"[\s-]", "", text)
            if re.fullmatch(r"\d{6}", digits):
                return await self.identity.enter_code(ctx, digits)
        if current.kind in (CHOOSE_ACCOUNT, CHOOSE_METER):
            options = [str(o) for o in data.get("options", [])]
            picked = pick_option(text, options)
            if picked is None and intent.account in options and intent.intent == "unknown":
                # The account number alone answers «which account?»; a message with its
                # own readings or command («ЛС 1000000001 4550») is a new message, not
                # the held one with that account (the new values were dropped).
                picked = intent.account
            if picked is not None:
                if current.kind == CHOOSE_METER:
                    outcome = await self.readings.choose_meter(ctx, data, picked)
                    account = str(data["account"])
                else:
                    outcome = await self._chosen_account(ctx, data, picked)
                    account = picked
                if outcome.state is KEEP:
                    # The question is answered: the values were refused («меньше
                    # предыдущего, пришлите снова»), and the resend goes to the chosen
                    # account. Kept, the old question took the next message for its answer.
                    outcome = replace(
                        outcome, state=state(AWAIT_READINGS, ctx.now, account=account)
                    )
                return outcome
            if intent.intent == "unknown" and not intent.account:
                return Outcome.say(
                    texts.CHOICE_UNCLEAR.format(options=choice_reply_options(ctx, options))
                )
        return None

    async def _chosen_account(self, ctx: Context, data: dict[str, object], number: str) -> Outcome:
        saved = Intent.model_validate(data["intent"]).model_copy(update={"account": number})
        purpose = data.get("purpose")
        if purpose == "balance":
            return await self.identity.balance(ctx, saved)
        if purpose == "unchanged":
            return await self.readings.unchanged(ctx, saved)
        return await self.readings.submit(ctx, saved)

    async def _drop_held(self, ctx: Context) -> None:
        """New readings replace ones still waiting for ДА/НЕТ (never exported)."""
        if ctx.state is not None and ctx.state.kind == CONFIRM_READINGS:
            ids = [int(i) for i in ctx.state.data.get("ids", [])]
            await self.store.readings.reject(ids)

    async def _command(self, ctx: Context, intent: Intent) -> Outcome:
        command = intent.command
        if command == "balance":
            return await self.identity.balance(ctx, intent)
        if command == "stop":
            return await self.identity.stop(ctx)
        if command == "start":
            return await self.identity.start(ctx)
        if command == "status":
            return await self.appeals.status(ctx, intent)
        if command == "offices":
            return await self.offices.answer(ctx)
        if command == "notify":
            return await self.notify.choose(ctx, intent)
        if command == "unchanged":
            await self._drop_held(ctx)
            return await self.readings.unchanged(ctx, intent)
        if command in ("yes", "no"):
            return Outcome.say(texts.NOTHING_TO_CONFIRM)
        if command == "operator":
            return self.handover()
        return self.help(ctx)

    @staticmethod
    def handover() -> Outcome:
        """A request for a person: the inbox step answers with the due time."""
        return Outcome.say(texts.HANDOVER, inbox=HANDOVER, state=None)

    def help(self, ctx: Context) -> Outcome:
        """A short how-to for the channel, with reading formats."""
        window = {"first": self.config.window_first_day, "last": self.config.window_last_day}
        if ctx.has_buttons:
            return Outcome.say(
                texts.HELP_TG.format(**window),
                choices=((("Обращение", "appeal:pick"), ("Офисы", "офисы")),),
            )
        return Outcome.say(texts.HELP.format(**window))
