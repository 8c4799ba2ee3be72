"""The experiment grid: conditions × omission rates × budgets × seeds (docs/experiments.md)."""
