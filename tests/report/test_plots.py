import dataclasses

from hybrid_ner.report.plots import (
    DASHED,
    _colors,
    _line_style,
    plot_budget,
    plot_f1_vs_omission,
    plot_per_label,
)
from hybrid_ner.report.results import load_cells
from hybrid_ner.report.tables import budget_rows

from .grid_fixtures import write_cells, write_old_cells

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_styles_mark_lambda_mixing_dashed_and_unknown_conditions_distinct():
    assert set(DASHED) == {"hybrid-lambda-mixing", "sim-hybrid-lambda-mixing"}
    assert _line_style("hybrid-lambda-mixing")["linestyle"] == (0, (5, 2))
    assert _line_style("hybrid-label-mixing")["linestyle"] == "-"
    assert _line_style("sim-hybrid-label-mixing")["linestyle"] == ":"
    assert _line_style("human-clean", reference=True)["linestyle"] == "--"
    colors = _colors(["hybrid-label-mixing", "hybrid-lambda-mixing", "old-a", "old-b", "old-c"])
    assert len(set(colors.values())) == 5


def test_figures_with_new_old_and_any_labels(tmp_path):
    write_cells(tmp_path / "wikigold")
    write_old_cells(tmp_path / "wikigold")
    cells = load_cells(tmp_path / "wikigold" / "cells")
    # Labels other than CoNLL's (e.g. OntoNotes) plot as well.
    renamed = [
        dataclasses.replace(
            c,
            per_type={
                "PERSON": c.per_type["PER"],
                "GPE": c.per_type["LOC"],
                "WORK_OF_ART": c.per_type["LOC"],
            },
        )
        for c in cells
    ]
    for path in (
        plot_f1_vs_omission(cells, "wikigold", tmp_path / "f1.png"),
        plot_per_label(renamed, "onto", 0.4, tmp_path / "labels.png"),
        plot_budget(budget_rows(cells), "wikigold", tmp_path / "budget.png"),
    ):
        assert path.read_bytes()[:8] == PNG_MAGIC
    conditions = {row["condition"] for row in budget_rows(cells)}
    assert {
        "human-budget",
        "hybrid-budget",
        "sim-hybrid-budget",
        "hybrid-soft-budget",
    } <= conditions
