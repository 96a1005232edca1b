"""Pure array statistics: metrics, faithfulness bounds, bootstrap ensemble, sanity checks.

No I/O, no models, no streamlit.
"""
from neurodash.stats.heap import keep_freed_memory
from neurodash.stats.metrics import METRICS, Metric, binarize, confusion_counts, similarities, similarity

__all__ = ["METRICS", "Metric", "binarize", "confusion_counts", "similarities", "similarity"]

keep_freed_memory()  # row-sized temporaries reuse heap pages (see heap.py)
