import srsly

from hybrid_ner.report.document import dataset_section
from hybrid_ner.report.results import load_grid

from .grid_fixtures import cell, write_cells, write_grid


def section(tmp_path, **links):
    (ds,) = load_grid(tmp_path / "grid" / "wikigold")
    return dataset_section(ds, links)


def part(text, heading):
    return text.split(f"{heading}\n")[1].split("\n### ")[0]


def test_calibration_section_per_annotator(tmp_path):
    write_grid(tmp_path / "grid", samples=0)
    calibration = part(section(tmp_path), "### Calibration")
    llm = part(calibration, "#### LLM: embedded LLM qwen2.5-coder-0.5b-instruct (llama.cpp)")
    assert (
        "From cell `hybrid-label-mixing_r0.4_b1_s0`" in llm
        and "| PER | 0.870 | 0.820 | 95 | 101 | 182 | 0.28 |" in llm
    )
    assert (
        "Estimated human omission rate: 0.430 (estimated from agreement and calibrated "
        "precision); true simulated rate: 0.400." in llm
    )
    simulated = part(calibration, "#### Simulated annotator: GPT-3.5-class annotator (simulated)")
    assert (
        "From cell `sim-hybrid-label-mixing_r0.4_b1_s0`" in simulated
        and "| PER | 0.920 | 0.880 | 97 | 101 | 402 | 0.13 |" in simulated
    )
    assert "Biased" not in calibration
    estimates = part(calibration, "#### Estimated omission rate")
    assert "| 100% | 0.400 | 0.435 ± 0.007 (2) |" in estimates


def test_biased_calibration_is_said_in_one_line(tmp_path):
    write_grid(tmp_path / "grid", samples=0)
    path = tmp_path / "grid" / "wikigold" / "cells" / "sim-hybrid-label-mixing_r0.4_b1_s0.json"
    data = srsly.read_json(path)
    data["calibration"]["biased"] = True
    srsly.write_json(path, data)
    calibration = part(section(tmp_path), "### Calibration")
    biased = [line for line in calibration.splitlines() if line.startswith("Biased")]
    assert len(biased) == 1
    assert calibration.index(biased[0]) > calibration.index("#### Simulated annotator")


def test_calibration_falls_back_and_says_when_there_is_none(tmp_path):
    # Only budget cells are calibrated: they stand for the annotator.
    write_cells(tmp_path / "grid" / "wikigold", f1={"human-omit": {0.4: [0.6]}})
    text = section(tmp_path)
    assert (
        "From cell `hybrid-budget_r0_b0.1_s0`" in text
        and "From cell `sim-hybrid-budget_r0_b0.1_s0`" in text
    )
    assert "#### LLM\n" in text  # no annotators.json: no name
    cells = tmp_path / "grid2" / "wikigold" / "cells"
    cells.mkdir(parents=True)
    srsly.write_json(cells / "a.json", cell("wikigold", "human-omit", 0.4, 0, 0.6))
    (ds,) = load_grid(tmp_path / "grid2")
    assert "No cell carries a calibration record." in part(
        dataset_section(ds, {}), "### Calibration"
    )


def test_dataset_section_headings_in_order(tmp_path):
    write_grid(tmp_path / "grid", samples=0)
    headings = [line for line in section(tmp_path).splitlines() if line.startswith("#")]
    assert headings == [
        "## wikigold",
        "### F1 by omission rate",
        "### Scores at 40% omissions",
        "### Annotator quality",
        "### Calibration",
        "#### LLM: embedded LLM qwen2.5-coder-0.5b-instruct (llama.cpp)",
        "#### Simulated annotator: GPT-3.5-class annotator (simulated)",
        "#### Estimated omission rate",
        "### Budget",
        "### Missing or partial cells",
        "### Figures",
    ]
