"""A throwaway PostgreSQL server for the tests, from Debian's own binaries.

`PostgresServer.start` runs ``initdb`` on a fresh temporary data directory and
starts ``postgres`` as a child process listening on 127.0.0.1 on a free port
(its unix socket in the same temporary directory), with durability switched
off since nothing in it outlives the session. `stop` shuts it down and deletes
the directory. Each test gets a store of its own (`new_store_url`: a schema in
the session's database), so tests never see one another's rows.

PostgreSQL refuses to run as root: as root the server runs as the ``postgres``
system user that Debian's package creates (``nobody`` if there is none), in a
directory that user owns. ``FLEET_TEST_POSTGRES_URL`` (a ``postgresql+psycopg://``
URL of a role allowed to create databases) uses an existing server instead.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

BIN_GLOB = "/usr/lib/postgresql/*/bin"
SUPERUSER = "fleet"
NEXT_STEP = "run `make setup` (scripts/system-deps.sh installs Debian's `postgresql`)"
EXTERNAL_ENV = "FLEET_TEST_POSTGRES_URL"
SERVER_TIMEZONE = "America/New_York"
# Test databases sort text as a typical production database does (ICU, en-US: punctuation
# and case matter less than letters), not byte-wise as SQLite does, so an ORDER BY that
# depends on the collation shows up as a difference between the two backends.
DATABASE_OPTIONS = (
    "TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
)
# Ports the platform's own services use (DESIGN.md, common ground rules): never take them.
_RESERVED_PORTS = {1883, 5432, 8000, 8001, 8003, 9092, 9093, 9094}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL could be had; the message says why and what to do."""


def find_bin_dir() -> Path:
    """The newest installed server's ``bin`` directory."""
    found = [Path(d) for d in glob.glob(BIN_GLOB) if (Path(d) / "initdb").is_file()]
    if not found:
        raise PostgresUnavailable(
            f"PostgreSQL server binaries not found ({BIN_GLOB}/initdb); {NEXT_STEP}"
        )

    def version(d: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", d.parent.name)) or (0,)

    return max(found, key=version)


def _free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _RESERVED_PORTS:
            return port


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as, None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable(
        "running as root, and PostgreSQL refuses to: no `postgres` or `nobody` account to run "
        f"it as; run the tests as an ordinary user, or set {EXTERNAL_ENV}"
    )


@dataclass
class PostgresServer:
    """A running server and the admin URL (database ``postgres``) to reach it."""

    admin_url: str
    root: Path | None = None  # the temporary directory we own, None for an external server
    process: subprocess.Popen[bytes] | None = None
    databases: list[str] = field(default_factory=list)

    @classmethod
    def external(cls, url: str) -> PostgresServer:
        server = cls(admin_url=url)
        try:
            with server._admin() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise PostgresUnavailable(f"{EXTERNAL_ENV}={url} did not answer: {exc}") from None
        return server

    @classmethod
    def start(cls, *, timeout_s: float = 60.0) -> PostgresServer:
        """initdb, then start ``postgres`` on a free port; raises `PostgresUnavailable`."""
        bin_dir = find_bin_dir()
        user = _server_user()
        root = Path(tempfile.mkdtemp(prefix="fleet-pg-"))
        data, sock, log = root / "data", root / "sock", root / "postgres.log"
        sock.mkdir()
        if user is not None:
            for path in (root, sock):
                os.chown(path, user.pw_uid, user.pw_gid)
        uid, gid = (user.pw_uid, user.pw_gid) if user else (None, None)
        groups: list[int] | None = [] if user else None
        env = {**os.environ, "LC_ALL": "C.UTF-8"}
        init = subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
             "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
            capture_output=True, text=True, env=env, cwd=root, user=uid, group=gid,
            extra_groups=groups,
        )  # fmt: skip
        if init.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            raise PostgresUnavailable(
                f"initdb failed ({init.returncode}): {init.stderr.strip()[-2000:]}; {NEXT_STEP}"
            )
        port = _free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(sock),
            # A test server: nothing in it has to survive a crash.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "100",
            "shared_buffers": "32MB",
            # Not UTC, on purpose: the store must hand back UTC whatever the server's zone.
            "timezone": SERVER_TIMEZONE,
        }
        args = [str(bin_dir / "postgres"), "-D", str(data)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        with log.open("wb") as out:
            if user is not None:
                os.chown(log, user.pw_uid, user.pw_gid)
            process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root, user=uid,
                group=gid, extra_groups=groups,
            )  # fmt: skip
        server = cls(
            admin_url=f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/postgres",
            root=root,
            process=process,
        )
        server._wait_ready(timeout_s, log)
        return server

    def _wait_ready(self, timeout_s: float, log: Path) -> None:
        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                break
            try:
                with self._admin() as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                last = exc
                time.sleep(0.1)
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        self.stop()
        raise PostgresUnavailable(
            f"PostgreSQL did not accept connections within {timeout_s:.0f} s "
            f"(last error: {last}); its log:\n{tail}"
        )

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return self._connect(make_url(self.admin_url).database or "postgres")

    def _session_database(self) -> str:
        """The database this session's tests share (each in its own schema), made once."""
        if not self.databases:
            name = f"fleet_test_{uuid.uuid4().hex[:12]}"
            with self._admin() as conn:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} " + DATABASE_OPTIONS).format(sql.Identifier(name))
                )
            self.databases.append(name)
        return self.databases[0]

    def _connect(self, database: str) -> psycopg.Connection[tuple[object, ...]]:
        url = make_url(self.admin_url)
        return psycopg.connect(
            host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username,
            password=url.password, dbname=database, autocommit=True, connect_timeout=5,
        )  # fmt: skip

    def new_store_url(self) -> str:
        """The URL of a new, empty store: a schema of its own, first on the search path.

        A schema costs milliseconds where a database costs most of a second.
        """
        database = self._session_database()
        schema = f"t_{uuid.uuid4().hex[:16]}"
        with self._connect(database) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        url = make_url(self.admin_url).set(
            database=database, query={"options": f"-csearch_path={schema}"}
        )
        return url.render_as_string(hide_password=False)

    def drop_store_url(self, url: str) -> None:
        """Drop the schema `new_store_url` made, with everything in it."""
        parsed = make_url(url)
        options = str(parsed.query.get("options", ""))
        if parsed.database not in self.databases or not options.startswith("-csearch_path=t_"):
            raise ValueError(f"not a store of this server's tests: {url}")
        schema = options.removeprefix("-csearch_path=")
        with self._connect(parsed.database) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))

    def terminate_sessions(self) -> int:
        """End every client session of the test database (as a restart or failover would)."""
        with self._admin() as conn:
            cur = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
                (self.databases,),
            )
            row = cur.fetchone()
        return int(str(row[0])) if row else 0

    def stop(self) -> None:
        """Stop the server we started and delete its directory; on an external server, drop
        the databases we made."""
        if self.process is not None and self.process.poll() is None:
            # SIGINT is a fast shutdown: it disconnects any session a test left open.
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        elif self.databases:  # an external server: leave it as we found it
            with self._admin() as conn:
                for name in self.databases:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )
        self.databases.clear()


def start_for_tests() -> PostgresServer:
    """The external server ``FLEET_TEST_POSTGRES_URL`` names, else one started here."""
    external = os.environ.get(EXTERNAL_ENV)
    if external:
        return PostgresServer.external(external)
    return PostgresServer.start()
