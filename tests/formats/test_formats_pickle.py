"""Torch checkpoints and pickles: tensors recovered without torch, code never run, every
dangerous import reported."""

from __future__ import annotations

import builtins
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from formats_factories import OD, Emitter, G, R, state_dict, tensor, torch_legacy, torch_zip

from modelshelf.errors import FormatError
from modelshelf.formats import BytesSource, detect_format, read_header, read_header_from

ARRAYS = {
    "model.diffusion_model.conv_in.weight": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2),
    "model.diffusion_model.conv_in.bias": np.arange(2, dtype=np.float16),
    "cond_stage_model.position_ids": np.arange(5, dtype=np.int64).reshape(1, 5),
}


def _check_tensors(path: Path, arrays: dict[str, np.ndarray], prefix: str = "") -> None:
    h = read_header(path)
    assert h.format == "pickle"
    assert h.safety.status == "safe", h.safety
    raw = path.read_bytes()
    for name, arr in arrays.items():
        t = h.tensors[prefix + name]
        assert t.shape == arr.shape
        assert t.nbytes == arr.nbytes
        assert raw[t.offset : t.offset + t.nbytes] == arr.tobytes()
    assert {t.dtype for t in h.tensors.values()} == {"F32", "F16", "I64"}


def test_torch_zip_tensors_and_offsets(tmp_path: Path) -> None:
    sd, storages = state_dict(ARRAYS)
    path = torch_zip(tmp_path / "model.ckpt", sd, storages)
    assert detect_format(path) == "pickle"
    _check_tensors(path, ARRAYS)
    assert read_header(path).metadata["pickle.container"] == "torch-zip"


def test_lightning_checkpoint_picks_the_state_dict(tmp_path: Path) -> None:
    sd, storages = state_dict(ARRAYS)
    ckpt = {"epoch": 3, "global_step": 1200, "state_dict": sd, "callbacks": {}}
    path = torch_zip(tmp_path / "sd.ckpt", ckpt, storages, root="sd")
    _check_tensors(path, ARRAYS)
    h = read_header(path)
    assert h.metadata["global_step"] == 1200


def test_nested_dicts_are_flattened_with_dots(tmp_path: Path) -> None:
    sd, storages = state_dict(ARRAYS)
    path = torch_zip(tmp_path / "nested.pth", {"model": sd, "step": 5}, storages)
    _check_tensors(path, ARRAYS, prefix="model.")


def test_parameters_and_shared_storage_views(tmp_path: Path) -> None:
    base = np.arange(12, dtype=np.float32)
    param = R(G("torch._utils", "_rebuild_parameter"), (tensor("0", base), True, OD()))
    view = tensor("0", base, offset=4, shape=(2, 4))
    transposed = tensor("0", base, shape=(4, 3), stride=(1, 4))
    obj = OD({"p": param, "view": view, "t": transposed})
    path = torch_zip(tmp_path / "views.pt", obj, {"0": base.tobytes()})

    h = read_header(path)
    raw = path.read_bytes()
    v = h.tensors["view"]
    assert v.shape == (2, 4) and v.storage_offset == 4
    assert raw[v.offset : v.offset + v.nbytes] == base[4:12].tobytes()
    assert h.tensors["p"].shape == (12,)
    t = h.tensors["t"]
    assert t.offset is None and t.stride == (1, 4)  # not streamable as-is: convert must gather


def test_legacy_format_tensors_and_offsets(tmp_path: Path) -> None:
    sd, storages = state_dict(ARRAYS, legacy=True)
    sizes = {str(i): a.itemsize for i, a in enumerate(ARRAYS.values())}
    path = torch_legacy(tmp_path / "old.pth", sd, storages, sizes)
    assert detect_format(path) == "pickle"
    _check_tensors(path, ARRAYS)
    assert read_header(path).metadata["pickle.container"] == "torch-legacy"


