"""``make bench``: the performance figures of issue #8, in one run (see ``benchmarks.run``).

Also a tiny Django app, installed only by ``benchmarks.settings``: the floor view and its table.
"""
