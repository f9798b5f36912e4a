"""The audit log in SQL, on SQLite and PostgreSQL: appends from many threads and processes at once
form one chain; entries are read back per user with filters and pages (the in-memory twin held to
the same assertions), a user's trail with what was done to them; the database refuses to change or
remove an entry and to move the chain head other than one entry forward (triggers); `tradewire audit
verify` (the real command) passes an intact log and names the first entry that was changed, removed,
swapped with another, or cut from the end, each done in SQL as an intruder owning the database
would (dropping the triggers first), and with --expect a chain rewritten with recomputed hashes; a
restored backup keeps the chain and its triggers; the migration's downgrade removes them."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import tracemalloc
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from tests.databases import downgrade_to, sibling_database
from tests.fakes.memory_audit import MemoryAudit
from tests.fakes.memory_members import MemoryMembers
from tests.seeding import now
from tradewire.adapters.backup import restore_backup, take_backup
from tradewire.adapters.clock import SystemClock
from tradewire.adapters.store.audit import SqlAudit, _first_head
from tradewire.adapters.store.audit_tables import audit_head, audit_log
from tradewire.adapters.store.db import disposable_engine, upgrade, write_transaction
from tradewire.adapters.store.members import SqlMembers
from tradewire.domain.audit import EMPTY, Action, Actor, Entry, Event, Head, Origin, chained
from tradewire.ports.audit import AuditQuery, AuditStore
from tradewire.services.audit import AuditTrail

TRADEWIRE = str(Path(sys.executable).parent / "tradewire")
ORIGIN = Origin.of("192.0.2.10", "pytest")


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _event(user_id: int | None, action: Action = Action.SIGNIN, at: datetime | None = None) -> Event:
    name = f"user{user_id}"
    return Event(at or now(), Actor(user_id, name), action, ORIGIN, "account", user_id, {"n": user_id})


def _fill(engine: Engine, count: int) -> None:
    store = SqlAudit(engine)
    for n in range(count):
        store.append(_event(n % 3 + 1))


_GUARDS = {  # the triggers of migration 0028, by table
    "postgresql": {
        "audit_log": ("audit_log_append_only", "audit_log_no_truncate"),
        "audit_head": ("audit_head_forward_only", "audit_head_no_truncate"),
    },
    "sqlite": {
        "audit_log": ("audit_log_no_update", "audit_log_no_delete"),
        "audit_head": ("audit_head_forward_only", "audit_head_no_delete"),
    },
}


def _drop_guards(conn: Connection) -> None:
    """What an intruder owning the database does before tampering: drop the triggers that keep the
    log append-only. Nothing in the database can stop its owner; `verify` is what finds the rest."""
    for table, triggers in _GUARDS[conn.dialect.name].items():
        for trigger in triggers:
            on = f" ON {table}" if conn.dialect.name == "postgresql" else ""
            conn.execute(text(f"DROP TRIGGER {trigger}{on}"))


def _triggers(engine: Engine) -> set[str]:
    if engine.dialect.name == "postgresql":
        query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    with engine.connect() as conn:
        return set(conn.execute(text(query)).scalars())


def _verify(engine: Engine, batch: int = 1000, *options: str) -> tuple[int, str, str]:
    """`tradewire audit verify` on the engine's database: exit code, stdout, stderr."""
    env = {**os.environ, "TRADEWIRE_DATABASE_URL": _url(engine)}
    env["TRADEWIRE_CONFIG"] = "/nonexistent/tradewire.toml"
    done = subprocess.run(
        [TRADEWIRE, "audit", "verify", "--batch", str(batch), *options],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


@dataclass
class Stores:
    """An audit store and the users it names, SQL or in memory."""

    members: Any  # create_user
    audit: AuditStore


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
def stores(request: pytest.FixtureRequest) -> Stores:
    """SqlAudit on SQLite, then PostgreSQL, then the in-memory twin."""
    if request.param == "memory":
        members = MemoryMembers()

        def user_id_of(name: str) -> int | None:
            user = members.user_by_name(name)
            return None if user is None else user.id

        return Stores(members, MemoryAudit(user_id_of))
    engine: Engine = request.getfixturevalue(
        "sqlite_engine" if request.param == "sqlite" else "postgres_engine"
    )
    return Stores(SqlMembers(engine), SqlAudit(engine))


def test_a_users_trail_holds_what_others_did_to_that_user_and_nothing_else_of_theirs(stores: Stores) -> None:
    store = stores.audit
    admin = Actor(1, "root")
    store.append(Event(now(), Actor(2, "alice"), Action.SIGNIN, ORIGIN))
    store.append(Event(now(), admin, Action.USER_DISABLED, ORIGIN, "user", 2, {"username": "alice"}))
    store.append(Event(now(), admin, Action.USER_DISABLED, ORIGIN, "user", 3, {"username": "bob"}))
    store.append(Event(now(), admin, Action.ACCOUNT_DELETED, ORIGIN, "account", 2))  # not a user: 2 is an id
    store.append(Event(now(), admin, Action.PLATFORM_TRADING_SET, ORIGIN))
    store.append(Event(now(), Actor(None, "cli"), Action.ROLE_SET, ORIGIN, "user", 2, {"role": "admin"}))

    alices = store.entries(AuditQuery(user_id=2, limit=100))
    signins = store.entries(AuditQuery(user_id=2, limit=100, actions=("signin",)))
    page = store.entries(AuditQuery(user_id=2, limit=1, before_seq=alices[0].seq))

    assert [(e.seq, e.action) for e in alices] == [
        (6, "admin.role_set"),
        (2, "admin.user_disabled"),
        (1, "signin"),
    ]
    assert [e.seq for e in signins] == [1]
    assert [e.seq for e in page] == [2]
    assert [e.seq for e in store.entries(AuditQuery(user_id=3, limit=100))] == [3]
    assert [e.seq for e in store.entries(AuditQuery(user_id=1, limit=100))] == [5, 4, 3, 2]


def test_entries_are_read_back_per_user_with_filters_and_pages(stores: Stores) -> None:
    store = stores.audit
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(6):
        store.append(
            _event(
                1 if n % 2 == 0 else 2, Action.SIGNIN if n < 4 else Action.SIGNOUT, t0 + timedelta(minutes=n)
            )
        )
    store.append(_event(None, Action.SIGNIN_FAILED, t0 + timedelta(minutes=6)))

    mine = store.entries(AuditQuery(user_id=1, limit=100))
    page = store.entries(AuditQuery(user_id=1, limit=2, before_seq=mine[0].seq))
    signouts = store.entries(AuditQuery(user_id=None, limit=100, actions=("signout",)))
    window = store.entries(
        AuditQuery(user_id=1, limit=100, since=t0 + timedelta(minutes=1), until=t0 + timedelta(minutes=4))
    )

    assert [e.seq for e in mine] == [5, 3, 1]
    assert mine[0].at == t0 + timedelta(minutes=4) and mine[0].detail == '{"n":1}'
    assert [e.seq for e in page] == [3, 1]
    assert [e.seq for e in signouts] == [6, 5]
    assert [e.seq for e in window] == [3]
    assert len(store.entries(AuditQuery(user_id=None, limit=100))) == 7
    newest = store.entries(AuditQuery(user_id=None, limit=1))[0]
    assert newest.seq == 7 and store.head() == Head(7, newest.hash)


def test_a_new_log_has_no_head_until_its_first_entry(stores: Stores) -> None:
    assert stores.audit.head() is None

    entry = stores.audit.append(_event(1))

    assert (entry.seq, entry.prev_hash) == (1, "0" * 64)
    assert stores.audit.head() == Head(1, entry.hash)


def test_a_user_is_found_by_name(stores: Stores) -> None:
    user_id = stores.members.create_user("alice", "-", now())

    assert stores.audit.user_named("alice") == user_id
    assert stores.audit.user_named("nobody") is None


def test_the_chain_is_read_oldest_first_up_to_a_number(stores: Stores) -> None:
    for n in range(23):
        stores.audit.append(_event(n % 3 + 1))

    assert [e.seq for e in stores.audit.chain(batch=5)] == list(range(1, 24))
    assert [e.seq for e in stores.audit.chain(upto=7, batch=5)] == list(range(1, 8))
    assert AuditTrail(stores.audit, SystemClock()).verify(batch=5).finding is None


def test_removing_a_user_keeps_their_trail(engine: Engine) -> None:
    members = SqlMembers(engine)
    user_id = members.create_user("alice", "-", now())
    SqlAudit(engine).append(_event(user_id))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})

    assert len(SqlAudit(engine).entries(AuditQuery(user_id=user_id, limit=10))) == 1


