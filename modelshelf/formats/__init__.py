"""Pure, hostile-input-safe readers of model files: safetensors, GGUF, torch pickles (never
executed), ONNX, and diffusers/transformers folders. Nothing here imports torch.

``read_header`` returns a :class:`ModelHeader`; broken files raise :class:`FormatError` with a
one-line reason; files in no model format come back as ``format="unknown"``.
"""

from modelshelf.formats.base import ModelHeader, Safety, TensorInfo
from modelshelf.formats.reader import detect_format, read_header, read_header_from, read_model
from modelshelf.formats.source import BytesSource, FileSource, RandomAccess

__all__ = [
    "BytesSource",
    "FileSource",
    "ModelHeader",
    "RandomAccess",
    "Safety",
    "TensorInfo",
    "detect_format",
    "read_header",
    "read_header_from",
    "read_model",
]
