"""An HTML page of sample sentences with displaCy: each annotation layer, so a reader sees
what the merge did to real sentences."""

import html
from typing import Dict, Iterable, Optional, Sequence

from spacy import displacy
from spacy.tokens import Doc, Span

from ..layers import DOC_ID, HUMAN_KEY, LLM_KEY, LLM_REJECTED_KEY, OMITTED_KEY, SENT_INDEX

GOLD_KEY = "gold"
# A temporary span group combining the human entities and the omitted ones.
_HUMAN_VIEW_KEY = "_report_human_with_omissions"
OMITTED_SUFFIX = " (omitted)"
LABEL_COLORS = {"PER": "#aa9cfc", "LOC": "#ff9561", "ORG": "#7aecec", "MISC": "#e4e7d2"}
#: Colours of the other labels (any label set), in order of first appearance.
EXTRA_COLORS = ("#bfe1d9", "#feca74", "#c887fb", "#9cc9cc", "#ffeb80", "#f0a8c0", "#b5e48c")
OMITTED_COLOR = "#dddddd"
STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em; }
section { border-top: 1px solid #ccc; padding-top: 0.5em; margin-top: 1.5em; }
h3 { font-size: 1em; margin: 1em 0 0 0; color: #444; }
.empty { color: #888; font-style: italic; }
"""


def _colors(docs: Iterable[Doc]) -> Dict[str, str]:
    """A colour for every label in the Docs (not only CoNLL's); omitted ones grey."""
    colors = dict(LABEL_COLORS)
    found = []
    for doc in docs:
        for span in [*doc.ents, *(span for group in doc.spans.values() for span in group)]:
            if span.label_.endswith(OMITTED_SUFFIX):
                colors[span.label_] = OMITTED_COLOR
            elif span.label_ not in colors and span.label_ not in found:
                found.append(span.label_)
    for i, label in enumerate(found):
        colors[label] = EXTRA_COLORS[i % len(EXTRA_COLORS)]
    return colors


def _render(doc: Doc, key: Optional[str], colors: Dict[str, str]) -> str:
    """The span group ``key`` (None: ``doc.ents``) of a Doc as displaCy HTML."""
    if not (doc.spans.get(key, []) if key else doc.ents):
        return f'<p class="empty">(none) {html.escape(doc.text)}</p>'
    style, options = ("span", {"spans_key": key}) if key else ("ent", {})
    options["colors"] = colors  # type: ignore[assignment]
    return displacy.render(doc, style=style, page=False, jupyter=False, options=options)


def _rejected(doc: Doc) -> str:
    spans = doc.spans.get(LLM_REJECTED_KEY, [])
    if not spans:
        return '<p class="empty">(none)</p>'
    items = "".join(
        f"<li><b>{html.escape(s.text)}</b> [{html.escape(s.label_)}]: "
        f"{html.escape(s.id_ or 'no reason recorded')}</li>"
        for s in spans
    )
    return f"<ul>{items}</ul>"


def render_samples(docs: Sequence[Doc], dataset: str, max_samples: int = 10) -> str:
    """A standalone HTML page with the layers of the first ``max_samples`` Docs."""
    shown = list(docs)[: max(0, max_samples)]
    for doc in shown:  # the human entities and the omitted ones (marked) in one group
        omitted = doc.spans.get(OMITTED_KEY, [])
        omitted = [Span(doc, s.start, s.end, s.label_ + OMITTED_SUFFIX) for s in omitted]
        doc.spans[_HUMAN_VIEW_KEY] = list(doc.spans.get(HUMAN_KEY, [])) + omitted
    colors = _colors(shown)
    title = html.escape(f"{dataset}: annotation layers of {len(shown)} sample sentences")
    sections = []
    for i, doc in enumerate(shown):
        parts = [f"{k} {doc.user_data[k]}" for k in (DOC_ID, SENT_INDEX) if k in doc.user_data]
        heading = f"Sample {i + 1}" + (f" ({', '.join(parts)})" if parts else "")
        sections.append(
            f"<section><h2>{html.escape(heading)}</h2>"
            f"<h3>Gold (clean)</h3>{_render(doc, GOLD_KEY, colors)}"
            "<h3>Human (with omissions; omitted entities in "
            f"grey)</h3>{_render(doc, _HUMAN_VIEW_KEY, colors)}"
            f"<h3>LLM proposals (raw, may overlap)</h3>{_render(doc, LLM_KEY, colors)}"
            f"<h3>Merged (doc.ents: human + accepted proposals)</h3>{_render(doc, None, colors)}"
            f"<h3>Rejected proposals</h3>{_rejected(doc)}</section>"
        )
        del doc.spans[_HUMAN_VIEW_KEY]
    body = "".join(sections) or '<p class="empty">(no sample sentences)</p>'
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body><h1>{title}</h1>{body}</body></html>\n"
    )
