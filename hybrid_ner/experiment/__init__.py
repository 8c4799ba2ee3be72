"""The experiment grid: conditions × omission rates × budgets × seeds, each
cell a model trained and scored on the test set (see docs/experiments.md)."""
