"""Every public Python callable of the dh package has a docstring (issue 18 part 3): the
names in dh.__all__, every public module's own public functions and classes, and their
public methods and properties. A callable added without one fails here by name."""
import importlib
import inspect
import pkgutil

import dh


def _own_public(mod):
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in vars(mod) if not n.startswith("_")]
    for n in names:
        obj = getattr(mod, n, None)
        if inspect.ismodule(obj) or not callable(obj):
            continue
        own = getattr(obj, "__module__", None) == mod.__name__
        if own or (mod is dh and (getattr(obj, "__module__", "") or "").startswith("dh")):
            yield n, obj


def _members(cls):
    for k, v in vars(cls).items():
        if k.startswith("_"):
            continue
        if isinstance(v, (staticmethod, classmethod)):
            v = v.__func__
        if isinstance(v, property) or inspect.isfunction(v):
            yield k, v


def public_callables():
    mods = [dh] + [importlib.import_module("dh." + m.name)
                   for m in pkgutil.iter_modules(dh.__path__) if not m.name.startswith("_")]
    seen = set()
    for mod in mods:
        for n, obj in _own_public(mod):
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            q = f"{obj.__module__}.{getattr(obj, '__qualname__', n)}"
            yield q, obj
            if inspect.isclass(obj):
                for k, v in _members(obj):
                    yield f"{q}.{k}", v


def test_every_public_callable_has_a_docstring():
    found = list(public_callables())
    assert len(found) > 150, len(found)          # the walk really sees the package
    missing = [q for q, obj in found if not (obj.__doc__ or "").strip()]
    assert not missing, "no docstring: " + ", ".join(sorted(missing))


def test_the_walk_sees_a_missing_docstring(monkeypatch):
    """The check itself: a public function without a docstring is reported."""
    def undocumented():
        pass
    undocumented.__module__ = "dh.core"
    undocumented.__qualname__ = "undocumented"
    import dh.core
    monkeypatch.setattr(dh.core, "undocumented", undocumented, raising=False)
    names = [q for q, obj in public_callables() if not (obj.__doc__ or "").strip()]
    assert "dh.core.undocumented" in names
