"""Calibrated evidence: how far each annotation source deserves to be trusted."""
