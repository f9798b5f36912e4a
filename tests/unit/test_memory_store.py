"""The in-memory twin offers every method of the Store port with the port's own parameters (what it
does is held equal to SqlStore's by tests/integration/test_store_contract.py)."""

from __future__ import annotations

import inspect

from tests.fakes.memory_store import MemoryStore, Tables, UniqueViolation
from tradewire.ports import Store


def _methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_the_twin_has_every_store_method_with_the_same_parameters() -> None:
    port, twin = _methods(Store), _methods(MemoryStore)

    missing = sorted(set(port) - set(twin))
    differing = {
        name: (str(port[name]), str(twin[name]))
        for name in set(port) & set(twin)
        if [(p.name, p.kind, p.default) for p in port[name].parameters.values()]
        != [(p.name, p.kind, p.default) for p in twin[name].parameters.values()]
    }

    assert missing == [] and differing == {}


def test_a_failed_write_leaves_every_table_as_it_was() -> None:
    tables = Tables()
    tables.insert_new("users", {"username": "a", "password_hash": "-", "created_at": None})

    try:
        with tables.transaction():
            tables.insert_new("users", {"username": "b", "password_hash": "-", "created_at": None})
            tables.insert_new("users", {"username": "a", "password_hash": "-", "created_at": None})
    except UniqueViolation:
        pass

    assert [u["username"] for u in tables.where("users")] == ["a"]
