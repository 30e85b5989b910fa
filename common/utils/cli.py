"""How entry scripts end on a user's mistake: one line on stderr and exit status 2, never a traceback.

``ArgumentParser`` is argparse's parser whose errors (unknown flag, bad value, conflicting flags through
``parser.error``) print one line ``PROG: error: MESSAGE (see PROG --help)`` instead of the usage block;
:func:`exit_with_error` ends a script the same way for errors found after parsing (a bad config key, a missing
file, a device that does not exist). Exit status: 2 for such input errors, 1 for failures while running
(e.g. a full disk), 0 for success.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

__all__ = ['INPUT_ERROR', 'RUN_ERROR', 'ArgumentParser', 'exit_with_error']

INPUT_ERROR = 2  # as argparse: the command line or an input it names is wrong
RUN_ERROR = 1    # the inputs were fine but the run failed (disk full, ...)


def exit_with_error(message: object, code: int = INPUT_ERROR, prog: str | None = None) -> NoReturn:
    """Print ``PROG: error: MESSAGE`` to stderr and exit with ``code``."""
    prog = prog or os.path.basename(sys.argv[0]) or 'smplerx'
    sys.stderr.write(f'{prog}: error: {message}\n')
    raise SystemExit(code)


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with one-line errors (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        exit_with_error(f'{message} (see {self.prog} --help)', INPUT_ERROR, self.prog)
