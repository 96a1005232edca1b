"""The dashboard's streamlit layer: cached loaders, the sidebar/context, shared widgets and charts.

Pages import only this package (and streamlit): `ctx = ui.current()` gives the chosen workspace and
neuron; everything that computes comes through the loaders (cached) and neurodash.reports.
"""

from neurodash import coverage, reports, triage
from neurodash.annotations import STATUSES
from neurodash.generate import get_generator
from neurodash.sieve.renders import DEFAULT_M
from neurodash.ui import charts, jobs, svgcharts
from neurodash.ui.context import Context, current, neuron_page_top, open_neuron, planner_defaults, sidebar
from neurodash.ui.loaders import (
    bootstrap,
    cancel_prefetch,
    concept_figure,
    histogram,
    histogram_figure,
    layer_table,
    neuron_card,
    planner,
    prefetch_neurons,
    quantile_bins,
    sanity_report,
    selectivity,
    top_images,
    top_tiles,
    workspace,
)
from neurodash.ui.loaders import (
    annotation,
    annotations,
    chosen_concept_ar,
    hypotheses,
    keep_threshold_job,
    layer_be,
    thumbnails,
    rendered_images,
    sieve_layer_table,
    sieve_select,
)
from neurodash.ui.sections import (
    DELTA,
    auto_flags,
    be_metrics,
    be_section,
    computed_layer_be,
    layer_ar_section,
    layer_be_section,
    measured_ar,
    neuron_be,
    remember_verdicts,
    verdict_for,
    page_metrics,
    sanity_badges,
    workspace_warnings,
)
from neurodash.ui.widgets import downloads, guard, image_grid, literal, progress_callback
from neurodash.workspace import TOP_K

__all__ = [
    "coverage", "reports", "triage", "STATUSES", "jobs", "charts", "svgcharts", "Context", "current", "neuron_page_top", "open_neuron", "planner_defaults", "sidebar", "bootstrap", "histogram",
    "layer_table", "neuron_card", "planner", "quantile_bins", "sanity_report", "selectivity", "top_images", "top_tiles",
    "workspace", "annotation", "annotations", "chosen_concept_ar", "hypotheses", "layer_be", "sieve_layer_table", "sieve_select", "get_generator", "rendered_images",
    "auto_flags", "be_metrics", "layer_ar_section", "layer_be_section", "DELTA", "be_section", "page_metrics", "sanity_badges", "TOP_K", "downloads", "guard", "image_grid", "progress_callback",
    "keep_threshold_job", "thumbnails", "computed_layer_be", "measured_ar", "neuron_be", "workspace_warnings", "literal", "remember_verdicts", "verdict_for",
    "DEFAULT_M", "concept_figure", "histogram_figure", "prefetch_neurons",
    "cancel_prefetch",
]
