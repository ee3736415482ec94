"""What every CLI command shares, below the domains' own command groups (which gridsys/cli.py
gathers): one transaction per command, and a refusal printed as 'error <code>: message'."""
from __future__ import annotations

import functools
import sys

import click

from . import db
from .errors import GridsysError


def transactional(fn):
    """Run a command in one transaction; a GridsysError becomes 'error <code>: message', exit 1."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        session = db.session()
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
    return wrapper