def test_appends_from_many_threads_form_one_chain(engine: Engine) -> None:
    threads, each = 8, 15
    engines = [disposable_engine(_url(engine)) for _ in range(threads)]  # a connection of its own each
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        store = SqlAudit(engines[worker])
        start.wait()
        try:
            for _ in range(each):
                store.append(_event(worker + 1))
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=append, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    for other in engines:
        other.dispose()

    assert errors == []
    with engine.connect() as conn:
        seqs = list(conn.execute(select(audit_log.c.seq).order_by(audit_log.c.seq)).scalars())
    assert seqs == list(range(1, threads * each + 1))
    result = AuditTrail(SqlAudit(engine), SystemClock()).verify()
    assert result.finding is None and result.checked == threads * each


def _append_in_process(url: str, worker: int, each: int, start: object) -> None:
    engine = disposable_engine(url)
    start.wait()  # type: ignore[attr-defined]
    store = SqlAudit(engine)
    for _ in range(each):
        store.append(_event(worker))
    engine.dispose()


def test_appends_from_several_processes_form_one_chain(engine: Engine) -> None:
    processes, each = 4, 20
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes)
    workers = [
        context.Process(target=_append_in_process, args=(_url(engine), n + 1, each, start))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)

    assert [w.exitcode for w in workers] == [0] * processes
    with engine.connect() as conn:
        per_worker = dict(
            conn.execute(select(audit_log.c.user_id, func.count()).group_by(audit_log.c.user_id)).all()
        )
    assert per_worker == {n + 1: each for n in range(processes)}
    assert _verify(engine)[0] == 0


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET address = '203.0.113.66' WHERE seq = 2",
        "UPDATE audit_log SET hash = prev_hash",
        "UPDATE audit_log SET seq = seq + 100 WHERE seq = 3",
        "DELETE FROM audit_log WHERE seq = 2",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE audit_head SET seq = 2, hash = 'x'",
        "UPDATE audit_head SET seq = seq + 2",
        "UPDATE audit_head SET id = 2, seq = seq + 1",
        "DELETE FROM audit_head",
        "TRUNCATE audit_head",
    ],
)
def test_the_database_refuses_to_change_or_remove_an_entry_or_move_the_head_back(
    engine: Engine, statement: str
) -> None:
    if statement.startswith("TRUNCATE") and engine.dialect.name == "sqlite":
        pytest.skip("SQLite has no TRUNCATE (DELETE without WHERE is tried above)")
    _fill(engine, 3)
    before = list(SqlAudit(engine).chain())

    with pytest.raises(DBAPIError, match=r"append-only|only moves forward"), engine.begin() as conn:
        conn.execute(text(statement))

    assert list(SqlAudit(engine).chain()) == before and SqlAudit(engine).head() == Head(3, before[-1].hash)
    SqlAudit(engine).append(_event(1))  # the head still moves forward as appends move it
    result = AuditTrail(SqlAudit(engine), SystemClock()).verify()
    assert result.finding is None and result.checked == 4