def test_tensor_reaching_past_its_storage_is_an_error(tmp_path: Path) -> None:
    arr = np.arange(4, dtype=np.float32)
    obj = OD({"w": tensor("0", arr, shape=(100,))})
    path = torch_zip(tmp_path / "bad.pt", obj, {"0": arr.tobytes()})
    with pytest.raises(FormatError, match="past the end of storage"):
        read_header(path)


def test_missing_storage_entry_is_an_error(tmp_path: Path) -> None:
    sd, _ = state_dict({"w": np.zeros(3, np.float32)})
    path = torch_zip(tmp_path / "nodata.pt", sd, {})
    with pytest.raises(FormatError, match="missing"):
        read_header(path)


def test_truncated_zip_and_truncated_pickle_are_errors(tmp_path: Path) -> None:
    sd, storages = state_dict(ARRAYS)
    data = torch_zip(tmp_path / "m.pt", sd, storages).read_bytes()
    with pytest.raises(FormatError):
        read_header_from(BytesSource(data[: len(data) // 2]), "cut.pt")
    legacy = torch_legacy(tmp_path / "l.pt", *state_dict({"w": np.zeros(3, np.float32)}, True),
                          {"0": 4}).read_bytes()
    for cut in (40, len(legacy) - 5):
        with pytest.raises(FormatError):
            read_header_from(BytesSource(legacy[:cut]), "cut.pt")


def test_other_zips_are_unknown(tmp_path: Path) -> None:
    path = tmp_path / "arrays.npz"
    np.savez(path, a=np.zeros(3))
    assert detect_format(path) == "unknown"
    assert read_header(path).format == "unknown"


# -- malicious pickles: never executed, always reported ----------------------------------------


class _System:
    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self) -> tuple:
        return (os.system, (self.cmd,))


class _Eval:
    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self) -> tuple:
        return (builtins.eval, (self.code,))


class _Popen:
    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self) -> tuple:
        return (subprocess.Popen, (["touch", self.cmd],))


def _payloads(marker: Path) -> dict[str, bytes]:
    touch = f"touch {marker}"
    return {
        "os.system p2": pickle.dumps({"w": _System(touch)}, protocol=2),
        "os.system p4": pickle.dumps([_System(touch)], protocol=4),
        "os.system p0": pickle.dumps(_System(touch), protocol=0),
        "eval": pickle.dumps(_Eval(f"__import__('os').system('{touch}')"), protocol=2),
        "subprocess": pickle.dumps(_Popen(str(marker)), protocol=3),
        "exec by hand": Emitter().dump(R(G("builtins", "exec"), (f"open('{marker}','w')",))),
        "getattr gadget": Emitter().dump(
            R(R(G("builtins", "getattr"), (G("os", "path"), "join")), ("a",))
        ),
    }


EXPECTED_FINDING = {
    "os.system p2": "system (would run code)",
    "os.system p4": "system (would run code)",
    "os.system p0": "system (would run code)",
    "eval": ".eval (would run code)",
    "subprocess": "subprocess.Popen (would run code)",
    "exec by hand": "builtins.exec (would run code)",
    "getattr gadget": "builtins.getattr",
}


