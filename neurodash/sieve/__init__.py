"""SIEVE: Select, Hypothesize, Verify (arXiv 2603.24953), on any workspace.

- select:      selectivity = P99 / median of each neuron's probe activations; selective when > β.
- hypothesize: clusters of the top images' high-activation crops, each named by CLIP.
- verify:      the Activation Rate of a concept's renders for a neuron, with an interval and a
               control concept's AR.
- layer_table: mean AR per explanation source over the layer (the paper's main table).

The workspace is used through `neurodash.protocol.ProbeView`, so tests can hand in a
small stand-in.
"""

from neurodash.sieve.control import choose_control
from neurodash.sieve.hypothesize import (Clustering, Hypothesis, cluster_embeddings, context_images, crop_box,
                                         crop_images, hypothesize)
from neurodash.sieve.layer import baseline_explanations, clip_concept_activations, layer_table, sieve_run
from neurodash.sieve.renders import (SIEVE_FORMAT, activation_hits, activation_thresholds, ar_by_concept,
                                     as_generator, render_activations, rendered_images)
from neurodash.sieve.select import BETA, TOP, SelectResult, select, selectivity_ratio
from neurodash.sieve.verify import VerifyResult, verify

__all__ = [
    "choose_control", "Clustering", "Hypothesis", "cluster_embeddings", "context_images", "crop_box", "crop_images",
    "hypothesize", "baseline_explanations", "clip_concept_activations", "layer_table", "sieve_run",
    "SIEVE_FORMAT", "activation_hits", "activation_thresholds", "ar_by_concept", "as_generator",
    "render_activations", "rendered_images", "BETA", "TOP", "SelectResult", "select",
    "selectivity_ratio", "VerifyResult", "verify",
]
