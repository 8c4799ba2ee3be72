"""Names of the annotation layers kept on every Doc, and document metadata.

Every layer stays visible on the Doc as its own ``doc.spans`` group, so the
whole history of a sentence (gold, what the simulation removed, what the LLM
proposed, what the merge kept or rejected) can be audited. ``doc.ents`` is
always the *current* entity annotation and is set last by each step.
"""

from spacy.tokens import Doc

#: Entities removed by the omission simulation (``hybrid-ner noise``).
OMITTED_KEY = "omitted"
#: Entities of documents that the budget simulation left unannotated.
UNANNOTATED_KEY = "unannotated"
#: Human (trusted) entities, copied from ``doc.ents`` before a merge.
HUMAN_KEY = "human"
#: LLM proposals.
LLM_KEY = "llm"
#: LLM proposals the merge added / rejected.
LLM_ADDED_KEY = "llm_added"
LLM_REJECTED_KEY = "llm_rejected"

#: ``doc.user_data`` keys. Plain strings survive DocBin (``store_user_data``).
DOC_ID = "doc_id"
SENT_INDEX = "sent_index"
SOURCE = "source"
#: Set to ``False`` by the budget simulation: the human never annotated the doc.
HUMAN_ANNOTATED = "human_annotated"


def describe_doc(doc: Doc) -> str:
    """A short human-readable locator for error messages: source, doc, sentence."""
    parts = []
    for key in (SOURCE, DOC_ID, SENT_INDEX):
        if key in doc.user_data:
            parts.append(f"{key}={doc.user_data[key]}")
    text = doc.text if len(doc.text) <= 60 else doc.text[:57] + "..."
    return f"{', '.join(parts) or 'doc'} ({text!r})"