def test_the_migrations_downgrade_drops_the_guards_and_upgrade_brings_them_back(engine: Engine) -> None:
    every = {name for triggers in _GUARDS[engine.dialect.name].values() for name in triggers}
    assert _triggers(engine) == every
    _fill(engine, 2)

    downgrade_to(engine, "0027")
    assert _triggers(engine) == set()
    upgrade(engine)

    assert _triggers(engine) == every
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(delete(audit_log))


def test_verify_passes_an_intact_log_read_in_batches(engine: Engine) -> None:
    _fill(engine, 23)

    code, out, err = _verify(engine, batch=5)

    assert code == 0, err
    head = SqlAudit(engine).head()
    assert head is not None
    assert f"23 entries; head 23:{head.hash}" in out


def test_verify_passes_an_empty_log(engine: Engine) -> None:
    code, out, _err = _verify(engine)

    assert code == 0 and "0 entries; head 0:" + "0" * 64 in out


def test_verify_finds_an_entry_changed_in_sql(engine: Engine) -> None:
    _fill(engine, 10)
    with engine.begin() as conn:
        _drop_guards(conn)
        conn.execute(update(audit_log).where(audit_log.c.seq == 6).values(address="203.0.113.66"))

    code, _out, err = _verify(engine, batch=4)

    assert code == 1
    assert "entry 6 changed" in err and "5 entries before it are intact" in err


