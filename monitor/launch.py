"""The `monitor` command's entry point.

Loading the commands takes a moment; Ctrl-C in that moment ends the program
quietly, as it does once the program runs, not with a traceback of whichever
import was under way.
"""

from __future__ import annotations

import sys

#: the exit status of a program stopped by SIGINT, as shells report it
_INTERRUPTED = 130


def main() -> None:
    try:
        from monitor.cli import main as run_command
    except KeyboardInterrupt:
        sys.exit(_INTERRUPTED)
    run_command()
