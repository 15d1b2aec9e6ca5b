"""Every name in a public ``__all__`` exists, and every public top-level name is listed
(httpx style)."""

import importlib

import pytest

PUBLIC_MODULES = ["accord", "accord.errors"]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_names_exist_and_public_names_are_exported(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == []
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and getattr(v, "__module__", name).startswith("accord")
        and not isinstance(v, type(importlib))
        and n != "annotations"
    }
    assert public - exported == set()
