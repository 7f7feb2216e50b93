"""Which imports a pickle may make: the allow-list (``safe``), the known-dangerous (``unsafe``),
and everything else (``unknown``: a class whose code would have to run to load the file).

Unpickling a GLOBAL imports an arbitrary attribute of an arbitrary module and REDUCE calls it, so
a pickle is exactly as safe as the set of globals it names. These tables are that judgement.

The allow-list names exact callables, never a whole module: one forgotten attribute of an
allowed module (``numpy.dtypes.__builtins__``) is a way back to ``eval``. For the same reason a
dotted name (protocol 4 resolves ``"a.b.c"`` attribute by attribute) or a dunder name is never
allowed: it walks from an allowed object to whatever that object can reach.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from modelshelf.formats.base import Safety

# torch storage classes -> (safetensors-style dtype, bytes per element)
STORAGE_DTYPES: Mapping[str, tuple[str, int]] = {
    "FloatStorage": ("F32", 4), "DoubleStorage": ("F64", 8), "HalfStorage": ("F16", 2),
    "BFloat16Storage": ("BF16", 2), "LongStorage": ("I64", 8), "IntStorage": ("I32", 4),
    "ShortStorage": ("I16", 2), "CharStorage": ("I8", 1), "ByteStorage": ("U8", 1),
    "BoolStorage": ("BOOL", 1), "ComplexFloatStorage": ("C64", 8),
    "ComplexDoubleStorage": ("C128", 16), "UInt16Storage": ("U16", 2),
    "UInt32Storage": ("U32", 4), "UInt64Storage": ("U64", 8),
    "Float8_e4m3fnStorage": ("F8_E4M3", 1), "Float8_e5m2Storage": ("F8_E5M2", 1),
    "Float8_e8m0fnuStorage": ("F8_E8M0", 1), "QInt8Storage": ("QINT8", 1),
    "QUInt8Storage": ("QUINT8", 1), "QInt32Storage": ("QINT32", 4), "UntypedStorage": ("U8", 1),
}

_TORCH_VALUES = (
    "Size", "device", "dtype", "layout", "memory_format", "strided", "sparse_coo", "sparse_csr",
    "contiguous_format", "channels_last", "preserve_format", "float32", "float", "float64",
    "double", "float16", "half", "bfloat16", "int64", "long", "int32", "int", "int16", "int8",
    "uint8", "bool", "complex64", "complex128", "float8_e4m3fn", "float8_e5m2",
)

SAFE_GLOBALS: Mapping[str, frozenset[str]] = {
    "torch._utils": frozenset({
        "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
        "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_sparse_tensor",
        "_rebuild_device_tensor_from_numpy", "_rebuild_meta_tensor_no_storage",
        "_rebuild_nested_tensor",
    }),
    "torch._tensor": frozenset({"_rebuild_from_type_v2"}),
    "torch": frozenset(STORAGE_DTYPES) | frozenset(_TORCH_VALUES),
    "torch.storage": frozenset({"UntypedStorage", "TypedStorage"}),
    "torch.serialization": frozenset({"_get_layout"}),
    # TorchScript archives' data.pkl builds lists/tensors with these; the archive's own classes
    # (``__torch__.*``) stay "unknown": loading them runs the archive's compiled code.
    "torch.jit._pickle": frozenset({
        "build_intlist", "build_tensorlist", "build_doublelist", "build_boollist",
        "build_tensor_from_id", "restore_type_tag",
    }),
    "torch.nn.parameter": frozenset({"Parameter"}),
    "collections": frozenset({"OrderedDict", "defaultdict", "Counter", "deque"}),
    "builtins": frozenset({
        "set", "frozenset", "slice", "complex", "range", "bytearray", "bytes", "dict", "list",
        "tuple", "int", "float", "str", "bool",
    }),
    "_codecs": frozenset({"encode"}),
    "numpy": frozenset({"ndarray", "dtype"}),
    "numpy.core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy._core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "argparse": frozenset({"Namespace"}),
}
SAFE_GLOBALS = {
    **SAFE_GLOBALS,
    "__builtin__": SAFE_GLOBALS["builtins"],
    # numpy's dtype classes, as pickles of ``type(np.dtype(...))`` name them: the classes only
    "numpy.dtypes": frozenset(f"{kind}DType" for kind in (
        "Bool", "Byte", "UByte", "Short", "UShort", "Int", "UInt", "Long", "ULong", "LongLong",
        "ULongLong", "Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64",
        "Float16", "Float32", "Float64", "LongDouble", "Complex64", "Complex128",
        "CLongDouble", "Bytes", "Str", "Void", "DateTime64", "TimeDelta64",
    )),
}

RUNS_CODE = "would run code"
GADGET = "reaches arbitrary attributes or objects: a code-execution gadget"
ATTRIBUTE_PATH = "an attribute path out of the imported object: a code-execution gadget"

# Whole modules whose every attribute can run code, touch files or the network.
DANGEROUS_MODULES: Mapping[str, str] = dict.fromkeys(
    (
        "os", "posix", "nt", "subprocess", "sys", "runpy", "webbrowser", "socket", "shutil",
        "pty", "commands", "importlib", "pickle", "_pickle", "marshal", "types", "code", "codeop",
        "ctypes", "_ctypes", "multiprocessing", "asyncio", "platform", "requests", "urllib",
        "urllib3", "http", "httplib", "ftplib", "telnetlib", "smtplib", "pip", "setuptools",
        "distutils", "bdb", "pdb", "timeit", "trace", "profile", "cProfile", "threading",
        "_thread", "signal", "tempfile", "glob", "zipimport", "imp", "dill", "cloudpickle",
        "joblib", "torch.hub", "torch._dynamo", "torch.utils.cpp_extension",
        "numpy.testing", "io", "_io", "pathlib", "posixpath", "ntpath", "sqlite3",
        # seen in picklescan/modelscan bypass reports (tests/security lists each one)
        "pkgutil", "idlelib", "lib2to3", "ensurepip", "venv", "_posixsubprocess", "mailcap",
        "_osx_support", "_aix_support", "pydoc", "doctest", "site", "shelve", "dbm", "tarfile",
        "zipfile", "logging.config", "xmlrpc", "socketserver", "imaplib", "poplib", "nntplib",
        "_pyrepl", "rlcompleter", "gc", "torch.ops", "torch._C",
        "torch.utils.data.datapipes", "torch.utils.collect_env", "atexit", "fickling",
        "picklescan", "modelscan",
    ),
    RUNS_CODE,
)

DANGEROUS_NAMES: Mapping[str, Mapping[str, str]] = {
    "builtins": {
        **dict.fromkeys(
            ("eval", "exec", "execfile", "compile", "open", "__import__", "input", "breakpoint",
             "apply", "help", "exit", "quit"),
            RUNS_CODE,
        ),
        **dict.fromkeys(("getattr", "setattr", "delattr", "globals", "locals", "vars", "type",
                         "object", "super", "memoryview", "classmethod", "staticmethod",
                         "map", "filter", "sorted", "min", "max", "iter", "next", "property"),
                        GADGET),
    },
    "operator": dict.fromkeys(
        ("attrgetter", "methodcaller", "itemgetter", "call", "getitem", "setitem"), GADGET),
    "functools": dict.fromkeys(("partial", "reduce", "partialmethod"), GADGET),
    "torch": dict.fromkeys(("load", "save", "compile"), RUNS_CODE),
    "torch.serialization": dict.fromkeys(("load", "_load"), RUNS_CODE),
    "torch.jit": dict.fromkeys(("load", "script", "trace", "_load_for_lite_interpreter"),
                               RUNS_CODE),
    "numpy": dict.fromkeys(("load", "fromfile", "loadtxt", "save"), RUNS_CODE),
    "uuid": {"_get_command_stdout": RUNS_CODE},
    "weakref": {"finalize": RUNS_CODE},
}
DANGEROUS_NAMES = {
    **DANGEROUS_NAMES,
    "__builtin__": DANGEROUS_NAMES["builtins"],
    "_operator": DANGEROUS_NAMES["operator"],
}


def is_safe(module: str, name: str) -> bool:
    """Exactly the names listed: no module wildcard, and so no dotted or dunder name."""
    return name in SAFE_GLOBALS.get(module, ())


def danger(module: str, name: str) -> str | None:
    """Why importing ``module.name`` is dangerous, or None if it is not known to be."""
    if "." in name or (name.startswith("__") and name.endswith("__")):
        return ATTRIBUTE_PATH
    reason = DANGEROUS_NAMES.get(module, {}).get(name)
    if reason:
        return reason
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        reason = DANGEROUS_MODULES.get(".".join(parts[:i]))
        if reason:
            return reason
    return None


TORCHSCRIPT_PREFIX = "__torch__"
MAX_FINDINGS = 20


def judge(
    globals_: Iterable[tuple[str, str]], problems: Iterable[str] = (), doubts: Iterable[str] = (),
) -> Safety:
    """``problems`` are structural red flags found by the opcode walk (always ``unsafe``);
    ``doubts`` are reasons the analysis may not have seen what a loader sees (``unknown``)."""
    unsafe: list[str] = list(dict.fromkeys(problems))
    unknown: list[str] = list(dict.fromkeys(doubts))
    scripted: list[str] = []
    for module, name in dict.fromkeys(globals_):
        if is_safe(module, name):
            continue
        reason = danger(module, name)
        if reason:
            unsafe.append(f"imports {module}.{name} ({reason})")
        elif module.split(".")[0] == TORCHSCRIPT_PREFIX:
            scripted.append(f"{module}.{name}")
        else:
            unknown.append(f"imports {module}.{name} (not on the allow-list: needs its code)")
    if scripted:
        unknown.append(
            f"TorchScript archive with {len(scripted)} compiled classes (e.g. {scripted[0]}): "
            "loading runs its code"
        )
    findings = unsafe + unknown
    if len(findings) > MAX_FINDINGS:
        findings[MAX_FINDINGS - 1 :] = [f"... and {len(findings) - MAX_FINDINGS + 1} more"]
    if unsafe:
        return Safety("unsafe", tuple(findings))
    if unknown:
        return Safety("unknown", tuple(findings))
    return Safety("safe")
