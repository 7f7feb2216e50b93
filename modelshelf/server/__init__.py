"""Servers over the store: the LAN mirror of the Hub (``serve --mirror``).

Above :mod:`modelshelf.api` (it serves and fills a :class:`~modelshelf.api.Shelf`), below the CLI
that starts it. :mod:`modelshelf.server.hubapi` is the Hub protocol as plain data, shared with the
test suite's FakeHub.
"""
