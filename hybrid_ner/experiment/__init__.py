"""The experiment grid: conditions × omission rates × budgets × seeds, each
cell a training run scored on the test set.

``conditions`` (what each condition trains on), ``cells`` (which cells, in
which order), ``data`` (their training files), ``costs``, ``training`` (one
cell), ``run`` (the grid, resumable, and its ``run.json``), ``result`` (one
typed result per cell, read back by :mod:`hybrid_ner.report`),
``annotators`` and ``samples``.
"""
