"""A symbolic pickle machine: it follows the opcodes of a pickle and builds inert placeholders.

It never imports or calls anything. GLOBAL/STACK_GLOBAL/INST become :class:`Global` records,
REDUCE/NEWOBJ/OBJ become :class:`Call` records, and only the handful of calls whose meaning we
know (torch's tensor rebuild functions, ``OrderedDict()``) are *interpreted* — as data, not code —
so a safe checkpoint yields its tree of dicts with :class:`TensorRef` leaves. Work is bounded by an
opcode count, a stack depth and a memo size (each a :class:`FormatError` naming the limit), and by
the pickle's byte size (read by the caller with a cap; FRAME lengths are never used to read).

Two shapes are red flags whatever the globals: calling something that is not an imported name
(the result of an earlier call: ``getattr(x, "y")(...)``), and BUILD on an imported name, which
sets attributes on a live module object or class (how modelscan's allow-list was bypassed).
"""

from __future__ import annotations

import io
import pickletools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelshelf.errors import FormatError

# Real checkpoints: ~30 opcodes, one memo entry and a stack a few dozen deep per tensor (the
# pickler batches SETITEMS by 1,000); the largest data.pkl seen need a few hundred thousand.
MAX_OPS = 5_000_000
MAX_STACK = 1_000_000  # stack entries plus open MARKs
MAX_MEMO = 1_000_000
COMPUTED_CALL = "calls an object computed while loading, not an imported name: a gadget"


@dataclass(eq=False)
class Global:
    module: str
    name: str

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(eq=False)
class Call:
    """An object the pickle would construct by calling ``func``; kept, never built."""

    func: Any
    args: Any
    state: Any = None
    items: dict[Any, Any] = field(default_factory=dict)


@dataclass(eq=False)
class Opaque:
    """A value we cannot know statically (out-of-band buffer, extension code)."""

    what: str


@dataclass(eq=False)
class Persistent:
    pid: Any


@dataclass(eq=False)
class TensorRef:
    storage: Any  # whatever the container's persistent_load returned
    storage_offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


@dataclass(eq=False)
class _Key:
    """A dict key the pickle built from a non-atomic value (kept distinct, by identity)."""

    value: Any


@dataclass
class Result:
    root: Any
    globals: list[tuple[str, str]]
    problems: list[str]
    end: int  # offset just past STOP
    protocol: int


_ATOMS = (str, int, float, bytes)
_TENSOR_REBUILDERS = frozenset({
    "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
})
_PASS_THROUGH = frozenset({
    "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
    "torch.nn.parameter.Parameter",
})
_DICT_MAKERS = frozenset({"collections.OrderedDict", "builtins.dict", "collections.defaultdict"})


