"""The store contract tests run over SQLite and PostgreSQL (tests/stores.py)."""

from tests.stores import db, make_db, store, store_kind

__all__ = ["db", "make_db", "store", "store_kind"]
