"""Which store a command uses, and whether it may create one (docs/operations.md).

A command that only reads (`appeals list`, `export readings`, `campaigns show`, …) never
creates a store: a missing database file, or one made by an older version that would
need upgrading first, stops it with exit status 2 naming the path and where the path
came from. A writing command (`run`, `chat`, `import …`, `broadcast …`, …) creates the
file and upgrades its schema; it creates a missing parent directory only when
`[storage] path` is relative and stays below the working directory (`var/gateway.db`
makes `var/`); an absolute path, or one climbing out with `..`, must name an existing
directory, so that a typo in `GATEWAY__STORAGE__PATH` never makes directories
somewhere the operator did not mean.

With `[storage] url` naming PostgreSQL (docs/interfaces.md §13) the same rule holds: a
reading command refuses a database that cannot be reached, is empty or is older, and
never creates or upgrades the schema; a writing command does both. Messages name the url
with its password masked.

Commands declare themselves read-only with `set_defaults(reads_only=True)`; the table
`READING` lists the ones that existed before that flag.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
from pathlib import Path

from bot.settings import Settings
from storage.db import migrations
from storage.open import read_problem

# "command subcommand" of every command that only reads the store.
READING = frozenset({
    "appeals list", "appeals show", "appeals due",
    "export readings", "export labelled",
    "campaigns show", "campaigns list",
    "outage list",
    "report appeals", "report survey",
    "survey list",
    "staff list",
})

# The subparser `dest` of each command group, where it is not the group's own name.
_SUB_DEST = {"export": "export_kind", "import": "import_kind", "sms": "sms_command"}


def command_words(args: argparse.Namespace) -> str:
    """`"appeals list"` for `gateway appeals list …`; `"run"` for `gateway run`."""
    command = str(args.command)
    sub = getattr(args, _SUB_DEST.get(command, command), None)
    return f"{command} {sub}" if isinstance(sub, str) else command


def reads_only(args: argparse.Namespace) -> bool:
    flag = getattr(args, "reads_only", None)
    if flag is not None:
        return bool(flag)
    return command_words(args) in READING


def _origin(settings: Settings, key: str) -> str:
    env = f"GATEWAY__STORAGE__{key.upper()}"
    if any(name.upper() == env for name in os.environ):
        return env
    source = settings.source_file
    return f"settings file {source}" if source is not None else "the built-in default"


def uses_url(settings: Settings) -> bool:
    """Whether `[storage] url` chose the store (it wins over `path`)."""
    return bool(settings.storage.url.get_secret_value())


def store_key(settings: Settings) -> str:
    """The setting that names the store, for messages: storage.url or storage.path."""
    return "storage.url" if uses_url(settings) else "storage.path"


def path_origin(settings: Settings) -> str:
    """Where the store's setting (`url`, else `path`) came from, for messages."""
    return _origin(settings, "url" if uses_url(settings) else "path")


def describe(settings: Settings) -> str:
    """The `--verbose` line: which settings and which store a command uses (a url's
    password masked)."""
    source = settings.source_file
    settings_text = str(source) if source is not None else "built-in defaults (no file)"
    target = settings.storage.target
    return (
        f"gateway: settings {settings_text}; store {target.describe()} "
        f"(from {path_origin(settings)})"
    )


def _schema_version(path: Path) -> int:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = conn.execute("PRAGMA user_version").fetchone()
    finally:
        conn.close()
    return int(row[0]) if row else 0


def store_problem(settings: Settings, *, reading: bool) -> str | None:
    """Why this command must not open the store, or None when it may."""
    target = settings.storage.target
    origin = path_origin(settings)
    if target.kind == "postgresql":
        if not reading:
            return None
        problem = asyncio.run(read_problem(target))
        if problem is None:
            return None
        return (
            f"storage.url: {problem} (from {origin}); this command only reads and never "
            "creates or upgrades a schema: create or upgrade it with a writing command "
            "first (`gateway run`, `gateway import customers`; back it up before, see "
            "docs/operations.md)"
        )
    path = settings.storage.path
    key = store_key(settings)
    if reading:
        if not path.exists():
            return (
                f"{key}: the database {path} does not exist (from {origin}); "
                "this command only reads and never creates one: check the path, or create "
                "the store with a writing command (`gateway run`, `gateway import customers`)"
            )
        try:
            version = _schema_version(path)
        except sqlite3.Error as exc:
            return f"{key}: cannot read the database {path} (from {origin}): {exc}"
        latest = len(migrations())
        if version < latest:
            return (
                f"{key}: the database {path} (from {origin}) has schema version "
                f"{version}, this gateway needs {latest}; upgrade it with a writing command "
                "first (`gateway run` upgrades it at start; back it up before, see "
                "docs/operations.md)"
            )
        return None
    parent = path.parent
    if parent.exists():
        return None
    if path.is_absolute() or ".." in path.parts:
        return (
            f"{key}: the directory {parent} does not exist (from {origin}); create "
            "it first (writable by the service user), or fix the path: only a relative "
            "path below the working directory (such as var/gateway.db) gets its directory "
            "created"
        )
    return None
