"""What every CLI command shares, below the domains' own command groups (which gridsys/cli.py
gathers): one transaction per command, and a refusal printed as 'error <code>: message'."""
from __future__ import annotations

import functools
import sys

import click
from sqlalchemy import Engine, text

from . import db
from .errors import GridsysError


def transactional(fn):
    """Run a command in one transaction; a GridsysError becomes 'error <code>: message', exit 1."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return _in_one_transaction(db.session(), fn, args, kwargs)
    return wrapper


def read_only(fn):
    """``transactional`` for a command that only reads (an export): its transaction, when the
    session is bound to the engine and not begun yet, is one REPEATABLE READ, READ ONLY snapshot,
    so what it reads agrees and nothing can be written; a session joined to an outer transaction
    (tests) is left as it is. A wrapper of its own: tests/hostile tells writing commands by
    ``transactional``'s."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        session = db.session()
        if isinstance(session.get_bind(), Engine) and not session.in_transaction():
            session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        return _in_one_transaction(session, fn, args, kwargs)
    return wrapper


def _in_one_transaction(session, fn, args, kwargs):
    try:
        result = fn(*args, **kwargs)
        session.commit()
        return result
    except GridsysError as exc:
        session.rollback()
        click.echo(f"error {exc.code}: {exc.message}", err=True)
        sys.exit(1)
    except BaseException:
        session.rollback()
        raise
