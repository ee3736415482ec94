"""Accounts from a CSV file (a town's roster): all or nothing. Flush, never commit."""
from __future__ import annotations

import csv
import io

from sqlalchemy.orm import Session

from ..errors import GridsysError
from ..inputs import check_text
from .models import User
from .services import create_user

CSV_COLUMNS = ("username", "display_name", "phone", "roles")


def import_users_csv(session: Session, text: str) -> list[tuple[User, str | None]]:
    """Create accounts from CSV (username, display_name, phone, roles separated by ';').
    All or nothing; each new account gets a generated password to change at first login."""
    check_text(text, "the file")   # a NUL character would reach the database
    reader = csv.DictReader(io.StringIO(text), skipinitialspace=True)
    if reader.fieldnames is None or [f.strip() for f in reader.fieldnames][:4] != list(CSV_COLUMNS):
        raise GridsysError("csv_header_invalid", f"the first line must be: {','.join(CSV_COLUMNS)}")
    created = []
    with session.begin_nested():
        for row in reader:
            line = reader.line_num  # the physical line, even after blank or multi-line rows
            try:
                created.append(create_user(session, row["username"] or "", display_name=row["display_name"],
                                           phone=row["phone"], roles=(row["roles"] or "").split(";")))
            except GridsysError as exc:
                raise type(exc)(exc.code, f"line {line}: {exc.message}; nothing was imported",
                                line=line) from None
    if not created:
        raise GridsysError("csv_empty", "the file has a header but no accounts")
    return created