def test_verify_finds_an_entry_deleted_in_sql(engine: Engine) -> None:
    _fill(engine, 10)
    with engine.begin() as conn:
        _drop_guards(conn)
        conn.execute(delete(audit_log).where(audit_log.c.seq == 4))

    code, _out, err = _verify(engine)

    assert code == 1 and "entry 4 missing" in err


def test_verify_finds_two_entries_swapped_in_sql(engine: Engine) -> None:
    _fill(engine, 10)
    with engine.begin() as conn:  # 3 <-> 7, through a free number
        _drop_guards(conn)
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(seq=-1))
        conn.execute(update(audit_log).where(audit_log.c.seq == 7).values(seq=3))
        conn.execute(update(audit_log).where(audit_log.c.seq == -1).values(seq=7))

    code, _out, err = _verify(engine)

    assert code == 1 and "entry 3 reordered" in err


def test_verify_finds_the_newest_entries_removed(engine: Engine) -> None:
    _fill(engine, 10)
    with engine.begin() as conn:
        _drop_guards(conn)
        conn.execute(delete(audit_log).where(audit_log.c.seq > 8))

    code, _out, err = _verify(engine)

    assert code == 1 and "entry 9 missing" in err and "9 to 10" in err


def test_verify_finds_a_removed_chain_head(engine: Engine) -> None:
    _fill(engine, 3)
    with engine.begin() as conn:
        _drop_guards(conn)
        conn.execute(delete(audit_head))

    code, _out, err = _verify(engine)

    assert code == 1 and "entry 4 missing" in err and "chain head is missing" in err
    with pytest.raises(RuntimeError, match="chain head is missing"):
        SqlAudit(engine).append(_event(1))  # chaining on from nothing would hide the removal


def test_a_restored_backup_keeps_the_chain_and_goes_on_from_its_head(engine: Engine, tmp_path: Path) -> None:
    _fill(engine, 12)
    backup = take_backup(_url(engine), tmp_path / "backups", now())

    with sibling_database(engine, tmp_path, "restored") as url:
        report = restore_backup(backup.path, url)
        restored = disposable_engine(url)
        try:
            SqlAudit(restored).append(_event(1))
            result = AuditTrail(SqlAudit(restored), SystemClock()).verify()
            with pytest.raises(DBAPIError, match="append-only"), restored.begin() as conn:
                conn.execute(update(audit_log).values(username="someone else"))
        finally:
            restored.dispose()

    assert report is not None and report.ok, report.problems
    assert backup.manifest.tables["audit_log"] == 12 and backup.manifest.tables["audit_head"] == 1
    assert result.finding is None and result.checked == 13


def test_a_forced_restore_replaces_a_guarded_log_that_holds_other_entries(
    engine: Engine, tmp_path: Path
) -> None:
    _fill(engine, 5)
    backup = take_backup(_url(engine), tmp_path / "backups", now())

    with sibling_database(engine, tmp_path, "target") as url:
        target = disposable_engine(url)
        try:
            upgrade(target)
            _fill(target, 8)  # another chain, its rows guarded by the triggers
            report = restore_backup(backup.path, url, force=True)
            result = AuditTrail(SqlAudit(target), SystemClock()).verify()
            triggers = _triggers(target)
        finally:
            target.dispose()

    assert report is not None and report.ok, report.problems
    assert result.finding is None and result.checked == 5
    assert triggers == {name for names in _GUARDS[engine.dialect.name].values() for name in names}


