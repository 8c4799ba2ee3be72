"""Merge: human annotation first, LLM proposals where the human is silent (docs/method.md)."""
