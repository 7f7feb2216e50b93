"""Reading any header must not pull in torch (2 s) or numpy (0.1 s): ``info`` stays fast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from formats_factories import gguf_file, safetensors_bytes, state_dict, torch_zip


def test_readers_import_neither_torch_nor_numpy(tmp_path: Path) -> None:
    files = [
        gguf_file(tmp_path / "m.gguf"),
        torch_zip(tmp_path / "m.pt", *state_dict({"w": np.zeros(2, np.float32)})),
    ]
    st = tmp_path / "m.safetensors"
    st.write_bytes(safetensors_bytes({"a": ("F32", [1], 4)}))
    files.append(st)
    code = (
        "import json, sys\n"
        "from modelshelf.formats import read_header\n"
        "fmts = [read_header(p).format for p in sys.argv[1:]]\n"
        "print(json.dumps([fmts, 'torch' in sys.modules, 'numpy' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, *map(str, files)], capture_output=True,
                         text=True, check=True, timeout=60)
    assert json.loads(out.stdout) == [["gguf", "pickle", "safetensors"], False, False]
