"""A Ray task body that imports nothing heavy, so what it sees loaded is what the worker loaded."""
import sys


def modules_loaded(_job, *names):
    return [name in sys.modules for name in names]
