"""Names of the annotation layers (``doc.spans`` groups, so a sentence's history
can be audited) and of the document metadata in ``doc.user_data``."""

from spacy.tokens import Doc

#: Entities removed by the omission simulation (``hybrid-ner noise``).
OMITTED_KEY = "omitted"
#: Entities of documents that the budget simulation left unannotated.
UNANNOTATED_KEY = "unannotated"
#: Human (trusted) entities, copied from ``doc.ents`` before a merge.
HUMAN_KEY = "human"
LLM_KEY = "llm"
#: LLM proposals, those the merge added / rejected.
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
    parts = [f"{k}={doc.user_data[k]}" for k in (SOURCE, DOC_ID, SENT_INDEX) if k in doc.user_data]
    text = doc.text if len(doc.text) <= 60 else doc.text[:57] + "..."
    return f"{', '.join(parts) or 'doc'} ({text!r})"