@pytest.mark.parametrize("kind", list(EXPECTED_FINDING))
def test_malicious_plain_pickles_are_unsafe_and_never_run(tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "model.safetensors"  # the name lies too
    path.write_bytes(_payloads(marker)[kind])

    h = read_header(path)

    assert not marker.exists()
    assert h.format == "pickle"
    assert h.safety.status == "unsafe"
    assert any(EXPECTED_FINDING[kind] in f for f in h.safety.findings), h.safety.findings
    assert any(f.startswith("imports ") for f in h.safety.findings)


def test_malicious_torch_zip_is_unsafe_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    sd, storages = state_dict(ARRAYS)
    sd["evil"] = R(G("os", "system"), (f"touch {marker}",))
    path = torch_zip(tmp_path / "evil.pt", sd, storages)

    h = read_header(path)

    assert not marker.exists()
    assert h.safety.status == "unsafe"
    assert "imports os.system (would run code)" in h.safety.findings
    assert h.tensors == {}


def test_malicious_legacy_file_is_unsafe(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    main = pickle.dumps(_System(f"touch {marker}"), protocol=2)
    path = torch_legacy(tmp_path / "evil_old.pt", None, {}, {}, main_pkl=main)
    h = read_header(path)
    assert not marker.exists()
    assert h.safety.status == "unsafe"


def test_broken_pickle_after_a_dangerous_import_is_still_unsafe(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = pickle.dumps(_System(f"touch {marker}"), protocol=2)[:-1] + b"\xff\xff"
    h = read_header_from(BytesSource(data), "broken.pkl")
    assert h.safety.status == "unsafe"
    assert any("broken after its imports" in f for f in h.safety.findings)


def test_dynamic_stack_global_is_unsafe() -> None:
    # STACK_GLOBAL whose module name comes from a memo'd list, not a constant string
    data = b"\x80\x04]\x94\x8c\x04join\x94\x93."
    h = read_header_from(BytesSource(data), "dyn.pkl")
    assert h.safety.status == "unsafe"
    assert any("computed at load time" in f for f in h.safety.findings)


def test_third_party_classes_are_unknown_not_unsafe(tmp_path: Path) -> None:
    sd, storages = state_dict(ARRAYS)
    cb = R(G("pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint"), ())
    path = torch_zip(tmp_path / "pl.ckpt", {"state_dict": sd, "callbacks": [cb]}, storages)
    h = read_header(path)
    assert h.safety.status == "unknown"
    assert h.safety.findings == (
        "imports pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint "
        "(not on the allow-list: needs its code)",
    )
    assert len(h.tensors) == len(ARRAYS)


def test_billion_laughs_memo_bomb_is_bounded() -> None:
    # each level is a list holding the previous one 10 times, via memo: 10^30 leaves if expanded
    out = bytearray(b"\x80\x02]q\x00")
    for level in range(1, 31):
        out += b"](" + b"h" + bytes([level - 1]) + b"" + (b"h" + bytes([level - 1])) * 9 + b"e"
        out += b"q" + bytes([level])
    out += b"."
    h = read_header_from(BytesSource(bytes(out)), "bomb.pkl")
    assert h.safety.status == "safe"


def test_plain_safe_pickle_is_safe() -> None:
    data = pickle.dumps({"a": [1, 2.5, "x"], "b": {1, 2}, "c": slice(1, 2)}, protocol=4)
    h = read_header_from(BytesSource(data), "ok.pkl")
    assert (h.format, h.safety.status) == ("pickle", "safe")


def test_compressed_storage_has_no_offset_but_keeps_tensors(tmp_path: Path) -> None:
    sd, storages = state_dict({"w": np.zeros(8, np.float32)})
    path = tmp_path / "deflated.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", Emitter().dump(sd))
        zf.writestr("archive/data/0", storages["0"])
    h = read_header(path)
    assert h.tensors["w"].offset is None and h.tensors["w"].shape == (8,)


DEEP = 1_000_000
DEEP_PICKLES = {
    "deep tuple as a dict key": b"\x80\x02}N" + b"\x85" * DEEP + b"K\x01s.",
    "deep calls": b"\x80\x02cbuiltins\nset\nq\x000" + b"(h\x00" * DEEP + b"N" + b"o" * DEEP + b".",
    "deep lists": b"\x80\x02}(K\x01" + b"(" * DEEP + b"N" + b"l" * DEEP + b"u.",
}


@pytest.mark.parametrize("kind", list(DEEP_PICKLES))
def test_million_deep_structures_do_not_crash_the_interpreter(tmp_path: Path, kind: str) -> None:
    # run in a child: a regression here is a C stack overflow (segfault), not an exception
    path = tmp_path / "deep.pkl"
    path.write_bytes(DEEP_PICKLES[kind])
    code = ("import sys; from modelshelf.formats import read_header\n"
            "try: print(read_header(sys.argv[1]).safety.status)\n"
            "except ValueError as exc: print(exc)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr[-500:]
    # within the stack limit it is analysed; past it, one clear error naming the limit
    assert out.stdout.strip() == "safe" or "deeper than 1000000 entries (the limit)" in out.stdout


def test_pickle_larger_than_we_analyse_is_unknown_not_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from modelshelf.formats import pickle_fmt

    monkeypatch.setattr(pickle_fmt, "MAX_PICKLE", 64)
    data = pickle.dumps({"blob": b"x" * 1000}, protocol=4)
    h = read_header_from(BytesSource(data), "big.pkl")
    assert h.safety.status == "unknown"
    assert "only the first 64" in h.safety.findings[-1]
    evil = pickle.dumps([_System("true"), b"x" * 1000], protocol=4)
    assert read_header_from(BytesSource(evil), "big.pkl").safety.status == "unsafe"


def test_legacy_main_pickle_longer_than_the_first_window_is_not_called_broken(
    tmp_path: Path,
) -> None:
    # The first read window (1 MiB) cuts this main pickle after its third-party import: that
    # is our read, not damage, so the verdict is the import's ("unknown"), not "unsafe".
    sd, storages = state_dict({"w": np.arange(4, dtype=np.float32)}, legacy=True)
    cb = R(G("pytorch_lightning.callbacks", "ModelCheckpoint"), ())
    main = Emitter().dump({"callbacks": [cb], "pad": "x" * (2 << 20), "state_dict": sd})
    path = torch_legacy(tmp_path / "big_old.ckpt", None, storages, {"0": 4}, main_pkl=main)
    h = read_header(path)
    assert h.safety.status == "unknown", h.safety
    assert list(h.tensors) == ["w"]


def test_every_pickle_of_a_legacy_file_is_judged(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = pickle.dumps(_System(f"touch {marker}"), protocol=2)[2:-1] + b"0"  # call, then POP
    sd, storages = state_dict({"w": np.arange(4, dtype=np.float32)}, legacy=True)
    path = torch_legacy(tmp_path / "old.pt", sd, storages, {"0": 4})
    clean = path.read_bytes()
    # the sys_info pickle (third) runs the payload, then leaves the dict torch expects
    at = clean.index(b"\x80\x02}")
    path.write_bytes(clean[: at + 2] + evil + clean[at + 2 :])
    h = read_header(path)
    assert not marker.exists()
    assert h.safety.status == "unsafe"
    assert "imports posix.system (would run code)" in h.safety.findings


def test_an_unreadable_extra_entry_is_a_doubt_not_a_broken_checkpoint(tmp_path: Path) -> None:
    sd, storages = state_dict({"w": np.zeros(4, np.float32)})
    path = torch_zip(tmp_path / "m.pt", sd, storages)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_BZIP2) as zf:  # a method torch never writes
        zf.writestr("archive/extra/notes.bin", b"\x80\x02" + b"x" * 100)
    h = read_header(path)
    assert h.safety.status == "unknown"
    assert any("archive/extra/notes.bin cannot be read" in f for f in h.safety.findings)
    assert list(h.tensors) == ["w"]


def test_a_zip_entry_with_an_empty_name_is_read_not_a_crash(tmp_path: Path) -> None:
    """Found by the long fuzz run: ``ZipInfo.is_dir()`` indexes the name's last character, so a
    member named "" raised IndexError out of the reader instead of a verdict."""
    sd, storages = state_dict({"w": np.zeros(4, np.float32)})
    path = torch_zip(tmp_path / "m.pt", sd, storages)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(zipfile.ZipInfo(""), b"not a pickle")
    h = read_header(path)
    assert list(h.tensors) == ["w"]
    assert h.safety.status == "safe"
