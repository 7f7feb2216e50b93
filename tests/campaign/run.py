"""Run the chaos campaign from the command line and print its summary table.

    python -m tests.campaign.run --steps 200 --seed 7
    CAMPAIGN_SEED=7 python -m tests.campaign.run          # replay a failing seed

Exit 0 when every invariant held, 1 (with the step and the seed) when one did not.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from .chaos import run_campaign, seed_from_env
from .invariants import Broken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.campaign.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40, help="campaign steps (default 40)")
    parser.add_argument("--seed", type=int, help="default: $CAMPAIGN_SEED, else random")
    parser.add_argument("--max-seconds", type=float, help="start no step after this long")
    parser.add_argument("--known-bugs", action="store_true",
                        help="also inject the faults whose bugs are fixed on other branches")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else seed_from_env()
    with tempfile.TemporaryDirectory(prefix="modelshelf-chaos-") as tmp:
        try:
            summary = run_campaign(Path(tmp), seed, args.steps, known_bugs=args.known_bugs,
                                   max_seconds=args.max_seconds)
        except Broken as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
    print(summary.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
