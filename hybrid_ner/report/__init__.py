"""The experiment report: markdown tables, PNG figures and displaCy sample pages."""
