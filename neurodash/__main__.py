"""`python -m neurodash ...`: see neurodash/cli.py."""
import sys

from neurodash.cli import main

sys.exit(main())
