"""The dashboard's chart colours, shared by the Plotly (charts) and static SVG (svgcharts) figures."""

SET_COLOR = "#d62728"  # prediction-set members, the chosen concept
OTHER_COLOR = "#9aa5b1"
TRUE_COLOR = "#2ca02c"  # the ground-truth concept
