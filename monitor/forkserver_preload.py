"""Imported once by the fork server the parse processes come from (see pool.parse_pool).

It loads what a parse process runs, and what multiprocessing makes every child
import again: the worker's main module, which for the `monitor` command is
monitor.cli and all it loads. Loaded here, those pages are shared by every
child instead of copied into each. Then it freezes the garbage collector's view
of these objects: a child's collections would otherwise write to every page
holding one, and so copy pages it shares with the fork server (tens of MiB per
child).
"""

import signal

# Ctrl-C is the worker's to handle: the fork server ignores it from here on (multiprocessing
# would only once this module is loaded, a second or so after a Ctrl-C may have come)
signal.signal(signal.SIGINT, signal.SIG_IGN)

import gc  # noqa: E402

import monitor.cli  # noqa: E402
import monitor.pool  # noqa: E402, F401

gc.freeze()