class Machine:
    """Run one pickle symbolically. ``persistent_load`` maps a persistent id to a placeholder."""

    def __init__(
        self,
        error: Callable[[str], FormatError],
        persistent_load: Callable[[Any], Any] = Persistent,
    ) -> None:
        self.error = error
        self.persistent_load = persistent_load
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}
        self.globals: list[tuple[str, str]] = []
        self.problems: list[str] = []

    def run(self, data: bytes) -> Result:
        # pickletools warns on odd escapes in protocol-0 strings: noise, not our business
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return self._run(data)

    def _run(self, data: bytes) -> Result:
        protocol = 0
        try:
            for count, (op, arg, pos) in enumerate(pickletools.genops(io.BytesIO(data))):
                if count >= MAX_OPS:
                    raise self.error(f"pickle has more than {MAX_OPS} opcodes (the limit)")
                if len(self.stack) + len(self.marks) > MAX_STACK:
                    raise self.error(f"pickle stack deeper than {MAX_STACK} entries (the limit)")
                if op.name == "PROTO" and isinstance(arg, int):
                    protocol = arg
                elif op.name == "STOP":
                    root = self.stack.pop() if self.stack else None
                    return Result(root, self.globals, self.problems, (pos or 0) + 1, protocol)
                self._step(op.name, arg, pos)
        except FormatError:
            raise
        except (ValueError, IndexError, KeyError, TypeError, OverflowError, EOFError) as exc:
            raise self.error(f"malformed pickle ({exc})") from None
        raise self.error("pickle ends without a STOP opcode: truncated")

    # -- the opcodes --------------------------------------------------------------------------

    def _step(self, name: str, arg: Any, pos: int | None) -> None:
        handler = _HANDLERS.get(name)
        if handler is not None:
            handler(self, arg)
        elif name in _PUSH_ARG:
            self.stack.append(arg)
        elif name not in _IGNORED:
            raise self.error(f"unsupported pickle opcode {name} at byte {pos}")

    def _pop(self) -> Any:
        if not self.stack:
            raise self.error("malformed pickle (stack underflow)")
        return self.stack.pop()

    def _pop_mark(self) -> list[Any]:
        if not self.marks:
            raise self.error("malformed pickle (no MARK)")
        at = self.marks.pop()
        items, self.stack[at:] = self.stack[at:], []
        return items

    def _target(self, op: str) -> Any:
        """The container ``op`` adds to: it stays on the stack."""
        if not self.stack:
            raise self.error(f"malformed pickle ({op} on an empty stack)")
        return self.stack[-1]

    def _global(self, module: Any, name: Any) -> Global:
        if not isinstance(module, str) or not isinstance(name, str):
            self.problems.append("imports a name computed at load time (STACK_GLOBAL)")
            return Global("?", "?")
        self.globals.append((module, name))
        return Global(module, name)

    def _callable(self, func: Any) -> Any:
        """``func`` as the target of a call, flagged unless it is an imported name."""
        if not isinstance(func, Global):
            self.problems.append(COMPUTED_CALL)
        return func

    def _reduce(self, func: Any, args: Any) -> Any:
        self._callable(func)
        qual = func.qualname if isinstance(func, Global) else None
        args = args if isinstance(args, tuple) else ()
        if qual in _TENSOR_REBUILDERS and len(args) >= 4:
            storage, offset, shape, stride = args[:4]
            return TensorRef(storage, offset, _ints(shape), _ints(stride))
        if qual in _PASS_THROUGH and args:
            return args[0]
        if qual == "torch._tensor._rebuild_from_type_v2" and len(args) >= 3:
            return self._reduce(args[0], args[2])
        if qual in _DICT_MAKERS:
            return self._dict_from_args(qual, args)
        return Call(func, args)

    def _dict_from_args(self, qual: str, args: tuple[Any, ...]) -> dict[Any, Any]:
        """``OrderedDict([[k, v], ...])`` (older torch) or ``dict({...})``; defaultdict's first
        argument is its factory, not items."""
        items = args[1:] if qual == "collections.defaultdict" else args
        d: dict[Any, Any] = {}
        if items and isinstance(items[0], dict):
            d.update(items[0])
        elif items and isinstance(items[0], list | tuple):
            pairs = [p for p in items[0] if isinstance(p, list | tuple) and len(p) == 2]
            self._setitems(d, [x for p in pairs for x in p])
        return d

    def _setitems(self, target: Any, pairs: list[Any]) -> None:
        dest = target.items if isinstance(target, Call) else target
        if not isinstance(dest, dict):
            raise self.error("malformed pickle (SETITEM on a non-dict)")
        for k, v in zip(pairs[::2], pairs[1::2], strict=False):
            # Only atoms are hashed: hashing a hostile million-deep tuple overflows the C stack.
            dest[k if k is None or isinstance(k, _ATOMS) else _Key(k)] = v

    def _appends(self, target: Any, items: list[Any]) -> None:
        if isinstance(target, list):
            target.extend(items)
        elif isinstance(target, Call):
            target.items.update({_Key(i): i for i in items})
        else:
            raise self.error("malformed pickle (APPEND to a non-list)")

    def _memo_get(self, key: Any) -> None:
        if key not in self.memo:
            raise self.error(f"malformed pickle (memo key {key} not defined)")
        self.stack.append(self.memo[key])

    def _memo_put(self, key: Any) -> None:
        if not self.stack:
            raise self.error("malformed pickle (PUT on an empty stack)")
        if len(self.memo) >= MAX_MEMO and key not in self.memo:
            raise self.error(f"pickle memo holds more than {MAX_MEMO} objects (the limit)")
        self.memo[key] = self.stack[-1]

    def _build(self, _: Any) -> None:
        state = self._pop()
        target = self.stack[-1] if self.stack else None
        if isinstance(target, Call):
            target.state = state
        elif isinstance(target, Global):
            self.problems.append(
                f"sets attributes of the imported {target.qualname} (BUILD): rewrites live code")

    def _ext(self, code: Any) -> None:
        self.problems.append(f"uses copyreg extension code {code} (imports a registered name)")
        self.stack.append(Opaque("extension"))


def _ints(v: Any) -> tuple[int, ...]:
    if isinstance(v, Call) and isinstance(v.func, Global) and v.func.qualname == "torch.Size":
        v = v.args[0] if v.args else ()
    if not isinstance(v, tuple | list) or not all(isinstance(d, int) for d in v):
        return ()
    return tuple(v)


def _tuple(n: int) -> Callable[[Machine, Any], None]:
    def handler(m: Machine, _: Any) -> None:
        items = [m._pop() for _ in range(n)][::-1]
        m.stack.append(tuple(items))

    return handler


def _stack_global(m: Machine, _: Any) -> None:
    name = m._pop()
    module = m._pop()
    m.stack.append(m._global(module, name))


