import dataclasses

from hybrid_ner.report.plots import DASHED, _style, plot_budget, plot_f1_vs_omission, plot_per_label
from hybrid_ner.report.results import budget_rows, load_cells

from .grid_fixtures import write_cells

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_styles_mark_lambda_mixing_dashed_and_simulated_dotted():
    assert set(DASHED) == {"hybrid-lambda-mixing", "sim-hybrid-lambda-mixing"}
    assert _style("hybrid-lambda-mixing")["linestyle"] == (0, (5, 2))
    assert "linestyle" not in _style("hybrid-label-mixing")
    simulated = _style("sim-hybrid-label-mixing")
    assert (simulated["linestyle"], simulated["markerfacecolor"]) == (":", "white")
    assert _style("human-budget")["color"] == _style("human-omit")["color"] == "tab:red"
    assert _style("human-selftrain")["color"] == "tab:gray"


def test_figures_with_any_labels(tmp_path):
    write_cells(tmp_path / "wikigold")
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
    chosen = [dataclasses.replace(c, selection="uncertainty") for c in cells if c.budget < 1]
    assert plot_budget(budget_rows(cells + chosen), "wg", tmp_path / "b.png").is_file()
    style = _style("hybrid-budget:uncertainty")
    assert (style["color"], style["marker"]) == ("tab:blue", "^")
    assert style["label"].endswith(", by uncertainty")
    conditions = {row["condition"] for row in budget_rows(cells)}
    assert {"human-budget", "hybrid-budget", "sim-hybrid-budget"} <= conditions
