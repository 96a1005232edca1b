"""`python -m neurodash ...`: see neurodash/cli/."""
import sys

from neurodash.cli import main

sys.exit(main())
