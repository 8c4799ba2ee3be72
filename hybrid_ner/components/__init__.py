"""spaCy pipeline components: the merger and the soft-target NER.

They are registered through the ``spacy_factories`` entry points, so
``nlp.add_pipe("hybrid_ner_merger")`` and ``nlp.add_pipe("hybrid_ner_soft_ner")``
work once the package is installed.
"""
