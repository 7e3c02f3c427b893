"""Appeal categories from everyday wordings, with morphology and typos.

Each row is (text, category); None means the text is no appeal (`unknown`). A comment on
a row says what it once broke.
"""

from __future__ import annotations

import pytest

from parsers import classify_appeal, parse
from parsers.appeals import cyrillic, fold_latin

CASES = [
    # outage
    ("нет света", "outage"),
    ("Нет света!", "outage"),
    ("НЕТ СВЕТА", "outage"),
    ("света нет второй день", "outage"),
    ("нет электричества с 8 утра", "outage"),
    ("у нас нет света по ул. Мира 5", "outage"),
    ("Сыктывкар, ул. Мира 5, нет света", "outage"),
    ("Нет света на ул. Ленина 31 с утра", "outage"),
    ("отключили свет", "outage"),
    ("опять отключили электричество", "outage"),
    ("когда включат свет", "outage"),
    ("когда дадут свет?", "outage"),
    ("когда будет свет", "outage"),
    ("почему нет света", "outage"),
    ("пропал свет во всем доме", "outage"),
    ("свет отключился", "outage"),
    ("вырубило свет на всей улице", "outage"),
    ("свет погас", "outage"),
    ("без света сидим уже 3 часа", "outage"),
    ("на улице оборвало провод", "outage"),
    ("упал столб", "outage"),
    ("провод искрит на столбе", "outage"),
    ("плановое отключение когда закончится?", "outage"),
    ("авария на линии", "outage"),
    ("в деревне темно", "outage"),
    ("свет выключили", "outage"),
    ("нет напряжения", "outage"),
    ("Здравствуйте, у меня отключили электроэнергию, хотя я все оплатил", "outage"),
    # A typo in the first letter once escaped the fuzzy match.
    ("атключили свет", "outage"),
    # A typo that is another dictionary word.
    ("нет свита", "outage"),
    # power_quality
    ("скачет напряжение", "power_quality"),
    ("напряжееие скачет", "power_quality"),
    ("низкое напряжение", "power_quality"),
    ("напряжение 170 вольт", "power_quality"),
    ("напряжение 250 В", "power_quality"),
    ("показания 4521, напряжение 160 вольт", "power_quality"),
    ("моргает свет", "power_quality"),
    ("свет мигает", "power_quality"),
    ("лампочки мигают весь вечер", "power_quality"),
    ("свет тусклый", "power_quality"),
    ("перепады напряжения", "power_quality"),
    ("сгорел холодильник", "power_quality"),
    ("сгорел телевизор", "power_quality"),
    ("из-за скачка сгорела микроволновка", "power_quality"),
    ("сгорел телевизор после скачка напряжения", "power_quality"),
    ("холодильник не включается, напряжение низкое", "power_quality"),
    ("слабое напряжение, котел не запускается", "power_quality"),
    ("свет моргает уже 3 часа", "power_quality"),
    # billing
    ("почему такой большой счет", "billing"),
    # news that the power is back was an outage appeal (the weak «свет» rule)
    ("свет дали, спасибо", None),
    ("уже дали свет", None),
    ("когда дадут свет?", "outage"),
    ("свет так и не дали", "outage"),
    ("огромный счет за электроэнергию", "billing"),
    ("пришел огромный счет", "billing"),
    ("неправильно начислили", "billing"),
    ("начислили по среднему", "billing"),
    ("счет по нормативу", "billing"),
    ("прошу сделать перерасчет", "billing"),
    ("сделайте перерасчет пожалуйста", "billing"),
    ("не пришла квитанция", "billing"),
    ("не пришла квитанция за октябрь", "billing"),
    ("квитанцию не получил", "billing"),
    ("ошибся при передаче показаний", "billing"),
    ("ошибся в показаниях, правильно 4521", "billing"),
    ("неправильно передал показания, верные 4521", "billing"),
    ("в квитанции неверные показания", "billing"),
    ("почему вырос тариф", "billing"),
    ("откуда долг 5000 рублей?", "billing"),
    ("начислили пени", "billing"),
    ("Пени за что?", "billing"),
    ("за что начислили 3000?", "billing"),
    ("почему начислили 5000 рублей?", "billing"),
    ("Почему такая сумма 5000 р", "billing"),
    # payment
    ("оплатил, а деньги не поступили", "payment"),
    ("деньги не поступили на счет", "payment"),
    ("платеж не прошел", "payment"),
    ("оплата не отразилась", "payment"),
    ("оплатил 2500 руб 15.11, а в личном кабинете долг", "payment"),
    # The money span once hid «оплатил» from the classifier.
    ("оплатил 15 ноября, а долг висит", "payment"),
    ("заплатил дважды", "payment"),
    ("двойная оплата", "payment"),
    ("деньги списали два раза", "payment"),
    ("прошу вернуть переплату", "payment"),
    ("верните деньги", "payment"),
    ("оплатил на чужой лицевой счет", "payment"),
    ("оплатил не на тот лицевой счет", "payment"),
    ("перевел деньги не на тот счет", "payment"),
    # meter
    ("сгорел счетчик", "meter"),
    ("счетчик сломался", "meter"),
    ("счетчик сгорел, показания были 4521", "meter"),
    ("счетчик не работает", "meter"),
    ("СЧЕТЧИК НЕ РАБОТАЕТ", "meter"),
    ("счетчик не показывает", "meter"),
    ("не горит экран счетчика", "meter"),
    ("счетчик не крутится", "meter"),
    ("счетчик крутится сам по себе", "meter"),
    ("счетчик крутится когда все выключено", "meter"),
    ("срок поверки счетчика истек", "meter"),
    ("истек срок поверки счетчика", "meter"),
    ("когда поверка счетчика?", "meter"),
    ("нужна поверка", "meter"),
    ("нужно поменять счетчик", "meter"),
    ("замена счетчика", "meter"),
    ("хочу установить двухтарифный счетчик", "meter"),
    ("как перейти на двухтарифный учет", "meter"),
    ("опломбировать счетчик после замены", "meter"),
    ("сорвали пломбу", "meter"),
    # contract
    ("переоформить лицевой счет", "contract"),
    ("как переоформить договор на себя", "contract"),
    ("купили квартиру, нужно переоформить счет", "contract"),
    ("купил дом, как оформить лицевой счет на себя", "contract"),
    ("сменился собственник", "contract"),
    ("хочу заключить договор", "contract"),
    ("расторгнуть договор", "contract"),
    ("закрыть лицевой счет", "contract"),
    ("какие документы нужны для переоформления", "contract"),
    ("какие документы нужны для заключения договора", "contract"),
    ("умер отец, надо переоформить на меня", "contract"),
    ("сменила фамилию", "contract"),
    # service_complaint
    ("нахамили в офисе", "service_complaint"),
    ("оператор нагрубил", "service_complaint"),
    ("грубый сотрудник", "service_complaint"),
    ("контролер нахамил", "service_complaint"),
    ("очень большая очередь в офисе", "service_complaint"),
    ("в офисе огромная очередь", "service_complaint"),
    ("не могу дозвониться", "service_complaint"),
    ("не могу додзвониться", "service_complaint"),
    ("невозможно дозвониться", "service_complaint"),
    ("никто не отвечает на звонки", "service_complaint"),
    ("трубку никто не берет", "service_complaint"),
    ("на звонки не отвечают", "service_complaint"),
    ("на обращение не ответили", "service_complaint"),
    ("контролер вел себя по-хамски", "service_complaint"),
    ("жалоба на контролера", "service_complaint"),
    ("отвратительное обслуживание", "service_complaint"),
    # other
    ("спасибо сотрудникам", "other"),
    ("благодарю мастеров", "other"),
    ("хочу поблагодарить оператора", "other"),
    ("спасибо мастерам за быстрый ремонт", "other"),
    ("Спасибо за оперативное решение вопроса", "other"),
    ("предлагаю добавить оплату через бот", "other"),
    ("предлагаю сделать оплату через приложение", "other"),
    ("есть предложение", "other"),
    ("подскажите как оплатить картой", "other"),
    ("Подскажите пожалуйста как оплатить через сбербанк", "other"),
    ("у меня вопрос", "other"),
    # not appeals
    ("привет", None),
    ("здравствуйте", None),
    ("спасибо", None),
    ("спс", None),
    ("Спасибо!!!", None),
    ("кто это?", None),
    ("что это?", None),
    ("👍", None),
    ("😊😊", None),
    ("ывапролд", None),
    ("...", None),
    ("hello", None),
    ("тест", None),
    # Red team (held-out set): questions with numbers once gave readings (wrong ones).
    ("почему 3500 к оплате если показания 4521?", "billing"),
    ("у меня показания 4521, а вы насчитали по 5000", "billing"),
    # ... and wordings that once gave `unknown`
    ("за октябрь пришло 5600 руб, это ошибка", "billing"),
    ("выставили счет на 5600 р, хотя дома никто не живет", "billing"),
    ("ошибся лицевым счетом при оплате", "payment"),
    ("деньги ушли не на тот лс", "payment"),
    ("оплатил через сбербанк 20.11, платеж не отражается", "payment"),
    ("оператор бросил трубку", "service_complaint"),
    ("хочу поблагодарить контролера Иванову", "other"),
    ("Огромное спасибо сотрудникам за оперативность", "other"),  # courtesy stripped
    ("света нету", "outage"),
    # translit from old phones
    ("net sveta", "outage"),
    ("schetchik slomalsya", "meter"),
    ("kogda dadut svet?", "outage"),
    # Red team: paid and a debt still shown is a payment not credited, not a billing
    # question, though «почему» and «квитанция» are there.
    ("почему в квитанции долг 2300, я всё оплатил?", "payment"),
    # Round 2 (tests/data/heldout_round2.jsonl): «ответа нет» once missed the unanswered
    # rule (`other`); «оплата не отражена» missed the payment rule, so «№ 345» was read.
    ("5 раз писала обращение, ответа нет", "service_complaint"),
    (
        "Платёжным поручением № 345 от 10.11.2025 перечислено 45 000 руб., оплата не отражена",
        "payment",
    ),
    # Only «если что … звоните» is a courtesy; the meter's kind alone is no meter appeal,
    # moving to one still is.
    ("если что, света нет уже 3 дня", "outage"),
    ("хочу перейти на двухтарифный счетчик", "meter"),
    ("Уважаемые сотрудники, спасибо вам!", "other"),
    # Round 3: «оборван» lemmatised as the adjective «оборванный» (ragged), not the
    # participle of «оборвать»; «спасибо большое сотруднице» was a stock courtesy (only
    # «сотрудник…» counted as staff); an appeal awaited for weeks without «нет» was missed.
    ("оборван провод у дома 12 по ул. Мира", "outage"),
    ("Спасибо большое сотруднице Марине за помощь", "other"),
    ("ответьте на мое обращение, уже две недели жду", "service_complaint"),
    # Round 3 probe: the bill's amount was a reading; «не пришли» is «прислать» to the
    # dictionary, so «деньги не пришли» missed the payment rule.
    ("за свет заплатила 2000 а пришло 3000", "billing"),
    ("оплатил, а деньги не пришли", "payment"),
    # Round 6 (blind): paid, and the payment is not there; a payment gone astray; «два
    # раза» alone once made a complaint a double payment; questions to the company about
    # what it sells or buys are `other` («электричество» once made one an outage).
    ("оплатила через сбербанк, а в кабинете платежа нет", "payment"),
    ("перевела деньги, а оплаты не видно", "payment"),
    ("деньги ушли не туда, ошиблась счетом", "payment"),
    ("platezh ne proshel, dengi spisali", "payment"),
    ("два раза списали оплату", "payment"),
    ("zvonila tri raza nikto ne otvetil", "service_complaint"),
    ("pisala dva raza, nikto ne perezvonil", "service_complaint"),
    ("а вы счётчики продаёте?", "other"),
    ("можно у вас купить электроплиту?", "other"),
    ("можно ли продавать вам электроэнергию с солнечных панелей", "other"),
    ("продала квартиру, как переоформить договор", "contract"),
    # Round 7 (blind, tests/data/blind_round7.jsonl; these are paraphrases): flicker told
    # as off-and-on («то тухнет то загорается» was an outage); lamps at half glow; a
    # payment order not credited; an error code on the meter's display (its «03» was a
    # reading); «никакого ответа» and «ни одного ответа»; personal data.
    ("лампочки то гаснут то опять загораются", "power_quality"),
    ("свет то пропадает то появляется весь вечер", "power_quality"),
    ("свет погас и не загорается", "outage"),
    ("свет горит вполнакала", "power_quality"),
    ("платёжное поручение не зачли, деньги ушли неделю назад", "payment"),
    ("на табло счётчика ошибка E-05", "meter"),
    ("прибор учета выдает ошибку Err 2", "meter"),
    ("никакого ответа на моё письмо уже месяц", "service_complaint"),
    ("третий раз пишу, ни одного ответа", "service_complaint"),
    ("прошу удалить мои персональные данные", "other"),
    ("хочу отозвать согласие на обработку данных", "other"),
    ("счётчик показывает ошибку Е-03", "meter"),
    # Round 8 (blind_round8; paraphrases): Ukrainian, Tatar and Komi words; «напруга»; a
    # capital «В» after a mains voltage (the «250» was a reading); a corrected value
    # («вместо»: both were readings); a payment credited in part (its tail a reading);
    # «вышел из строя», «в минус» on the meter; an inspector's conduct; staff who know
    # nothing; theft of power (was an outage); whom to turn to; a certificate of no debt
    # (was `balance`).
    ("немає світла вже дві години", "outage"),
    ("Свет юк второй день", "outage"),
    ("напруга низкая, чайник не греет", "power_quality"),
    ("в сети 190 В на даче, насос не тянет", "power_quality"),
    ("я отправил 4125 вместо 4215, исправьте", "billing"),
    ("внесла 3 000 руб., а зачислили только 300", "payment"),
    ("счётчик вышел из строя", "meter"),
    ("счётчик крутит в минус 50", "meter"),
    ("лічильник зламаний", "meter"),
    ("контролёр не показал удостоверение", "service_complaint"),
    ("ваши операторы ничего не знают", "service_complaint"),
    ("соседи воруют электричество, помогите", "other"),
    ("к кому обращаться по солнечным батареям?", "other"),
    ("рәхмәт электрикам за быструю работу", "other"),
    ("аттьӧ бригаде!", "other"),
    ("можно справку об отсутствии долга?", "other"),
    ("аттьӧ", None),  # a bare thanks, in Komi
]


