"""Fixtures for the format readers' tests: files are generated per test (see formats_factories)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
