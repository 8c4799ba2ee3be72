"""The experiment grid: conditions × omission rates × budgets × seeds, each
cell a training run scored on the test set."""
