"""Plain data the dashboard pages show, composed from workspace, analysis and statistics results.

Pages hold layout only; anything that computes (a histogram, a threshold, a share, a search for a
probe size) is composed here, one module per page, and returned as dicts and DataFrames. No
streamlit here.
"""

from neurodash.reports.export import safe_frame, to_csv
from neurodash.reports.layer import column_groups, coverage_summary, filter_layer, layer_be, layer_view, plottable
from neurodash.reports.neuron import (BAND_KINDS, QUANTILE_BINS, be_summary, binarization_threshold,
                                      card_histogram, concept_rows, cor32_reading, cor32_table, neuron_header,
                                      neurons_for_concept, quantile_bins, units_for_concept)
from neurodash.reports.planner import (PlannerSetting, planner_curves, planner_needed, planner_sizes,
                                       planner_starting_point, rate_metrics)
from neurodash.reports.triage import chosen_concept_ar, top_two_gap, triage_evidence, triage_table, unit_be_rows, unit_flags
from neurodash.reports.verify import judge, keep_threshold, select_summary, verify_many, verify_rows

__all__ = [
    "column_groups", "coverage_summary", "filter_layer", "layer_be", "layer_view", "plottable", "BAND_KINDS",
    "QUANTILE_BINS", "be_summary", "binarization_threshold", "card_histogram", "concept_rows",
    "cor32_reading", "neurons_for_concept", "quantile_bins", "PlannerSetting", "planner_curves",
    "planner_needed", "planner_sizes", "planner_starting_point", "rate_metrics", "chosen_concept_ar",
    "top_two_gap", "triage_evidence", "triage_table", "select_summary", "verify_many", "verify_rows",
    "safe_frame", "to_csv", "cor32_table", "neuron_header", "units_for_concept", "unit_flags", "judge", "unit_be_rows", "keep_threshold",
]
