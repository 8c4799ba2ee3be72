import srsly

from hybrid_ner.report.document import dataset_section
from hybrid_ner.report.results import load_grid

from .grid_fixtures import cell, cell_id, write_cells, write_grid


def section(tmp_path):
    (ds,) = load_grid(tmp_path / "grid" / "wikigold")
    return dataset_section(ds, {}, 0.4)


def part(text, heading):
    return text.split(f"{heading}\n")[1].split("\n### ")[0]


def test_calibration_section_names_each_annotator(tmp_path):
    write_grid(tmp_path / "grid", samples=0)
    calibration = part(section(tmp_path), "### Calibration")
    llm = part(calibration, "#### LLM: embedded LLM qwen2.5-coder-0.5b-instruct (llama.cpp)")
    assert "From cell `hybrid-label-mixing_r0.4_b1_s0`" in llm
    simulated = part(calibration, "#### Simulated annotator: GPT-3.5-class annotator (simulated)")
    assert "| PER | 0.920 | 0.880 | 97 | 101 | 402 | 0.13 |" in simulated


def test_no_calibration_record_no_calibration_section(tmp_path):
    cells = tmp_path / "grid" / "wikigold" / "cells"
    cells.mkdir(parents=True)
    srsly.write_json(cells / "a.json", cell("wikigold", "human-omit", 0.4, 0, 0.6))
    text = section(tmp_path)
    assert "### Calibration" not in text and "| human with omissions" in text


def test_other_omission_models_get_their_own_table(tmp_path):
    write_cells(tmp_path / "grid" / "wikigold")
    cells = tmp_path / "grid" / "wikigold" / "cells"
    for condition, f in (("human-omit", 0.5), ("human-silence", 0.55)):
        data = {**cell("wikigold", condition, 0.4, 0, f), "omission_model": "hard"}
        srsly.write_json(cells / f"{cell_id(condition, 0.4, 1.0, 0)}_hard.json", data)
    text = section(tmp_path)
    hard = part(text, "### F1 by omission rate, hard omissions")
    assert hard.splitlines()[-4:] == [
        "| --- | ---: |",
        "| human with omissions (baseline) — `human-omit` | 0.500 (1) |",
        "| human, silence softened by ω (LLM-free) — `human-silence` | **0.550 (1)** |",
        "| Best LLM-free | 0.550 (`human-silence`) |",
    ]
    # The uniform tables never mix them in.
    assert "human-silence" not in part(text, "### F1 by omission rate")


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


def test_hybrid_set_against_the_best_llm_free_baseline_per_rate(tmp_path):
    cells = tmp_path / "grid" / "wikigold" / "cells"
    cells.mkdir(parents=True)
    scores = {
        "human-negsample": {0.2: 0.70, 0.4: 0.58},
        "human-silence": {0.2: 0.68, 0.4: 0.61},
        "hybrid-label-mixing": {0.2: 0.72, 0.4: 0.60},
    }
    for condition, by_rate in scores.items():
        for rate, f in by_rate.items():
            data = cell("wikigold", condition, rate, 0, f)
            srsly.write_json(cells / f"{cell_id(condition, rate, 1.0, 0)}.json", data)
    rows = part(section(tmp_path), "### F1 by omission rate").splitlines()
    # The best differs per rate, and the hybrid's gap is taken to that best.
    assert "| Best LLM-free | 0.700 (`human-negsample`) | 0.610 (`human-silence`) |" in rows
    delta = [r for r in rows if r.startswith("| Δ ")]
    assert delta == [
        "| Δ hybrid, calibrated label mixing (recommended) — `hybrid-label-mixing` vs best "
        "LLM-free | +0.020 | -0.010 |"
    ]
