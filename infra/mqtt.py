"""A local Mosquitto broker for the MQTT ingest path: its files, its process, its users.

Everything lives under ``DATA_DIR/mqtt/``: ``mosquitto.conf``, ``passwd`` (one
PBKDF2-SHA512 line per user, the format ``mosquitto_passwd`` writes),
``acl`` (a vehicle writes only ``vehicles/<its VIN>/telemetry``; the bridge
user reads ``vehicles/+/telemetry``), ``bridge.secret`` (the bridge's
password, mode 0600), ``broker.json`` (the process we started) and
``mosquitto.log``. Anonymous clients are refused.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.errors import InfraError
from infra.node import tail_file
from infra.ports import ensure_port_free

BRIDGE_USER = "ingest-bridge"
"""Not a VIN (lower case, a hyphen), so no vehicle credential can take this name."""
TOPIC_PATTERN = "vehicles/+/telemetry"
PBKDF2_ITERATIONS = 101
"""What Debian's ``mosquitto_passwd`` 2.0 uses; the passwords are 256-bit random tokens."""


class MqttSettings(BaseSettings):
    """Settings of the local Mosquitto (env prefix ``INFRA_MQTT_``)."""

    model_config = SettingsConfigDict(env_prefix="INFRA_MQTT_", env_file=".env", extra="ignore")

    port: int = Field(default=1883, ge=1, le=65535)
    binary: str = "mosquitto"
    start_timeout_s: float = 15.0
    stop_timeout_s: float = 10.0
    # While the bridge is down its persistent session queues messages; the
    # default of 1000 would drop the rest. Inflight is what the bridge may hold
    # unacknowledged while Kafka acknowledges.
    max_queued_messages: int = 1_000_000
    max_inflight_messages: int = 1_000


@dataclass(frozen=True)
class MqttPaths:
    home: Path

    @classmethod
    def of(cls, data_dir: Path) -> MqttPaths:
        return cls(data_dir / "mqtt")

    @property
    def conf(self) -> Path:
        return self.home / "mosquitto.conf"

    @property
    def passwd(self) -> Path:
        return self.home / "passwd"

    @property
    def acl(self) -> Path:
        return self.home / "acl"

    @property
    def bridge_secret(self) -> Path:
        return self.home / "bridge.secret"

    @property
    def record(self) -> Path:
        return self.home / "broker.json"

    @property
    def log(self) -> Path:
        return self.home / "mosquitto.log"

    @property
    def store(self) -> Path:
        return self.home / "store"


@dataclass(frozen=True)
class MqttRecord:
    pid: int
    port: int
    started_at: float
    conf: str
    log: str

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> MqttRecord | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None


