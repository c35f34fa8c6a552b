"""Per-vehicle credentials: random tokens, stored only as hashes, in one SQLite file.

A token is 32 random bytes (URL-safe base64). The store keeps its SHA-256 for
HTTP look-ups (a token this long needs no slow hash: there is nothing to
guess) and a Mosquitto PBKDF2-SHA512 hash for the MQTT password file. Issuing
a credential for a VIN that has one rotates it: the old token is revoked, so
it is answered 403 rather than 401. The plaintext token exists only in the
output of `issue`; nothing here logs it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from fleet.errors import FleetError
from fleet.vin import is_vin
from infra import mqtt

_SCHEMA = """
CREATE TABLE IF NOT EXISTS credentials (
    token_sha256 TEXT PRIMARY KEY,
    vin TEXT NOT NULL,
    mqtt_hash TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS credentials_vin ON credentials (vin);
"""


class CredentialError(FleetError):
    """A credential command that cannot be carried out (bad VIN, nothing to revoke)."""


class AuthStatus(Enum):
    OK = "ok"
    MISSING = "missing_credential"
    UNKNOWN = "unknown_credential"
    REVOKED = "revoked_credential"


@dataclass(frozen=True)
class AuthResult:
    status: AuthStatus
    vin: str | None = None


@dataclass(frozen=True)
class CredentialInfo:
    vin: str
    issued_at: str
    revoked_at: str | None
    fingerprint: str
    """The first 8 hex digits of the token's hash: tells credentials apart, reveals nothing."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class CredentialStore:
    """The credential table; safe to share between threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.executescript(_SCHEMA)
        path.chmod(0o600)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A short-lived connection per call: the CLI writes from another process
        # and a revocation must be seen by the next request.
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            yield db

    def issue(self, vin: str) -> str:
        """A new token for ``vin``; any earlier one for the VIN is revoked."""
        if not is_vin(vin):
            raise CredentialError(f"not a VIN: {vin!r} (17 characters, no I, O or Q)")
        token = new_token()
        now = _now()
        with self._lock, self._connect() as db:
            db.execute(
                "UPDATE credentials SET revoked_at = ? WHERE vin = ? AND revoked_at IS NULL",
                (now, vin),
            )
            db.execute(
                "INSERT INTO credentials VALUES (?, ?, ?, ?, NULL)",
                (token_digest(token), vin, mqtt.password_hash(token), now),
            )
        return token

    def revoke(self, vin: str) -> int:
        """Revoke every live credential of ``vin``; returns how many there were."""
        with self._lock, self._connect() as db:
            cur = db.execute(
                "UPDATE credentials SET revoked_at = ? WHERE vin = ? AND revoked_at IS NULL",
                (_now(), vin),
            )
        if cur.rowcount == 0:
            raise CredentialError(f"{vin} has no live credential to revoke")
        return cur.rowcount

    def authenticate(self, token: str | None) -> AuthResult:
        if not token:
            return AuthResult(AuthStatus.MISSING)
        digest = token_digest(token)
        with self._connect() as db:
            row = db.execute(
                "SELECT token_sha256, vin, revoked_at FROM credentials WHERE token_sha256 = ?",
                (digest,),
            ).fetchone()
        if row is None or not hmac.compare_digest(row[0], digest):
            return AuthResult(AuthStatus.UNKNOWN)
        if row[2] is not None:
            return AuthResult(AuthStatus.REVOKED, row[1])
        return AuthResult(AuthStatus.OK, row[1])

    def list(self) -> list[CredentialInfo]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT vin, issued_at, revoked_at, token_sha256 FROM credentials "
                "ORDER BY vin, issued_at"
            ).fetchall()
        return [CredentialInfo(r[0], r[1], r[2], r[3][:8]) for r in rows]

    def mqtt_users(self) -> dict[str, str]:
        """VIN -> Mosquitto password hash, for every live credential."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT vin, mqtt_hash FROM credentials WHERE revoked_at IS NULL"
            ).fetchall()
        return dict(rows)


def sync_mosquitto(store: CredentialStore, data_dir: Path) -> bool:
    """Write the live credentials into Mosquitto's password and ACL files.

    Returns whether a running Mosquitto of ours was told to reload them.
    """
    return mqtt.write_vehicle_users(data_dir, store.mqtt_users())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
