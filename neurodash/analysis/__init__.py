"""Neuron-level analysis over a workspace: cards, concept scores with their bands, BE reports, the
layer table and the sanity report. Functions over `neurodash.protocol.WorkspaceView`, which
`neurodash.workspace.Workspace` satisfies (and small stand-ins in tests)."""

from neurodash.analysis.be import BEReport, bootstrap
from neurodash.analysis.card import NeuronCard, neuron_card
from neurodash.analysis.layer import layer_table
from neurodash.analysis.sanity import sanity_report
from neurodash.analysis.scores import ConceptScore, concept_scores
from neurodash.truth import ground_truth_metric, ground_truth_pairs

__all__ = ["BEReport", "bootstrap", "NeuronCard", "neuron_card", "layer_table", "sanity_report",
           "ConceptScore", "concept_scores", "ground_truth_metric", "ground_truth_pairs"]
