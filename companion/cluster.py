"""Several PCs, one database: which companion leads, and locks that every companion respects.

A company with several back-office PCs points each PC's companion at one PostgreSQL database.
What must happen once — the ReCORE task poll, the outbox delivery, the sync scheduler and the syncs
themselves with the store session they use — runs on ONE companion, the leader:

- PostgreSQL: the leader holds a session advisory lock on a connection of its own. If its process
  ends, however it ends (a SIGKILL, a power cut that the server notices through TCP keepalives),
  the server releases the lock, and another companion takes it at its next heartbeat (every
  `HEARTBEAT_SECONDS`). A leader whose connection fails steps down at once.
- SQLite: one PC works the file (a file on a network share is refused), so its companion leads.

Every companion registers itself (`CompanionProcess`: host, pid) and, on PostgreSQL, holds a
member lock keyed by its row id on that same connection: whether a companion is alive is asked of
the server (`pg_locks`), never guessed from a timestamp. Jobs name the companion that runs them
(`Job.owner`); the leader adopts the jobs of a companion that is gone.

Companions tell each other things with PostgreSQL's NOTIFY (a settings change, a job queued for the
leader, a message in the outbox): wake-ups only, each backed by the leader's own timers.

`mutex(db, name)` is a lock across every companion on the database (an advisory lock held on a
pooled connection), for work that any PC may start: a sync, an outbox pass, a task poll, a batch
claim, the direct listing of one batch or one 管理番号.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from companion.db import Database
from companion.db.models import CompanionProcess, iso, utcnow

if TYPE_CHECKING:
    from companion.settings import SettingsStore

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0  # a follower tries to take over this often: well within 30 s
HEARTBEAT_ENV = "RECORE_CONNECTOR_HEARTBEAT_SECONDS"  # tests make it short
CHANNEL = "recore_connector"
# Advisory lock keys: (namespace, key). The namespace is "RC" and a kind; migrations use kind 4
# (companion/db/migrations/env.py).
NAMESPACE = 0x52430000
LEADER_LOCK = NAMESPACE + 1
MEMBER_LOCK = NAMESPACE + 2
MUTEX_LOCK = NAMESPACE + 3
# The server notices a PC that vanished without closing its connection (power cut, cable) by
# TCP keepalives on the leader's connection: about idle + interval × count seconds.
KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
}

Leadership = Callable[[bool], Awaitable[None]]


def lock_key(name: str) -> int:
    """A stable signed 32-bit key for a mutex name."""
    return zlib.crc32(name.encode("utf-8")) - 2**31


@dataclass(frozen=True)
class Member:
    """One companion: which PC (host name) and process."""

    id: int
    host: str
    pid: int
    leader_since: datetime | None = None

    def as_dict(self, me: Member | None) -> dict[str, Any]:
        return {
            "host": self.host,
            "pid": self.pid,
            "since": iso(self.leader_since),
            "this_pc": me is not None and self.id == me.id,
        }


def _heartbeat_from_env() -> float:
    try:
        return max(0.05, float(os.environ.get(HEARTBEAT_ENV, HEARTBEAT_SECONDS)))
    except ValueError:
        return HEARTBEAT_SECONDS


def process_alive(pid: int, started_at: datetime) -> bool:
    """Is the process `pid` on this PC the one that registered at `started_at` (not a reuse)?"""
    import psutil

    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # there, but not ours to inspect
    return created <= started_at.timestamp() + 1.0


class Cluster:
    """This companion among the others on its database."""

    def __init__(self, db: Database, *, campaign: bool, heartbeat: float | None = None) -> None:
        self.db = db
        # `serve` (background workers on) may lead; a CLI command or a test app never does, and
        # runs what it is asked to run itself, under the mutexes
        self.campaign = campaign
        self.heartbeat = heartbeat or _heartbeat_from_env()
        self.host = socket.gethostname()
        self.me: Member | None = None
        self.is_leader = False
        self.leader: Member | None = None  # as last seen (status)
        self._campaigning = False
        self._leadership: list[Leadership] = []
        self._beat_hooks: list[Callable[[], Awaitable[None]]] = []
        self._notices: dict[str, list[Callable[[dict[str, Any]], None]]] = {}
        self._conn: Any = None  # asyncpg connection (PostgreSQL)
        self._conn_lock = asyncio.Lock()
        self._transition = asyncio.Lock()
        self._loop: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._applying_remote = False
        self._started_at = utcnow()

    @property
    def shared(self) -> bool:
        return self.db.shared

    @property
    def runs_leader_work(self) -> bool:
        """Work that must run once (syncs, the outbox, the task poll) runs here."""
        return self.is_leader or not self.campaign

    # -- registration ------------------------------------------------------------------------------
    def on_leadership(self, callback: Leadership) -> None:
        """`callback(True)` when this companion starts leading, `callback(False)` when it stops."""
        self._leadership.append(callback)

    def on_heartbeat(self, hook: Callable[[], Awaitable[None]]) -> None:
        """`hook()` at every heartbeat while this companion leads (e.g. adopt orphaned jobs)."""
        self._beat_hooks.append(hook)

    def on_notice(self, topic: str, handler: Callable[[dict[str, Any]], None]) -> None:
        """`handler(data)` when another companion tells `topic`."""
        self._notices.setdefault(topic, []).append(handler)

    def share_settings(self, settings: SettingsStore) -> None:
        """A settings change on one PC reaches the listeners on every PC."""

        def changed_here(keys: set[str]) -> None:
            if not self._applying_remote:
                self.tell_soon("settings", keys=sorted(keys))

        def changed_elsewhere(data: dict[str, Any]) -> None:
            keys = {k for k in data.get("keys", []) if isinstance(k, str)}
            if not keys:
                return
            self._applying_remote = True
            try:
                pending = settings.notify_changed(keys)
            finally:
                self._applying_remote = False
            for work in pending:  # a listener's follow-up (a store session closing …)
                task = asyncio.ensure_future(work)
                self._background.add(task)
                task.add_done_callback(self._background.discard)

        settings.on_change(changed_here)
        self.on_notice("settings", changed_elsewhere)

    # -- life cycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Register this companion (on PostgreSQL: with its member lock, on its connection)."""
        self._started_at = utcnow()
        if self.shared:
            await self._connect()
        else:
            async with self.db.session() as s, s.begin():
                row = CompanionProcess(
                    host=self.host[:255], pid=os.getpid(), started_at=self._started_at
                )
                s.add(row)
                await s.flush()
                self.me = Member(row.id, row.host, row.pid)
        await self._forget_the_gone()
        log.info(
            "companion %s (pid %s) on a %s database (%s)",
            self.host,
            os.getpid(),
            self.db.backend,
            "shared with other PCs" if self.shared else "this PC only",
        )

    async def start_campaign(self) -> None:
        """After every feature is up: lead if this companion may (SQLite: it does)."""
        if not self.campaign:
            return
        self._campaigning = True
        if not self.shared:
            await self._become_leader()
            return
        with contextlib.suppress(Exception):
            await self._try_lead()  # at once, so a lone companion leads from its first second
        self._loop = asyncio.create_task(self._heartbeat(), name="cluster-heartbeat")

    async def resign(self) -> None:
        """Stop leading (before shutdown): the leader work stops first, then the lock goes."""
        self._campaigning = False
        if self._loop is not None:
            # a change of leadership under way (the services starting or stopping their loops)
            # is let finish, not cut in the middle
            async with self._transition:
                self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        if self.is_leader:
            await self._step_down()
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    async with self._conn_lock:
                        await self._conn.execute("SELECT pg_advisory_unlock($1, 0)", LEADER_LOCK)

    async def close(self) -> None:
        await self.resign()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=5)
            self._conn = None
        if self.me is not None:
            with contextlib.suppress(Exception):
                async with self.db.session() as s, s.begin():
                    await s.execute(
                        delete(CompanionProcess).where(CompanionProcess.id == self.me.id)
                    )

    # -- leadership --------------------------------------------------------------------------------
    async def _become_leader(self) -> None:
        async with self._transition:
            if self.is_leader:
                return
            self.is_leader = True
            assert self.me is not None
            since = utcnow()
            async with self.db.session() as s, s.begin():
                await s.execute(
                    update(CompanionProcess)
                    .where(CompanionProcess.id == self.me.id)
                    .values(leader_since=since)
                )
            self.me = Member(self.me.id, self.me.host, self.me.pid, since)
            self.leader = self.me
            if self.shared:
                log.info("this companion (%s) leads now", self.host)
            for callback in self._leadership:
                await self._call(callback, True)

    async def _step_down(self) -> None:
        async with self._transition:
            if not self.is_leader:
                return
            self.is_leader = False
            if self.leader is not None and self.me is not None and self.leader.id == self.me.id:
                self.leader = None
            log.info("this companion (%s) no longer leads", self.host)
            for callback in reversed(self._leadership):
                await self._call(callback, False)

    @staticmethod
    async def _call(callback: Leadership, leading: bool) -> None:
        try:
            await callback(leading)
        except Exception:
            log.exception("leadership change (%s): a callback failed", leading)

    async def _try_lead(self) -> None:
        conn = await self._connection()
        async with self._conn_lock:
            got = await conn.fetchval("SELECT pg_try_advisory_lock($1, 0)", LEADER_LOCK)
        if got:
            await self._become_leader()

    async def _heartbeat(self) -> None:
        while True:
            try:
                if not self.is_leader and self._campaigning:
                    await self._try_lead()
                elif self.is_leader:
                    async with self._conn_lock:
                        await (await self._connection()).fetchval("SELECT 1")
                await self._refresh_leader()
                if self.is_leader:
                    for hook in self._beat_hooks:
                        try:
                            await hook()
                        except Exception:
                            log.exception("leader heartbeat: a hook failed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("database connection of the cluster lost: %s", type(exc).__name__)
                await self._lost_connection()
            await asyncio.sleep(self.heartbeat)

    async def _lost_connection(self) -> None:
        # the server released our locks with the session (or will): never act as leader on
        # a lock we may no longer hold
        await self._step_down()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.terminate()

    # -- the leader's connection (PostgreSQL) ------------------------------------------------------
    async def _connection(self) -> Any:
        if self._conn is None or self._conn.is_closed():
            await self._connect()
        return self._conn

    async def _connect(self) -> None:
        """The connection that holds this companion's member lock (and the leader lock when it
        leads) and listens. The row and its lock appear together (one transaction), so no
        other companion ever takes a starting one for gone."""
        import asyncpg

        _args, kwargs = self.db.engine.dialect.create_connect_args(self.db.engine.url)
        settings = dict(kwargs.pop("server_settings", None) or {})
        settings["application_name"] = f"recore-connector {self.host} {os.getpid()}"[:63]
        settings.update(KEEPALIVES)
        conn = await asyncpg.connect(**kwargs, server_settings=settings)
        started = self._started_at.astimezone(UTC).replace(tzinfo=None)
        try:
            async with conn.transaction():
                if self.me is None:
                    member_id = await conn.fetchval(
                        "INSERT INTO companions (host, pid, started_at) VALUES ($1, $2, $3) "
                        "RETURNING id",
                        self.host[:255],
                        os.getpid(),
                        started,
                    )
                else:  # back after a lost connection: the same id (its row may be gone)
                    member_id = self.me.id
                    await conn.execute(
                        "INSERT INTO companions (id, host, pid, started_at) "
                        "VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                        member_id,
                        self.host[:255],
                        os.getpid(),
                        started,
                    )
                await conn.execute("SELECT pg_advisory_lock($1, $2)", MEMBER_LOCK, member_id)
            await conn.add_listener(CHANNEL, self._notified)
        except BaseException:
            conn.terminate()
            raise
        if self.me is None:
            self.me = Member(member_id, self.host[:255], os.getpid())
        self._conn = conn

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            data = json.loads(payload)
        except ValueError:
            return
        if not isinstance(data, dict) or (self.me is not None and data.get("from") == self.me.id):
            return
        for handler in self._notices.get(str(data.get("topic")), []):
            try:
                handler(data)
            except Exception:
                log.exception("notice %s: handler failed", data.get("topic"))

    # -- telling the others ------------------------------------------------------------------------
    async def tell(self, topic: str, **data: Any) -> None:
        """NOTIFY every other companion (PostgreSQL; nothing to tell on SQLite)."""
        if not self.shared or self.me is None:
            return
        payload = json.dumps({"from": self.me.id, "topic": topic, **data})
        try:
            async with self.db.session() as s, s.begin():
                await s.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": payload})
        except Exception as exc:  # a wake-up only: the leader's timers catch up
            log.warning("could not tell the other companions %s: %s", topic, type(exc).__name__)

    def tell_soon(self, topic: str, **data: Any) -> None:
        """`tell` from synchronous code (a listener), in the background."""
        if not self.shared:
            return
        task = asyncio.get_running_loop().create_task(self.tell(topic, **data))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def tell_leader(self, topic: str, **data: Any) -> None:
        """A wake-up for the leader (when this companion is not it)."""
        if self.shared and not self.is_leader:
            self.tell_soon(topic, **data)

    # -- who is there ------------------------------------------------------------------------------
    async def alive(self) -> set[int]:
        """The ids of the companions running now (this one included)."""
        assert self.me is not None
        if self.shared:
            async with self.db.session() as s:
                ids = await s.scalars(
                    text(
                        "SELECT objid::int FROM pg_locks WHERE locktype = 'advisory' "
                        "AND granted AND classid = CAST(:ns AS oid) AND database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database())"
                    ),
                    {"ns": MEMBER_LOCK},
                )
                return {*ids, self.me.id}
        async with self.db.session() as s:
            rows = (await s.scalars(select(CompanionProcess))).all()
        return {
            r.id
            for r in rows
            if r.id == self.me.id or (r.host == self.host and process_alive(r.pid, r.started_at))
        }

    async def _forget_the_gone(self) -> None:
        """Rows of companions that ended without saying goodbye (killed) are removed."""
        alive = await self.alive()
        async with self.db.session() as s, s.begin():
            await s.execute(delete(CompanionProcess).where(CompanionProcess.id.not_in(alive)))

    async def _refresh_leader(self) -> None:
        """Who leads now, as the server sees it (the companion whose session holds the lock)."""
        async with self.db.session() as s:
            row = (
                await s.execute(
                    text(
                        "SELECT c.id, c.host, c.pid, c.leader_since FROM pg_locks l "
                        "JOIN pg_locks m ON m.pid = l.pid AND m.locktype = 'advisory' "
                        "AND m.granted AND m.classid = CAST(:member AS oid) "
                        "JOIN companions c ON c.id = m.objid::int "
                        "WHERE l.locktype = 'advisory' AND l.granted "
                        "AND l.classid = CAST(:leader AS oid) AND l.database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database())"
                    ),
                    {"member": MEMBER_LOCK, "leader": LEADER_LOCK},
                )
            ).first()
        if row is None:
            self.leader = None
            return
        since = row.leader_since
        self.leader = Member(
            row.id, row.host, row.pid, None if since is None else since.replace(tzinfo=UTC)
        )

    def status(self) -> dict[str, Any]:
        """What `GET /status` shows: the database kind, this PC, and which PC leads."""
        return {
            "database": self.db.backend,
            "shared": self.shared,
            "this_pc": None if self.me is None else {"host": self.me.host, "pid": self.me.pid},
            "leading": self.is_leader,
            "leader": None if self.leader is None else self.leader.as_dict(self.me),
        }


async def serialize(session: AsyncSession, name: str) -> None:
    """Inside `session`'s transaction: one companion at a time past this point (PostgreSQL;
    released at commit). On SQLite the file's write lock and the in-process locks do it."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :key)"),
            {"ns": MUTEX_LOCK, "key": lock_key(name)},
        )


@contextlib.asynccontextmanager
async def mutex(
    db: Database, name: str, *, wait: bool = True, poll: float = 0.2
) -> AsyncIterator[bool]:
    """Held by one companion at a time across every PC on `db`; yields whether it was got
    (False only with `wait=False`). PostgreSQL: an advisory lock on a pooled connection kept for
    the duration (a companion that dies releases it with its connection). SQLite: one PC, whose
    services keep their own in-process locks, so this is free."""
    if not db.shared:
        yield True
        return
    key = lock_key(name)
    async with db.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        got = False
        while True:
            try:
                got = bool(
                    await conn.scalar(
                        text("SELECT pg_try_advisory_lock(:ns, :key)"),
                        {"ns": MUTEX_LOCK, "key": key},
                    )
                )
            except BaseException:
                # cancelled mid-statement: whether the lock was taken is unknown
                await conn.invalidate()
                raise
            if got or not wait:
                break
            await asyncio.sleep(poll)
        try:
            yield got
        finally:
            if got:
                try:
                    await asyncio.shield(
                        conn.execute(
                            text("SELECT pg_advisory_unlock(:ns, :key)"),
                            {"ns": MUTEX_LOCK, "key": key},
                        )
                    )
                except BaseException:
                    # never hand a connection that may still hold the lock back to the pool
                    await conn.invalidate()
                    raise


class _ProcessLock:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0  # holding or waiting


_process_locks: dict[str, _ProcessLock] = {}


@contextlib.asynccontextmanager
async def exclusive(db: Database, name: str) -> AsyncIterator[None]:
    """`mutex(db, name)` that also holds between the services of this companion (on SQLite
    `mutex` is free): for one thing that two of them may write to at once, such as one item that
    a direct listing lists while a sale at the register ends it. Same `name`, same lock."""
    entry = _process_locks.setdefault(name, _ProcessLock())
    entry.users += 1
    try:
        async with entry.lock, mutex(db, name):
            yield
    finally:
        entry.users -= 1
        if entry.users == 0 and _process_locks.get(name) is entry:
            del _process_locks[name]  # none left per item; never a lock of an old event loop


def exclusive_users(name: str) -> int:
    """How many hold or wait for `exclusive(…, name)` in this process (logs and tests)."""
    entry = _process_locks.get(name)
    return entry.users if entry is not None else 0
