"""Pure array statistics: metrics, faithfulness bounds, bootstrap ensemble, sanity checks.

No I/O, no models, no streamlit.
"""
from neurodash.stats.metrics import METRICS, Metric, binarize, confusion_counts, similarities, similarity

__all__ = ["METRICS", "Metric", "binarize", "confusion_counts", "similarities", "similarity"]
