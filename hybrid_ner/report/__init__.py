"""The experiment report: markdown tables, PNG figures and displaCy sample
pages built from the result files of the training grid."""
