"""Training: corpus readers for ``spacy train``, the merged (soft-target)
corpus, the soft-target NER component and its model, model architectures,
the encoder path, checkpoint logging, and sourcing a trained NER into
another pipeline."""