def _inst(m: Machine, arg: Any) -> None:
    module, _, name = str(arg).partition(" ")
    m.stack.append(Call(m._global(module, name), tuple(m._pop_mark())))


def _obj(m: Machine, _: Any) -> None:
    items = m._pop_mark()
    if not items:
        raise m.error("malformed pickle (OBJ without a class)")
    m.stack.append(Call(m._callable(items[0]), tuple(items[1:])))


def _reduce_op(m: Machine, _: Any) -> None:
    args = m._pop()
    m.stack.append(m._reduce(m._pop(), args))


def _newobj(m: Machine, _: Any) -> None:
    args = m._pop()
    m.stack.append(Call(m._callable(m._pop()), args))


def _newobj_ex(m: Machine, _: Any) -> None:
    kwargs = m._pop()
    args = m._pop()
    m.stack.append(Call(m._callable(m._pop()), (args, kwargs)))


def _dict_from_mark(m: Machine, _: Any) -> None:
    d: dict[Any, Any] = {}
    m._setitems(d, m._pop_mark())
    m.stack.append(d)


def _setitem(m: Machine, _: Any) -> None:
    v = m._pop()
    k = m._pop()
    m._setitems(m._target("SETITEM"), [k, v])


def _setitems(m: Machine, _: Any) -> None:
    pairs = m._pop_mark()
    m._setitems(m._target("SETITEMS"), pairs)


def _append(m: Machine, _: Any) -> None:
    v = m._pop()
    m._appends(m._target("APPEND"), [v])


def _appends(m: Machine, _: Any) -> None:
    items = m._pop_mark()
    m._appends(m._target("APPENDS"), items)


def _additems(m: Machine, _: Any) -> None:
    items = m._pop_mark()
    if not m.stack or not isinstance(m.stack[-1], list):
        raise m.error("malformed pickle (ADDITEMS to a non-set)")
    m.stack[-1].extend(items)


# A handler's return value is ignored: ``object`` lets one-line lambdas return what they pop.
_HANDLERS: dict[str, Callable[[Machine, Any], object]] = {
    "MARK": lambda m, _: m.marks.append(len(m.stack)),
    "POP": lambda m, _: m._pop(),
    "POP_MARK": lambda m, _: m._pop_mark(),
    "DUP": lambda m, _: m.stack.append(m.stack[-1] if m.stack else m._pop()),
    "NONE": lambda m, _: m.stack.append(None),
    "NEWTRUE": lambda m, _: m.stack.append(True),
    "NEWFALSE": lambda m, _: m.stack.append(False),
    "EMPTY_LIST": lambda m, _: m.stack.append([]),
    "EMPTY_DICT": lambda m, _: m.stack.append({}),
    "EMPTY_TUPLE": lambda m, _: m.stack.append(()),
    "EMPTY_SET": lambda m, _: m.stack.append([]),  # sets kept as lists: items may be unhashable
    "LIST": lambda m, _: m.stack.append(m._pop_mark()),
    "TUPLE": lambda m, _: m.stack.append(tuple(m._pop_mark())),
    "FROZENSET": lambda m, _: m.stack.append(tuple(m._pop_mark())),
    "DICT": _dict_from_mark,
    "TUPLE1": _tuple(1),
    "TUPLE2": _tuple(2),
    "TUPLE3": _tuple(3),
    "APPEND": _append,
    "APPENDS": _appends,
    "SETITEM": _setitem,
    "SETITEMS": _setitems,
    "ADDITEMS": _additems,
    "GLOBAL": lambda m, arg: m.stack.append(m._global(*str(arg).partition(" ")[::2])),
    "STACK_GLOBAL": _stack_global,
    "INST": _inst,
    "OBJ": _obj,
    "REDUCE": _reduce_op,
    "NEWOBJ": _newobj,
    "NEWOBJ_EX": _newobj_ex,
    "BUILD": Machine._build,
    "PUT": Machine._memo_put,
    "BINPUT": Machine._memo_put,
    "LONG_BINPUT": Machine._memo_put,
    "MEMOIZE": lambda m, _: m._memo_put(len(m.memo)),
    "GET": Machine._memo_get,
    "BINGET": Machine._memo_get,
    "LONG_BINGET": Machine._memo_get,
    "PERSID": lambda m, arg: m.stack.append(m.persistent_load(arg)),
    "BINPERSID": lambda m, _: m.stack.append(m.persistent_load(m._pop())),
    "EXT1": Machine._ext,
    "EXT2": Machine._ext,
    "EXT4": Machine._ext,
    "NEXT_BUFFER": lambda m, _: m.stack.append(Opaque("out-of-band buffer")),
}
_PUSH_ARG = frozenset({
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "STRING", "BINSTRING",
    "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "UNICODE",
    "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "FLOAT", "BINFLOAT",
})
_IGNORED = frozenset({"PROTO", "FRAME", "READONLY_BUFFER"})
