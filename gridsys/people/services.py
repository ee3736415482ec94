"""Rules for people: accounts, passwords, logins, assignments, tokens. Flush, never commit.
(Accounts from a CSV file: roster.py.)"""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from werkzeug.security import check_password_hash, generate_password_hash

from .. import db
from ..clock import now
from ..errors import Conflict, GridsysError, NotFound
from ..inputs import INT4_MAX
from ..zones.models import Area, Grid, Town
from ..vocabulary import ASSIGNABLE_DUTIES, ROLES
from .models import (ApiToken, AreaLeader, GridAssignment, LoginFailure,
                     TownAdmin, User, UserRole)

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
PHONE_RE = re.compile(r"^\+?[0-9 -]{5,20}$")
MIN_PASSWORD = 10
LOCK_WINDOW = timedelta(minutes=15)
# Failures of one account from one address lock that pair: an attacker elsewhere cannot lock the
# owner out from the owner's usual address.
MAX_FAILURES_PER_ACCOUNT = 5
# Failures of one account from anywhere: a distributed guess is stopped too, later.
MAX_FAILURES_PER_ACCOUNT_ANYWHERE = 50
MAX_FAILURES_PER_ADDRESS = 20
PASSWORD_METHOD = "scrypt"
TOKEN_PREFIX = "gs_"


# --- accounts ------------------------------------------------------------------

def check_password_strength(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise GridsysError("password_too_short", f"a password needs at least {MIN_PASSWORD} characters",
                           min_length=MIN_PASSWORD)
    if len(password) > 200:
        raise GridsysError("password_too_long", "a password has at most 200 characters")
    if len(set(password)) < 4:
        raise GridsysError("password_too_simple", "use a password with more different characters")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(session: Session, username: str, *, display_name: str | None = None,
                roles: list[str] | tuple[str, ...] = (), phone: str | None = None,
                password: str | None = None, password_hash: str | None = None,
                must_change_password: bool | None = None) -> tuple[User, str | None]:
    """Create an account. Without a password one is generated, returned once, and must be
    changed at first login. Returns (user, generated password or None)."""
    username = (username or "").strip().lower()
    if not USERNAME_RE.match(username):
        raise GridsysError("username_invalid", "a username is 2-40 characters: lower-case letters, digits, "
                                               "dot, dash or underscore, starting with a letter or digit")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("username_taken", f"the username {username} is already taken", username=username)
    display_name = (display_name or username).strip()
    if not display_name or len(display_name) > 60:
        raise GridsysError("display_name_invalid", "a display name is 1 to 60 characters")
    phone = check_phone(phone)
    roles = check_roles(roles)
    generated = None
    if password_hash is None:
        if password is None:
            generated = password = generate_password()
        check_password_strength(password)
        password_hash = hash_password(password)
    user = User(username=username, display_name=display_name, phone=phone, password_hash=password_hash,
                must_change_password=(generated is not None) if must_change_password is None
                else must_change_password)
    user.role_rows = [UserRole(role=r) for r in roles]
    session.add(user)
    session.flush()
    return user, generated


def check_phone(phone):
    if phone in (None, ""):
        return None
    if not isinstance(phone, str) or not PHONE_RE.match(phone.strip()):
        raise GridsysError("phone_invalid", "a phone number is 5 to 20 digits (spaces, dashes, a leading +)")
    return phone.strip()


def set_phone(session: Session, user: User, phone, *, public: bool) -> None:
    """A person's number, and whether their grid's public notice (网格公示) shows it: only with
    their agreement (``public``), and only a number they have."""
    user.phone = check_phone(phone)
    if public and user.phone is None:
        raise GridsysError("phone_missing", "give the phone number that the grid's public notice shows")
    user.phone_public = bool(public)
    session.flush()


def check_roles(roles) -> list[str]:
    roles = [r.strip() for r in roles if r and r.strip()]
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise GridsysError("role_unknown", f"unknown role {unknown[0]!r}: roles are {', '.join(ROLES)}",
                           role=unknown[0])
    return sorted(set(roles))


def set_roles(session: Session, user: User, roles) -> None:
    roles = check_roles(roles)
    user.role_rows = [r for r in user.role_rows if r.role in roles] + \
        [UserRole(role=r) for r in roles if r not in user.roles]
    session.flush()


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == (username or "").strip().lower()))
    if user is None:
        raise NotFound("user_not_found", f"no account named {username!r}", username=username)
    return user


