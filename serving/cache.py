"""Encoded responses kept per SQLite connection while the database is provably unchanged.

A read-only request whose answer depends on nothing but the store (``GET /alerts``) can be
served from the bytes of an earlier identical request as long as nothing was written since.
SQLite tells each connection so, for one cheap statement:

- ``PRAGMA data_version`` changes when any *other* connection, in this process or another,
  has committed since this connection last asked (the hot path's writes, a batch publish);
- ``sqlite3.Connection.total_changes`` counts the rows this connection itself inserted,
  updated or deleted (serving never writes, but a pool shared with a writer may);
- ``PRAGMA schema_version`` changes with any schema change, this connection's included.

The three together are the connection's *stamp*, read before the answer is computed: an
entry made under a stamp was computed from the state at or after that stamp's reading, and
while the stamp is the same nothing has been committed since, so it is still the answer.
The first request after any write sees a new stamp and drops the connection's entries.

The cache lives in the pooled connection's ``info`` (one thread at a time holds it, so no
lock), bound by entries and bytes, least recently used out first. Other databases
(PostgreSQL) have no such cheap per-connection signal: there nothing is cached.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Hashable

from sqlalchemy import Connection

MAX_ENTRIES = 256
"""Pages kept per connection: hostile parameter variety evicts, never grows memory."""
MAX_BYTES = 8 * 1024 * 1024
"""Encoded bytes kept per connection (a default page of 50 alerts is about 15 KB, the largest
allowed page ten times that)."""

_INFO_KEY = "serving.response_cache"
_STAMP_SQL = "SELECT * FROM pragma_data_version(), pragma_schema_version()"

Stamp = tuple[int, int, int]


class ResponseCache:
    """Least-recently-used encoded bodies of one SQLite connection, valid for one stamp."""

    def __init__(
        self, owner: object, *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES
    ) -> None:
        self.owner = owner  # the DBAPI connection the stamps come from
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.stamp: Stamp | None = None
        self.size = 0
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def validate(self, stamp: Stamp) -> None:
        """Drop every entry unless ``stamp`` is the one they were made under."""
        if stamp != self.stamp:
            self._entries.clear()
            self.size = 0
            self.stamp = stamp

    def get(self, key: Hashable) -> bytes | None:
        body = self._entries.get(key)
        if body is not None:
            self._entries.move_to_end(key)
        return body

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.size -= len(old)
        self._entries[key] = body
        self.size += len(body)
        while len(self._entries) > self.max_entries or self.size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.size -= len(evicted)


def _sqlite(conn: Connection) -> sqlite3.Connection | None:
    if conn.dialect.name != "sqlite":
        return None
    dbapi = conn.connection.dbapi_connection
    return dbapi if isinstance(dbapi, sqlite3.Connection) else None


def stamp(conn: Connection, dbapi: sqlite3.Connection) -> Stamp:
    """What changes whenever anything is committed to the database ``conn`` reads (through
    SQLAlchemy: a store that does not answer raises its `OperationalError`, a 503)."""
    data_version, schema_version = conn.exec_driver_sql(_STAMP_SQL).one()
    return int(data_version), int(schema_version), dbapi.total_changes


def connection_cache(conn: Connection) -> ResponseCache | None:
    """The cache of the connection ``conn`` holds, if any was made (for tests and metrics)."""
    cache = conn.info.get(_INFO_KEY)
    return cache if isinstance(cache, ResponseCache) else None


def cached(conn: Connection, key: Hashable, build: Callable[[], bytes]) -> bytes:
    """``build()``'s bytes, or those an earlier call with the same ``key`` made on this
    connection if the database has not changed since; ``build`` runs on ``conn`` and must
    depend on nothing but the database and ``key``. Not SQLite (sqlite3): always ``build()``.
    """
    dbapi = _sqlite(conn)
    if dbapi is None:
        return build()
    cache = connection_cache(conn)
    if cache is None or cache.owner is not dbapi:
        # New, or the pool replaced the connection under this record: a fresh connection's
        # stamp says nothing about what the old one's entries were computed from.
        cache = conn.info[_INFO_KEY] = ResponseCache(dbapi)
    cache.validate(stamp(conn, dbapi))  # before build: it may see later commits, never earlier
    body = cache.get(key)
    if body is None:
        body = build()
        cache.put(key, body)
    return body
