"""Simulated annotation: human omissions and budgets, and a simulated annotator."""
