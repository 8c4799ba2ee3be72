"""Read the metrics files written by ``spacy evaluate`` into comparable rows."""
from pathlib import Path
from typing import Dict, List, Tuple, Union

import srsly

from .errors import HybridNerError


def read_entity_scores(path: Union[str, Path]) -> Dict[str, Dict[str, float]]:
    """Overall and per-label entity P/R/F1 from a ``spacy evaluate`` JSON file.

    path (Union[str, Path]): The metrics file.
    RETURNS (Dict[str, Dict[str, float]]): ``{"ALL": {"p", "r", "f"}, LABEL: {...}}``.
    RAISES (HybridNerError): If the file is missing or has no entity scores.
    """
    path = Path(path)
    try:
        metrics = srsly.read_json(path)
    except (OSError, ValueError) as err:
        raise HybridNerError(f"{path}: cannot read metrics ({err})") from None
    if "ents_f" not in metrics:
        raise HybridNerError(f"{path}: no entity scores (ents_p/ents_r/ents_f); is it from spacy evaluate?")
    scores = {"ALL": {"p": metrics["ents_p"], "r": metrics["ents_r"], "f": metrics["ents_f"]}}
    for label, values in sorted((metrics.get("ents_per_type") or {}).items()):
        scores[label] = {k: values[k] for k in ("p", "r", "f")}
    return scores


def score_rows(paths: List[Path]) -> Tuple[List[str], List[List[str]]]:
    """A table of F1 (P/R) per label, one row per metrics file."""
    all_scores = {path: read_entity_scores(path) for path in paths}
    labels = sorted({label for s in all_scores.values() for label in s if label != "ALL"})
    header = ["run", "ALL"] + labels
    rows = []
    for path, scores in all_scores.items():
        cells = [path.stem]
        for label in ["ALL"] + labels:
            s = scores.get(label)
            cells.append(f"{s['f']:.3f} ({s['p']:.2f}/{s['r']:.2f})" if s else "-")
        rows.append(cells)
    return header, rows
