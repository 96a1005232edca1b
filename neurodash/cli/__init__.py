"""`python -m neurodash <command>`: the one dispatcher.

Commands live in their own modules (workspace.py: precompute, report, layer; models.py: models,
layers; verify.py: SIEVE verify; coverage.py: BE coverage across probe sizes), each with ``register(subparsers)``; they share only
`neurodash.cli.options` and never import each other or this module. Long steps show a tqdm bar;
an error is one line on stderr and exit status 2, never a traceback (NEURODASH_DEBUG=1 shows it).
"""

from __future__ import annotations

import argparse
import os
import sys

from neurodash.cli import coverage as coverage_commands
from neurodash.cli import models as model_commands
from neurodash.cli import verify as verify_commands
from neurodash.cli import workspace as workspace_commands

EXIT_ERROR = 2
COMMAND_MODULES = (workspace_commands, model_commands, verify_commands, coverage_commands)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m neurodash",
                                description="neurodash: neurons of vision models, with statistics.")
    sub = p.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "offline", False):
        from neurodash.hub import set_offline
        set_offline()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # one clear line, not a traceback
        if os.environ.get("NEURODASH_DEBUG"):
            raise
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"neurodash {args.command}: error: {msg}", file=sys.stderr)
        return EXIT_ERROR
