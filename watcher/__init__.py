"""ctwatch: watch ClinicalTrials.gov records and tell people what changed."""

__version__ = "0.1.0"
