"""Per-vehicle credentials: hashed at rest, revocable, mirrored into Mosquitto's files."""

from __future__ import annotations

import base64
import hashlib

import pytest

from infra import mqtt
from ingest.credentials import AuthStatus, CredentialError, CredentialStore, sync_mosquitto
from tests.unit.ingest.builders import new_vin


@pytest.fixture
def store(tmp_path):
    return CredentialStore(tmp_path / "ingest" / "credentials.sqlite3")


def test_an_issued_token_authenticates_as_its_vin(store):
    vin = new_vin()
    token = store.issue(vin)
    result = store.authenticate(token)
    assert result.status is AuthStatus.OK and result.vin == vin


def test_missing_and_unknown_tokens_are_told_apart(store):
    store.issue(new_vin())
    assert store.authenticate(None).status is AuthStatus.MISSING
    assert store.authenticate("").status is AuthStatus.MISSING
    assert store.authenticate("not-a-token").status is AuthStatus.UNKNOWN


def test_revoked_and_rotated_tokens_are_revoked_not_unknown(store):
    vin = new_vin()
    first = store.issue(vin)
    second = store.issue(vin)
    assert store.authenticate(first).status is AuthStatus.REVOKED
    assert store.authenticate(second).status is AuthStatus.OK
    assert store.revoke(vin) == 1
    assert store.authenticate(second).status is AuthStatus.REVOKED
    with pytest.raises(CredentialError):
        store.revoke(vin)


def test_tokens_are_never_stored_in_plain_text(store):
    token = store.issue(new_vin())
    raw = store.path.read_bytes()
    assert token.encode() not in raw
    assert hashlib.sha256(token.encode()).hexdigest().encode() in raw
    assert store.path.stat().st_mode & 0o077 == 0


def test_a_malformed_vin_gets_no_credential(store):
    with pytest.raises(CredentialError, match="not a VIN"):
        store.issue("1HGCM82633A00435O")


def test_the_mqtt_hash_is_what_mosquitto_checks(store):
    vin = new_vin()
    token = store.issue(vin)
    kind, iterations, salt, digest = store.mqtt_users()[vin].split("$")[1:]
    expected = hashlib.pbkdf2_hmac("sha512", token.encode(), base64.b64decode(salt), 101)
    assert (kind, iterations) == ("7", "101")
    assert base64.b64decode(digest) == expected


def test_sync_writes_live_vehicles_into_passwd_and_acl(store, tmp_path):
    alive, gone = new_vin(), new_vin()
    store.issue(alive)
    store.issue(gone)
    store.revoke(gone)
    assert sync_mosquitto(store, tmp_path) is False  # no broker of ours is running
    paths = mqtt.MqttPaths.of(tmp_path)
    users = [line.split(":")[0] for line in paths.passwd.read_text().splitlines()]
    assert sorted(users) == sorted([mqtt.BRIDGE_USER, alive])
    acl = paths.acl.read_text()
    assert f"user {alive}\ntopic write vehicles/{alive}/telemetry" in acl
    assert gone not in acl
    assert paths.passwd.stat().st_mode & 0o077 == 0