def set_password(session: Session, user: User, password: str, *, must_change: bool = False) -> None:
    """A new password ends the person's other browser sessions and revokes their API tokens (a
    token made before a reset must not work again once the person picks a new password)."""
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    _end_sessions_and_tokens(session, user)
    session.flush()


def _end_sessions_and_tokens(session: Session, user: User) -> None:
    user.session_version += 1
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))):
        token.revoked_at = now()


def change_own_password(session: Session, user: User, current: str, new: str) -> None:
    if not check_password_hash(user.password_hash, current or ""):
        raise GridsysError("password_wrong", "the current password is not right")
    if new == current:
        raise GridsysError("password_unchanged", "choose a new password that differs from the current one")
    set_password(session, user, new)


def set_active(session: Session, user: User, active: bool) -> None:
    user.active = active
    if not active:
        _end_sessions_and_tokens(session, user)
    session.flush()


# --- logins --------------------------------------------------------------------

def authenticate(session: Session, username: str, password: str, address: str) -> User:
    """Check a login; refuses while the account or the address is rate-limited.
    A failure is recorded in the same transaction: the caller commits either way."""
    username = (username or "").strip().lower()[:80]
    address = (address or "unknown")[:64]
    # Attempts on one account, and from one address, are counted one at a time (until the caller
    # commits): 30 parallel guesses get exactly the allowed number of checks, not a few more.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('login:' || :u)), "
                         "pg_advisory_xact_lock(hashtext('login@' || :a))"), {"u": username, "a": address})
    since = now() - LOCK_WINDOW
    recent = select(LoginFailure.at).where(LoginFailure.at > since)
    limits = ((recent.where(LoginFailure.username == username, LoginFailure.address == address),
               MAX_FAILURES_PER_ACCOUNT),
              (recent.where(LoginFailure.username == username), MAX_FAILURES_PER_ACCOUNT_ANYWHERE),
              (recent.where(LoginFailure.address == address), MAX_FAILURES_PER_ADDRESS))
    for failures, limit in limits:
        count, oldest = session.execute(select(func.count(), func.min(failures.subquery().c.at))).one()
        if count >= limit:
            wait = max(int((oldest + LOCK_WINDOW - now()).total_seconds()) + 1, 1)
            raise GridsysError("login_locked", "too many failed logins: wait 15 minutes and try again",
                               status=429, retry_after=wait)
    user = session.scalar(select(User).where(User.username == username))
    ok = user is not None and check_password_hash(user.password_hash, password or "")
    if not ok:
        if user is None:  # same work as a real check, so timing does not reveal usernames
            check_password_hash(_DUMMY_HASH, password or "")
        session.add(LoginFailure(username=username, address=address))
        session.flush()
        raise GridsysError("login_failed", "wrong username or password", status=401)
    if not user.active:
        raise GridsysError("account_inactive", "this account is deactivated: ask an administrator",
                           status=403)
    # The owner's success clears their failures from here, not a guesser's from elsewhere.
    session.execute(delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.address == address))
    user.last_login_at = now()
    session.flush()
    return user


_DUMMY_HASH = generate_password_hash("not-a-real-password", method=PASSWORD_METHOD)


# --- assignments -----------------------------------------------------------------

def _grid(session: Session, code: str) -> Grid:
    grid = session.scalar(select(Grid).where(Grid.code == code, Grid.retired_at.is_(None)))
    if grid is None:
        raise NotFound("grid_not_found", f"no grid with code {code}", zone_code=code)
    return grid