def test_verify_finds_a_chain_rewritten_after_its_head_was_noted_down(engine: Engine) -> None:
    _fill(engine, 6)
    code, out, _err = _verify(engine)
    noted = out.split("head ")[1].strip()
    # An intruder who knows the scheme changes entry 4 and recomputes every hash from there, head too.
    store = SqlAudit(engine)
    entries = list(store.chain())
    with engine.begin() as conn:
        _drop_guards(conn)
        conn.execute(delete(audit_log).where(audit_log.c.seq >= 4))
        conn.execute(update(audit_head).values(seq=3, hash=entries[2].hash))
    store.append(replace(_event(1), actor=Actor(1, "someone else")))
    for _ in range(2):
        store.append(_event(2))

    assert code == 0 and noted.startswith("6:")
    assert _verify(engine)[0] == 0  # the rewritten chain is consistent in itself
    code, _out, err = _verify(engine, 1000, "--expect", noted)
    assert code == 1 and "entry 6 changed" in err and "not the one noted down" in err
    assert _verify(engine, 1000, "--expect", f"3:{entries[2].hash}")[0] == 0
    code, _out, err = _verify(engine, 1000, "--expect", "9:" + "0" * 64)
    assert code == 1 and "entry 7 missing" in err and "before the noted entry" in err
    code, _out, err = _verify(engine, 1000, "--expect", "abc")
    assert code == 2 and "SEQ:HASH" in err


def test_verify_reads_a_long_log_in_flat_memory(engine: Engine) -> None:
    count = 20_000
    rows, head = [], EMPTY
    for n in range(count):
        entry = chained(_event(n % 50 + 1), head)
        rows.append({name: getattr(entry, name) for name in Entry.__slots__})
        head = Head(entry.seq, entry.hash)
    with engine.begin() as conn:  # written in bulk: appending one by one would only be slower
        conn.execute(insert(audit_log), rows)
        conn.execute(insert(audit_head).values(id=1, seq=head.seq, hash=head.hash))
    del rows
    trail = AuditTrail(SqlAudit(engine), SystemClock())

    tracemalloc.start()
    try:
        result = trail.verify(batch=500)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.finding is None and result.checked == count
    assert peak < 4_000_000, peak  # the whole log as entries would take well over 10 MB


def test_commands_record_what_they_did(engine: Engine) -> None:
    env = {**os.environ, "TRADEWIRE_DATABASE_URL": _url(engine), "TRADEWIRE_CONFIG": "/nonexistent.toml"}
    done = subprocess.run(
        [TRADEWIRE, "user", "create", "carol", "--password-stdin"],
        input="a long enough password\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    [entry] = SqlAudit(engine).entries(AuditQuery(user_id=None, limit=10))
    carol = SqlAudit(engine).user_named("carol")
    assert (entry.action, entry.target_type, entry.target_id) == ("user.created", "user", carol)
    assert entry.user_id is None and entry.username.startswith("cli")
    assert (entry.address, entry.client) == ("local", "tradewire cli")
    assert entry.detail == '{"role":"provider","username":"carol"}'  # the default role of a created user
    assert "a long enough password" not in str(entry)


def test_a_first_append_that_lost_the_race_for_the_head_chains_after_the_winner(
    postgres_engine: Engine,
) -> None:
    """PostgreSQL only (on SQLite the first transaction holds the write lock and the other waits):
    an append that found no head, while another first append then wrote one and committed, chains
    after that one instead of refusing the log as headless."""
    locked = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
    with write_transaction(postgres_engine) as late:
        assert late.execute(locked.with_for_update()).first() is None
        winner = SqlAudit(postgres_engine).append(_event(1))  # another connection, committed

        head = _first_head(late, locked)

    assert (head.seq, head.hash) == (1, winner.hash)
