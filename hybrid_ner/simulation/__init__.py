"""Simulated annotation: human omissions and budgets
(:mod:`.omissions`) and a simulated LLM annotator with measured error
rates (:mod:`.annotator`)."""
