"""Where the shipped files live: the project's ``assets/`` folder (weights, records, small data)."""

from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