def assign_grid(session: Session, user: User, grid_code: str, duty: str, *, backup: bool = False,
                replace: bool = False) -> GridAssignment:
    """Put a worker on a grid for a duty. A second primary is refused unless ``replace``
    (the current primary's assignment then ends now, kept as history)."""
    if duty not in ASSIGNABLE_DUTIES:
        raise GridsysError("duty_unknown", f"duty must be one of {', '.join(ASSIGNABLE_DUTIES)}")
    if not user.active:
        raise GridsysError("account_inactive", f"{user.username} is deactivated", username=user.username)
    if "grid_worker" not in user.roles:
        raise GridsysError("role_missing", f"{user.username} is not a grid worker: add the role first",
                           username=user.username, role="grid_worker")
    grid = _grid(session, grid_code)
    current = session.scalars(select(GridAssignment).where(
        GridAssignment.grid_id == grid.id, GridAssignment.duty == duty,
        GridAssignment.valid_to.is_(None))).all()
    if any(a.user_id == user.id for a in current):
        raise Conflict("already_assigned", f"{user.username} already serves grid {grid.code} for {duty}",
                       username=user.username, grid_code=grid.code, duty=duty)
    primary = next((a for a in current if not a.backup), None)
    if not backup and primary is not None:
        if not replace:
            raise Conflict("duty_taken", f"grid {grid.code} already has {primary.user.username} as primary "
                                         f"{duty} worker: assign as backup, or replace",
                           grid_code=grid.code, holder=primary.user.username, duty=duty)
        primary.valid_to = now()
        session.flush()
    assignment = GridAssignment(user_id=user.id, grid_id=grid.id, duty=duty, backup=backup)
    session.add(assignment)
    session.flush()
    return assignment


def set_area_leader(session: Session, user: User, area_code: str) -> AreaLeader:
    """Make ``user`` the area's responsible leader; the previous one's term ends now."""
    if "area_leader" not in user.roles:
        raise GridsysError("role_missing", f"{user.username} is not an area leader: add the role first",
                           username=user.username, role="area_leader")
    if not user.active:
        raise GridsysError("account_inactive", f"{user.username} is deactivated", username=user.username)
    area = session.scalar(select(Area).where(Area.code == area_code))
    if area is None:
        raise NotFound("area_not_found", f"no area with code {area_code}", zone_code=area_code)
    current = session.scalar(select(AreaLeader).where(AreaLeader.area_id == area.id,
                                                      AreaLeader.valid_to.is_(None)))
    if current is not None:
        if current.user_id == user.id:
            return current
        current.valid_to = now()
        session.flush()
    leader = AreaLeader(user_id=user.id, area_id=area.id)
    session.add(leader)
    session.flush()
    return leader


def add_town_admin(session: Session, user: User, town_code: str) -> TownAdmin:
    if "admin" not in user.roles:
        raise GridsysError("role_missing", f"{user.username} is not an administrator: add the role first",
                           username=user.username, role="admin")
    town = session.scalar(select(Town).where(Town.code == town_code))
    if town is None:
        raise NotFound("town_not_found", f"no town with code {town_code}", zone_code=town_code)
    current = session.scalar(select(TownAdmin).where(TownAdmin.town_id == town.id, TownAdmin.user_id == user.id,
                                                     TownAdmin.valid_to.is_(None)))
    if current is not None:
        return current
    admin = TownAdmin(user_id=user.id, town_id=town.id)
    session.add(admin)
    session.flush()
    return admin


ASSIGNMENT_KINDS = {"grid": GridAssignment, "area": AreaLeader, "town": TownAdmin}


def end_assignment(session: Session, kind: str, assignment_id: int):
    model = ASSIGNMENT_KINDS.get(kind)
    assignment = session.get(model, assignment_id) if model else None
    if assignment is None or assignment.valid_to is not None:
        raise NotFound("assignment_not_found", "no current assignment with that id")
    assignment.valid_to = now()
    session.flush()
    return assignment


