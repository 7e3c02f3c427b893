"""What `--help` says about input files and exit statuses (docs/interfaces.md §3, §10).

One place for the file formats, so that the import commands of different parts
(`bot/cli_registry.py`, `bot/cli_notifications.py`, `bot/cli_reports.py`) describe them
alike, and one table of exit statuses, which the README repeats.
"""

from __future__ import annotations

import argparse

EXIT_OK = 0
EXIT_FAILED = 1  # the command could not do its work (e.g. no such campaign)
EXIT_USAGE = 2  # bad arguments, settings, settings file or store
EXIT_REFUSED = 3  # refused without confirmation (--yes), or an empty broadcast
EXIT_REJECTED = 4  # --strict and the file had rejected rows (the good rows loaded)

EXIT_STATUSES = """\
exit status:
  0    done (an import also when some rows were rejected: they are listed)
  1    failed (e.g. no such campaign or appeal)
  2    usage: bad arguments, settings, settings file or store
  3    refused: needs --yes, or the broadcast reaches nobody
  4    --strict and rows were rejected (the good rows are loaded)
  130  interrupted (Ctrl-C)"""

_CSV_RULES = """\
File: UTF-8 (a BOM is allowed), a header row naming the columns (any order); the
delimiter, ";" or ",", is read from the header line. Rows with errors are listed with
their line numbers and reasons; the good rows load."""

_CUSTOMERS_HEADER = ";".join((
    "account", "phones", "name", "settlement", "street", "house", "apartment",
    "meter_serial", "zones", "digits", "last_t1", "last_t2", "last_t3", "last_date",
    "balance",
))
_CUSTOMERS_ROW = ";".join((
    "1234567890", "+79121234567|89129876543", "Иванов Иван Иванович", "Сыктывкар",
    "Коммунистическая", "10", "5", "011234567", "2", "6", "4390", "1815", "",
    "2026-10-20", "1250,50",
))

CUSTOMERS = f"""\
Load the customer registry from billing (an idempotent upsert: run it again with the
next export). One row per meter; an account with two meters has two rows; where rows of
one account disagree, the last row wins. An account's phones are replaced by the file's.

{_CSV_RULES}

columns:
  account                     account number, digits (leading zeros kept)
  phones                      one or more phones separated by "|", any common notation
                              (+7 912 123-45-67, 89121234567)
  name                        the holder's name
  settlement, street, house, apartment
                              the supply address
  meter_serial                meter serial number
  zones                       1, 2 or 3 (tariff zones)
  digits                      integer digits on the meter's display (rollover at 10^digits)
  last_t1, last_t2, last_t3   last accepted reading per zone (empty where no zone)
  last_date                   date of the last reading, YYYY-MM-DD
  balance                     roubles owed, "." or "," as decimal mark (negative: credit)

example (one line each):
  {_CUSTOMERS_HEADER}
  {_CUSTOMERS_ROW}"""

INVOICES = f"""\
Queue invoice notices: the file becomes one campaign (quiet hours and «СТОП» apply).
The same file imported again queues nothing.

{_CSV_RULES}

columns:
  account    account number
  period     billing period, YYYY-MM
  amount     roubles, "." or "," as decimal mark
  due_date   pay by, YYYY-MM-DD

example:
  account;period;amount;due_date
  1234567890;2026-11;1520,75;2026-12-10"""

DEBTS = f"""\
Queue debt warnings: the file becomes one campaign. They go by SMS even to those who
sent «СТОП» (required by law), and each delivery time is kept as evidence.

{_CSV_RULES}

columns:
  account            account number
  amount             roubles owed, "." or "," as decimal mark
  restriction_date   the earliest date billing may restrict supply, YYYY-MM-DD

example:
  account;amount;restriction_date
  1234567890;4870,40;2027-01-15"""

SURVEY = """\
Create a draft survey from a file (--file, TOML or JSON) or from --title and --question.

survey file (TOML; JSON with the same keys):
  title = "Удовлетворённость обслуживанием, 2 полугодие 2026"
  intro = "ЭнергоСбыт: оцените, пожалуйста, нашу работу."   # optional
  days = 14                              # optional: answers taken this many days (1-90)
  [[household]]                          # questions for households ...
  text = "Насколько вам удобно передавать показания?"
  scale = "score"                        # score (1-5) | yesno
  [[business]]                           # ... for businesses, or [[both]]
  text = "Вовремя ли вы получаете счета?"
  scale = "yesno\""""

STRICT_HELP = "exit with status 4 when any row was rejected (the good rows still load)"


def file_help(description: str) -> dict[str, object]:
    """`add_parser` keyword arguments: the file format as the description, the exit
    statuses as the epilog, laid out as written."""
    return {
        "description": description,
        "epilog": EXIT_STATUSES,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
