"""neurodash: explore the neurons of vision models, with the statistics that say whether an explanation can be trusted."""

__version__ = "0.1.0"
