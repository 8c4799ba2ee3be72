import re

from hybrid_ner.report.samples import render_samples

from .grid_fixtures import sample_docs


def sections(page):
    """{heading: html} of the first sample's layers."""
    first = page.split("<section>")[1]
    parts = re.split(r"<h3>(.*?)</h3>", first)
    return {parts[i].split(" (")[0]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_each_layer_shows_its_entities():
    page = render_samples(sample_docs(2), "wikigold")
    layers = sections(page)
    assert list(layers) == ["Gold", "Human", "LLM proposals", "Merged", "Rejected proposals"]
    assert layers["Gold"].count("PER") == 2 and layers["Gold"].count("LOC") == 2
    assert "PER (omitted)" in layers["Human"] and "LOC (omitted)" in layers["Human"]
    assert all(label in layers["LLM proposals"] for label in ("PER", "ORG", "MISC"))
    # Merged layer: displaCy's entity style marks the entity texts.
    marks = re.findall(r"<mark[^>]*>\s*(.*?)\s*<span", layers["Merged"], re.S)
    assert marks == ["Ann Smith", "Paris", "Bob"]
    assert "<b>Bob</b> [ORG]: overlap_llm" in layers["Rejected proposals"]
    assert "<b>&lt;Oslo&gt;</b> [MISC]: label_not_accepted" in layers["Rejected proposals"]


def test_text_is_escaped_and_missing_layers_are_said():
    docs = sample_docs(2)
    page = render_samples(docs, "wiki<gold>")
    assert "<Oslo>" not in page and "&lt;Oslo&gt;" in page and "&amp;" in page
    assert "<title>wiki&lt;gold&gt;" in page
    second = page.split("<section>")[2]
    assert 'proposals (raw, may overlap)</h3><p class="empty">(none) Ann Smith' in second
    assert 'Rejected proposals</h3><p class="empty">(none)</p>' in second
    # The temporary span group used for the human view is removed again.
    assert all("_report" not in key for doc in docs for key in doc.spans)


def test_max_samples_limits_sections():
    assert render_samples(sample_docs(3), "d", max_samples=2).count("<section>") == 2
    assert "(no sample sentences)" in render_samples([], "d")


def test_every_label_gets_a_colour():
    from spacy.tokens import Span

    from hybrid_ner.report.samples import EXTRA_COLORS, LABEL_COLORS, _colors

    docs = sample_docs(1)
    doc = docs[0]
    doc.spans["gold"] = [Span(doc, 0, 2, "PERSON"), Span(doc, 3, 4, "GPE"), Span(doc, 6, 7, "PER")]
    colors = _colors(docs)
    assert colors["PERSON"] == EXTRA_COLORS[0] and colors["GPE"] == EXTRA_COLORS[1]
    assert colors["PER"] == LABEL_COLORS["PER"]
    page = render_samples(docs, "onto")
    assert EXTRA_COLORS[0] in page and EXTRA_COLORS[1] in page