def end_grid_assignments(session: Session, grid_ids, at: datetime) -> None:
    """A retired grid has nobody on it any more (its assignments end, their history stays)."""
    for assignment in session.scalars(select(GridAssignment).where(GridAssignment.grid_id.in_(list(grid_ids)),
                                                                   GridAssignment.valid_to.is_(None))):
        assignment.valid_to = at
    session.flush()


def current_duties(session: Session, user: User) -> list:
    """The user's current grid assignments as rows of (grid, duty, backup), by grid code and duty."""
    return list(session.execute(
        select(Grid.code.label("grid"), GridAssignment.duty, GridAssignment.backup)
        .join(Grid, Grid.id == GridAssignment.grid_id)
        .where(GridAssignment.user_id == user.id, GridAssignment.valid_to.is_(None), Grid.retired_at.is_(None))
        .order_by(Grid.code, GridAssignment.duty)))


# --- API tokens (browser sessions, keyed the same way: browser_sessions.py) ------------------

def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User, name: str = "api") -> tuple[ApiToken, str]:
    """Returns (row, the token itself): the token is shown once and stored only as a hash."""
    if not user.active:
        raise GridsysError("account_inactive", f"{user.username} is deactivated", username=user.username)
    name = (name or "api").strip()[:60] or "api"
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, prefix=token[:10], token_hash=token_digest(token))
    session.add(row)
    session.flush()
    return row, token


# The token's person, the roles' names and the token's use, in one round trip. Every API call runs
# this: one fixed SQL text read through the DBAPI cursor (db.first_row: SQLAlchemy's errors and
# handling of a lost connection kept), the person attached to the session as if loaded. As an ORM
# query it cost about 0.19 ms more than the round trip itself, most of the token's share of a
# report (bench/create_http.py, "token authentication"). Built from the mapping, so a column added
# to users is read here too (its values as the driver gives them: tests/people/test_tokens.py checks
# no column of users needs SQLAlchemy's conversion).
_USER_KEYS = tuple(User.__mapper__.get_property_by_column(column).key for column in User.__table__.columns)
_TOKEN_SQL = (
    "SELECT " + ", ".join(f'u."{column.name}"' for column in User.__table__.columns)
    + ", coalesce((SELECT array_agg(r.role) FROM user_roles r WHERE r.user_id = u.id), '{}'::varchar[]),"
      " t.id, t.last_used_at FROM api_tokens t JOIN users u ON u.id = t.user_id"
      " WHERE t.token_hash = %(digest)s AND t.revoked_at IS NULL")


def user_for_token(session: Session, token: str) -> User | None:
    row = db.first_row(session, _TOKEN_SQL, {"digest": token_digest(token)})
    if row is None:
        return None
    *values, role_names, token_id, last_used_at = row
    values = dict(zip(_USER_KEYS, values))
    if not values["active"]:    # as the database has it now, whatever this session loaded before
        return None
    user = _as_loaded(session, values, role_names)
    if last_used_at is None or last_used_at < now() - timedelta(minutes=5):
        session.get(ApiToken, token_id).last_used_at = now()  # coarse, so a busy integration does not write on every call
    return user


def _as_loaded(session: Session, values: dict, role_names: list[str]) -> User:
    """The person of ``values`` (one users row) in ``session``, as a query would have loaded it: the
    session's own copy when it has one (a query would not overwrite it either, only fill in the
    roles' names where nothing of the roles is loaded)."""
    known = session.identity_map.get(identity_key(User, values["id"]))
    if known is not None:
        if "role_rows" not in known.__dict__ and "role_names" not in known.__dict__:
            set_committed_value(known, "role_names", role_names)
        return known
    user = User.__mapper__.class_manager.new_instance()
    user.__dict__.update(values, role_names=role_names)
    make_transient_to_detached(user)    # what it holds counts as loaded, nothing as changed
    session.add(user)
    return user


def revoke_token(session: Session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id) if 0 < token_id <= INT4_MAX else None   # beyond the id column: none
    if row is None or row.revoked_at is not None:
        raise NotFound("token_not_found", "no active token with that id")
    row.revoked_at = now()
    session.flush()
    return row