@pytest.mark.parametrize(("text", "category"), CASES)
def test_appeal(text: str, category: str | None) -> None:
    intent = parse(text)
    if category is None:
        assert (intent.intent, intent.appeal_category) == ("unknown", None)
    else:
        assert (intent.intent, intent.appeal_category) == ("appeal", category)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("отключили", None),
        ("отключение электроэнергии", "outage"),
        ("отключат свет завтра?", "outage"),
        ("подскажите", "other"),
        ("", None),
    ],
)
def test_classify_appeal(text: str, category: str | None) -> None:
    assert classify_appeal(text) == category


@pytest.mark.parametrize(
    ("word", "read"),
    [
        ("net", "нет"),
        ("pokazaniya", "показания"),
        ("peredat", "передать"),
        # what translit loses, put back when the plain reading is no dictionary word
        ("bolshe", "больше"),  # the soft sign inside
        ("obrashalas", "обращалась"),  # щ as «sh», and the soft sign at the end
        ("soobshenii", "сообщении"),
        ("pravilno", "правильно"),
        ("pozhaluista", "пожалуйста"),  # й as «i»
        ("etot", "етот"),  # a dictionary word already (pymorphy3 reads е as э)
        # no repair makes a word: the plain reading stays
        ("qwerty", "кверты"),
        # not Latin: unchanged
        ("свет", "свет"),
    ],
)
def test_translit_reading(word: str, read: str) -> None:
    assert cyrillic(word) == read


@pytest.mark.parametrize(
    ("word", "folded"),
    [
        ("da", "да"),
        ("no", "no"),
        ("yes", "yes"),
        ("email", "email"),
        ("max", "max"),
        ("sms", "смс"),
    ],
)
def test_command_words_fold_latin_except_english(word: str, folded: str) -> None:
    assert fold_latin(word) == folded
