"""``python -m modelshelf`` and the ``modelshelf`` console script: one short-lived process.

The cyclic garbage collector is tuned for long-running programs; a command that starts, does
one thing and exits pays for it twice, and neither pays back anything:

- at start, importing a command's modules (~550 with the Hub client) allocates enough to run
  the collector dozens of times over objects that live until exit (~25 ms of a ``pull``);
- at exit, the interpreter's teardown runs full collections over everything still alive
  (~75 ms of a ``pull`` on the benchmark machine, more than the rest of its exit).

So the collector is off while the command's modules load, then everything loaded is moved to
the permanent generation (``gc.freeze``: what Instagram does for its preforked servers), and
everything alive when the command ends as well. Unlike ``os._exit``, nothing is skipped: exit
handlers run, threads are joined, files are flushed and closed; garbage cycles the command made
while it ran are still collected as usual. This lives here and not in ``cli.main.main``: tests
and embedders call that in a long-lived process, whose objects must stay collectable.
"""

from __future__ import annotations

import gc
import sys
from typing import NoReturn


def console() -> NoReturn:
    gc.disable()
    from modelshelf.cli.main import main

    gc.freeze()
    gc.enable()
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    console()
