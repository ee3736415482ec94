"""What stands between an anonymous page and the database: per-address and per-device limits, and
a proof of work, with no third party (no captcha service). Flush, never commit.

Limits: every accepted report (and every recovery of a tracking link) leaves a row in
``resident_attempts`` under each of its subjects, an HMAC of the address or the device id (never
the address itself); ``hold`` counts the last hour's rows under an advisory lock per subject, held
until the request commits, so parallel requests from one phone cannot all slip under the limit.

Proof: the page carries ``challenge`` = ``<unix time>.<nonce>.<HMAC of both>``; the phone finds a
``counter`` such that SHA-256(challenge + counter) starts with ``bits`` zero bits; the server
checks the signature, the age (at most an hour), the work, and spends the challenge once
(``proofs_spent``, keyed by the challenge's SHA-256).
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from ..clock import now
from ..errors import GridsysError
from .models import ProofSpent, ResidentAttempt

WINDOW = timedelta(hours=1)        # the limits count this far back
PROOF_MAX_AGE = timedelta(hours=1)
CLOCK_SLACK = timedelta(minutes=2)  # a challenge a little from the future (several app servers' clocks)
KEPT = timedelta(days=1)           # attempts and spent proofs older than this are forgotten
CHALLENGE = re.compile(r"^([0-9]{10})\.([0-9a-f]{12})\.([0-9a-f]{32})$")
COUNTER = re.compile(r"^[0-9]{1,12}$")


def _mac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def subject(secret: str, kind: str, value: str) -> str:
    """What a limit counts under: ``kind`` (addr, dev, recover-addr, …) and an HMAC of the value,
    so the table never holds an address or a device id, and neither can be guessed back."""
    return f"{kind}:{_mac(secret, f'limit:{kind}:{value}')[:40]}"


# --- the proof of work ------------------------------------------------------------------------

def new_challenge(secret: str, at: datetime | None = None) -> str:
    stamp = f"{int((at or now()).timestamp()):010d}.{secrets.token_hex(6)}"
    return f"{stamp}.{_mac(secret, f'proof:{stamp}')[:32]}"


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte:
            return bits + 8 - byte.bit_length()
        bits += 8
    return bits


def work(challenge: str, counter: str) -> bytes:
    return hashlib.sha256(f"{challenge}{counter}".encode()).digest()


def solve(challenge: str, bits: int) -> str:
    """The counter the page's script finds (static/resident.js), for tests and other clients."""
    for counter in itertools.count():
        if leading_zero_bits(work(challenge, str(counter))) >= bits:
            return str(counter)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Proof:
    challenge: str
    counter: str

    @property
    def digest(self) -> str:
        """The key under which the challenge is spent."""
        return hashlib.sha256(self.challenge.encode()).hexdigest()


def check_proof(secret: str, challenge, counter, *, bits: int, at: datetime | None = None) -> Proof:
    """The proof a form carries, checked without the database: 400 ``proof_missing`` when there is
    none, ``proof_invalid`` when it is forged or the work not done, ``proof_expired`` when too old."""
    if not challenge or not counter:
        raise GridsysError("proof_missing", "the page's check was not done: send the form from the page, "
                                            "with JavaScript on", status=400)
    if not isinstance(challenge, str) or not isinstance(counter, str):
        raise GridsysError("proof_invalid", "the page's check is not valid", status=400)
    match = CHALLENGE.match(challenge)
    if match is None or not COUNTER.match(counter):
        raise GridsysError("proof_invalid", "the page's check is not valid", status=400)
    stamp, _nonce, signature = match.groups()
    if not hmac.compare_digest(signature, _mac(secret, f"proof:{challenge.rsplit('.', 1)[0]}")[:32]):
        raise GridsysError("proof_invalid", "the page's check is not valid", status=400)
    at = at or now()
    issued = datetime.fromtimestamp(int(stamp), tz=at.tzinfo)
    if issued > at + CLOCK_SLACK or at - issued > PROOF_MAX_AGE:
        raise GridsysError("proof_expired", "the page was open too long: reload it and send again", status=400)
    if leading_zero_bits(work(challenge, counter)) < bits:
        raise GridsysError("proof_invalid", "the page's check is not valid", status=400)
    return Proof(challenge, counter)


def spend(session: Session, proof: Proof, at: datetime | None = None) -> None:
    """Use the challenge up; a second use (a replay, or two requests racing with it) is refused."""
    spent = session.scalar(insert(ProofSpent).values(digest=proof.digest, at=at or now())
                           .on_conflict_do_nothing(index_elements=["digest"]).returning(ProofSpent.digest))
    if spent is None:
        raise GridsysError("proof_reused", "this page's check was used already: reload the page and send again",
                           status=400)


# --- the limits ---------------------------------------------------------------------------------

def hold(session: Session, subjects: list[str], code: str, *, limit: int, at: datetime | None = None) -> None:
    """Refuse (429 ``code``, with ``retry_after`` seconds) when a subject already has ``limit``
    attempts within the hour. The subjects stay locked until the transaction ends, so the attempt
    the caller then records is counted by the next request, however parallel."""
    at = at or now()
    for name in sorted(set(subjects)):   # one order everywhere: two requests never wait on each other
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('resident:' || :s))"), {"s": name})
    for name in subjects:
        count, oldest = session.execute(select(func.count(), func.min(ResidentAttempt.at))
                                        .where(ResidentAttempt.subject == name,
                                               ResidentAttempt.at > at - WINDOW)).one()
        if count >= limit:
            wait = max(int((oldest + WINDOW - at).total_seconds()) + 1, 1)
            raise GridsysError(code, f"at most {limit} an hour from one phone or network: try again later",
                               status=429, retry_after=wait, minutes=(wait + 59) // 60)


def count(session: Session, subjects: list[str], at: datetime | None = None) -> None:
    at = at or now()
    session.add_all(ResidentAttempt(subject=name, at=at) for name in sorted(set(subjects)))
    session.flush()


def forget(session: Session, at: datetime | None = None) -> None:
    """Attempts and spent proofs past any use (the limits look back an hour, a challenge lives an hour)."""
    cutoff = (at or now()) - KEPT
    session.execute(delete(ResidentAttempt).where(ResidentAttempt.at < cutoff))
    session.execute(delete(ProofSpent).where(ProofSpent.at < cutoff))
