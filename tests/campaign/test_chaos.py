"""The chaos campaign as tests: a bounded run in every default test run, a bigger one marked slow.

The seed is printed (see it with ``-s`` or in the failure message); ``CAMPAIGN_SEED=<n>`` replays
a failing run. The default run uses a fixed seed so CI is repeatable; the slow run a fresh one,
so every run of it explores new schedules.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .chaos import run_campaign, seed_from_env

DEFAULT_SEED = 20261204
DEFAULT_STEPS = 14  # every kind of step twice: ~15 s on an idle 2-core machine


def test_campaign_bounded(tmp_path: Path) -> None:
    summary = run_campaign(tmp_path, seed_from_env(DEFAULT_SEED), DEFAULT_STEPS, max_seconds=90)
    print(summary.table())
    assert summary.kills >= 1 and summary.concurrent_clients >= 2
    assert summary.faults, "no fault fired"
    assert summary.checks >= DEFAULT_STEPS


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_campaign_large(tmp_path: Path) -> None:
    summary = run_campaign(tmp_path, seed_from_env(), 120, max_seconds=600)
    print(summary.table())
    assert len(summary.faults) >= 8
