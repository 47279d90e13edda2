"""Imported once by the fork server the parse processes come from (see pipeline.parse_pool).

It loads what a parse process runs, then freezes the garbage collector's view of
those objects: a child's collections would otherwise write to every page holding
one, and so copy pages it shares with the fork server (tens of MiB per child).
"""

import gc

import monitor.pipeline  # noqa: F401  (loaded here once, shared by every child)

gc.freeze()
