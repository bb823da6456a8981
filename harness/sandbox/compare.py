"""Structural comparison of values, for carved samples. Standard library only, Python >= 3.8.

One source, two uses: copied next to the tracer for its replay check, and inlined verbatim into
every carved harness (so its names carry a `carve_` prefix: a harness merged with a generated test
must not clobber, or be clobbered by, the generated test's helpers).
"""

import itertools as carve_itertools
import re as carve_re

CARVE_ADDRESS = carve_re.compile(r"0x[0-9a-fA-F]+")
CARVE_MAX_ITEMS = 200
CARVE_MAX_DEPTH = 6


def carve_shape(value, depth=0):
    """A comparable view of a value: containers and iterators by their items, objects by type and
    attributes (dict and slots), objects without their own equality by repr (addresses removed)."""
    if depth > CARVE_MAX_DEPTH:
        return ("repr", CARVE_ADDRESS.sub("0x?", carve_repr(value)))
    if isinstance(value, (str, bytes, int, bool, type(None), complex)):
        return value
    if isinstance(value, float):
        return "nan" if value != value else value
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [carve_shape(v, depth + 1) for v in value])
    if isinstance(value, dict):
        items = [(carve_repr(k), carve_shape(v, depth + 1)) for k, v in value.items()]
        return (type(value).__name__, sorted(items, key=lambda kv: kv[0]))
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, sorted(carve_repr(v) for v in value))
    if isinstance(value, BaseException):
        return ("exception", type(value).__name__, carve_shape(list(value.args), depth + 1))
    if hasattr(value, "__next__") and hasattr(value, "__iter__"):
        return ("iterator", [carve_shape(v, depth + 1) for v in carve_itertools.islice(value, CARVE_MAX_ITEMS)])
    if isinstance(value, type) or callable(value) and not hasattr(value, "__dict__"):
        return ("callable", getattr(value, "__module__", None), getattr(value, "__qualname__", type(value).__name__))
    if callable(value) and hasattr(value, "__code__"):
        return ("function", getattr(value, "__qualname__", None))
    state = getattr(value, "__dict__", None)
    slots = [s for c in type(value).__mro__ for s in getattr(c, "__slots__", ()) if isinstance(s, str)]
    if isinstance(state, dict) or slots:
        attrs = dict(state) if isinstance(state, dict) else {}
        for s in slots:
            if s not in ("__dict__", "__weakref__") and hasattr(value, s):
                attrs[s] = getattr(value, s)
        return (type(value).__name__, carve_shape(attrs, depth + 1))
    if type(value).__eq__ is object.__eq__:
        return (type(value).__name__, CARVE_ADDRESS.sub("0x?", carve_repr(value)))
    return ("value", type(value).__name__, value)


def carve_repr(value):
    try:
        return repr(value)
    except Exception as exc:  # a broken __repr__ must not break the comparison
        return "<unrepresentable %s: %s>" % (type(value).__name__, type(exc).__name__)


def carve_equal(a, b):
    """Equality of two shapes; values whose == raises or is not a bool compare by repr."""
    try:
        result = a == b
        if isinstance(result, bool):
            return result
        return bool(result)
    except Exception:
        return CARVE_ADDRESS.sub("0x?", carve_repr(a)) == CARVE_ADDRESS.sub("0x?", carve_repr(b))


def carve_call(fn, args, kwargs):
    """(outcome, state afterwards): the return value's shape or the exception type, then the shape of
    the arguments after the call (mutations; for methods args[0] is the instance, so its state)."""
    try:
        result = ("returned", carve_shape(fn(*args, **kwargs)))
    except Exception as exc:  # the same exception type on both sides is equivalent behaviour
        result = ("raised", type(exc).__name__)
    return result, carve_shape((list(args), kwargs))


def carve_make_function(code_bytes, module_name, name, qualname, defaults, kwdefaults, closure, own_globals):
    """Rebuild a function pickled by value (a lambda or a local function, which pickle cannot name).

    Its globals are its module's (imported by name) when its code refers to global names, else a
    fresh namespace with the builtins."""
    import builtins
    import importlib
    import marshal
    import types

    code = marshal.loads(code_bytes)
    if own_globals:
        namespace = importlib.import_module(module_name).__dict__
    else:
        namespace = {"__builtins__": builtins, "__name__": module_name}
    cells = None if closure is None else tuple(types.CellType(value) for value in closure)
    fn = types.FunctionType(code, namespace, name, defaults, cells)
    fn.__qualname__ = qualname
    fn.__kwdefaults__ = kwdefaults
    return fn


def carve_register():
    """Make carve_make_function loadable under the module name the tracer pickled it with."""
    import sys
    import types

    if "r2e_carve_compare" not in sys.modules:
        module = types.ModuleType("r2e_carve_compare")
        module.carve_make_function = carve_make_function
        sys.modules["r2e_carve_compare"] = module
