"""`tradewire.ports` re-exports every port lazily: each name in __all__ resolves to the class its own
module defines, and an unknown name is an AttributeError (not a silent None)."""

from __future__ import annotations

import importlib

import pytest

import tradewire.ports as ports


@pytest.mark.parametrize("name", ports.__all__)
def test_each_exported_port_is_the_one_its_module_defines(name: str) -> None:
    module = importlib.import_module(f"tradewire.ports.{ports._MODULE_OF[name]}")

    assert getattr(ports, name) is getattr(module, name)


def test_all_and_the_lazy_table_name_the_same_ports() -> None:
    assert sorted(ports.__all__) == sorted(ports._MODULE_OF)
    with pytest.raises(AttributeError):
        _ = ports.NoSuchPort  # type: ignore[attr-defined]
