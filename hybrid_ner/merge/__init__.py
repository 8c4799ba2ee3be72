"""Merge: human annotation first, LLM proposals where the human is silent.

* :mod:`.merger`: the registered ``hybrid_ner.Merger.v1`` and overlap rules.
* :mod:`.acceptance`: the acceptance policies (``hybrid_ner.accept_*.v1``).
* :mod:`.reliability`: per-label agreement of the LLM with the human spans.
* :mod:`.mixing`: the paper's λ label mixing (soft targets per token).
* :mod:`.calibration`: calibrated evidence from a clean calibration sample.
* :mod:`.stats`: what the merge did, per label.
* :mod:`.component`: the ``hybrid_ner_merger`` pipeline component.
"""