def password_hash(password: str, *, salt: bytes | None = None) -> str:
    """A Mosquitto 2.0 ``$7$`` password hash (PBKDF2-HMAC-SHA512, 12-byte salt)."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    b64 = base64.b64encode
    return f"$7${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def bridge_password(data_dir: Path) -> str:
    """The bridge user's password, created on first use."""
    paths = MqttPaths.of(data_dir)
    paths.home.mkdir(parents=True, exist_ok=True)
    if not paths.bridge_secret.exists():
        fd = os.open(paths.bridge_secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    return paths.bridge_secret.read_text().strip()


def render_acl(vins: list[str]) -> str:
    """The ACL file: pure, so tests read it."""
    lines = ["# written by infra/mqtt.py; edits are overwritten", ""]
    lines += [f"user {BRIDGE_USER}", f"topic read {TOPIC_PATTERN}", ""]
    for vin in sorted(vins):
        lines += [f"user {vin}", f"topic write vehicles/{vin}/telemetry", ""]
    return "\n".join(lines)


def render_conf(paths: MqttPaths, settings: MqttSettings) -> str:
    conf = [
        "# written by `python -m infra mqtt up`; edits are overwritten",
        f"user {getpass.getuser()}",
        f"listener {settings.port} 127.0.0.1",
        "allow_anonymous false",
        # A client's id is its user name: no car can take over the bridge's
        # persistent session (and the messages queued in it) by claiming its id.
        "use_username_as_clientid true",
        f"password_file {paths.passwd}",
        f"acl_file {paths.acl}",
        "persistence true",
        f"persistence_location {paths.store}/",
        "autosave_interval 30",
        "persistent_client_expiration 7d",
        f"max_queued_messages {settings.max_queued_messages}",
        f"max_inflight_messages {settings.max_inflight_messages}",
        "max_packet_size 262144",
        f"log_dest file {paths.log}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages true",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
    ]
    return "\n".join(conf) + "\n"


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _vehicle_lines(paths: MqttPaths) -> dict[str, str]:
    try:
        lines = paths.passwd.read_text().splitlines()
    except FileNotFoundError:
        return {}
    users = dict(line.split(":", 1) for line in lines if ":" in line)
    users.pop(BRIDGE_USER, None)
    return users


def _write_auth(data_dir: Path, vehicles: dict[str, str]) -> None:
    paths = MqttPaths.of(data_dir)
    bridge = password_hash(bridge_password(data_dir))
    users = {BRIDGE_USER: bridge, **vehicles}
    _write_private(paths.passwd, "".join(f"{u}:{h}\n" for u, h in users.items()))
    _write_private(paths.acl, render_acl(list(vehicles)))


def write_vehicle_users(data_dir: Path, vehicles: dict[str, str]) -> bool:
    """Replace the vehicle users (VIN -> password hash); reload a running broker.

    Returns whether a broker of ours was running and told to reload.
    """
    _write_auth(data_dir, vehicles)
    return reload(data_dir)


def load(data_dir: Path) -> MqttRecord | None:
    return MqttRecord.read(MqttPaths.of(data_dir).record)


def is_ours(record: MqttRecord) -> bool:
    """Whether ``record.pid`` is still the Mosquitto we started (not a reused pid)."""
    try:
        proc = psutil.Process(record.pid)
        if abs(proc.create_time() - record.started_at) > 1.0:
            return False
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return record.conf in cmdline


def running(data_dir: Path) -> MqttRecord | None:
    record = load(data_dir)
    return record if record is not None and is_ours(record) else None


def reload(data_dir: Path) -> bool:
    """SIGHUP our Mosquitto: it rereads the password and ACL files."""
    record = running(data_dir)
    if record is None:
        return False
    os.kill(record.pid, signal.SIGHUP)
    return True


def find_binary(settings: MqttSettings) -> str:
    found = shutil.which(settings.binary) or shutil.which(settings.binary, path="/usr/sbin:/sbin")
    if found is None:
        raise InfraError(
            f"{settings.binary} is not installed (Debian's mosquitto package)",
            "install it with `apt-get install -y mosquitto` (or run scripts/system-deps.sh)",
        )
    return found


def up(data_dir: Path, settings: MqttSettings | None = None) -> tuple[MqttRecord, bool]:
    """Start Mosquitto unless ours is running; returns its record and whether it was started."""
    settings = settings or MqttSettings()
    paths = MqttPaths.of(data_dir)
    record = running(data_dir)
    if record is not None:
        return record, False
    binary = find_binary(settings)
    _check_port_free(settings.port)
    paths.store.mkdir(parents=True, exist_ok=True)
    paths.conf.write_text(render_conf(paths, settings))
    _write_auth(data_dir, _vehicle_lines(paths))
    with paths.log.open("ab") as out:
        proc = subprocess.Popen(
            [binary, "-c", str(paths.conf)], stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=paths.home,
        )  # fmt: skip
    record = MqttRecord(
        pid=proc.pid,
        port=settings.port,
        started_at=psutil.Process(proc.pid).create_time(),
        conf=str(paths.conf),
        log=str(paths.log),
    )
    record.write(paths.record)
    _wait_listening(proc, record, settings.start_timeout_s)
    return record, True


def _check_port_free(port: int) -> None:
    ensure_port_free(
        port,
        "stop what holds it (Debian's own mosquitto service: `sudo systemctl disable "
        "--now mosquitto`), or choose another port with INFRA_MQTT_PORT=N",
    )


def _wait_listening(proc: subprocess.Popen[bytes], record: MqttRecord, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise InfraError(
                f"mosquitto exited during start-up (exit code {proc.returncode})",
                f"read {record.log}, fix the cause and run `python -m infra mqtt up` again",
                details=tail_file(Path(record.log)),
            )
        try:
            with socket.create_connection(("127.0.0.1", record.port), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            _stop(record, 5)
            raise InfraError(
                f"mosquitto did not listen on 127.0.0.1:{record.port} within {timeout:.0f}s",
                f"read {record.log}, or raise INFRA_MQTT_START_TIMEOUT_S on a slow machine",
                details=tail_file(Path(record.log)),
            )
        time.sleep(0.05)


def _stop(record: MqttRecord, timeout: float) -> None:
    proc = psutil.Process(record.pid)
    proc.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs([proc], timeout=timeout)
    for p in alive:
        p.kill()
    psutil.wait_procs(alive, timeout=5)
    try:  # when this process started it (tests do), collect the zombie
        os.waitpid(record.pid, os.WNOHANG)
    except ChildProcessError:
        pass


def down(data_dir: Path, settings: MqttSettings | None = None) -> int | None:
    """Stop the Mosquitto `up` recorded, and only that one; returns its pid if it ran."""
    settings = settings or MqttSettings()
    record = running(data_dir)
    if record is None:
        return None
    _stop(record, settings.stop_timeout_s)
    return record.pid


def status(data_dir: Path) -> dict[str, object]:
    record = running(data_dir)
    paths = MqttPaths.of(data_dir)
    return {
        "running": record is not None,
        "pid": record.pid if record else None,
        "address": f"127.0.0.1:{record.port}" if record else None,
        "vehicle_users": len(_vehicle_lines(paths)),
        "log": str(paths.log),
    }
