"""Training: corpus readers, the soft-target NER and its models, checkpoints, sourcing."""
