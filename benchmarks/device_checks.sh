#!/usr/bin/env bash
# The GPU checks in one run (at most 570 s on one H100 or H200; the last step gets what is left): the GPU tests (hf backend in bf16 with
# batches sized from free memory, bf16 training with packing, compiled training, FSDP under accelerate), the
# generation benchmark on a random Llama-shaped 1.1B model and the training benchmark on the same shape.
#
#   bash benchmarks/device_checks.sh --stage DIR   # on any machine with the data: copy what the checks read
#                                                  # (GSM8K and MATH train/test files, SmolLM2's tokenizer,
#                                                  # DeepSpeed and the wheels it needs: about 21 MB) into
#                                                  # DIR, to carry to the GPU machine (needs PyPI access)
#   TUSK_DATA_DIR=DIR bash benchmarks/device_checks.sh OUTDIR   # on the GPU machine
#
# Needs on the GPU machine: python3 with torch (CUDA), transformers, accelerate, peft, tokenizers, rich, pyyaml
# and pytest; tusk itself is imported from src/ (no install needed).  Each step has its own time limit and
# writes its results into OUTDIR as soon as it ends (log.txt, gpu-tests.xml, generation.json, training.json,
# training-compiled.json), so a step that runs out of time leaves the others' results.
set -uo pipefail
cd "$(dirname "$0")/.."
DEEPSPEED=0.19.8

if [[ "${1:-}" == "--stage" ]]; then
    dir=${2:?usage: device_checks.sh --stage DIR}
    src=${TUSK_DATA_DIR:-../shared/data}
    mkdir -p "$dir/gsm8k" "$dir/math"
    cp "$src/gsm8k/test.jsonl" "$src/gsm8k/train.jsonl" "$dir/gsm8k/"
    cp "$src/math/hendrycks_train.jsonl" "$dir/math/"
    python=${PYTHON:-.venv/bin/python}
    "$python" - "$dir/tokenizer-smollm2" <<'EOF'
import sys

from transformers import AutoTokenizer

from tusk.gguf_convert import gguf_to_hf
from tusk.models import resolve_model_path

AutoTokenizer.from_pretrained(gguf_to_hf(resolve_model_path("smollm2-135m"))).save_pretrained(sys.argv[1])
EOF
    # DeepSpeed for the ZeRO-3 test: a source-only package, built here into a pure-Python wheel (its CUDA ops
    # are compiled on first use, and the test's torch optimizer needs none), plus the wheels it needs that
    # a plain PyTorch image lacks, for CPython 3.12 on x86-64 Linux
    mkdir -p "$dir/wheels"
    "$python" -m pip download -q --no-deps --no-binary=:all: -d "$dir/wheels/src" "deepspeed==$DEEPSPEED"
    DS_BUILD_OPS=0 "$python" -m pip wheel -q --no-deps --no-build-isolation -w "$dir/wheels" \
        "$dir/wheels/src/deepspeed-$DEEPSPEED.tar.gz"
    rm -rf "$dir/wheels/src"
    "$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$dir/wheels" hjson pydantic pydantic-core annotated-types typing-inspection typing-extensions
    du -sh "$dir"
    exit 0
fi

out=${1:-${OUT:-benchmarks/results/device}}
mkdir -p "$out"
data=${TUSK_DATA_DIR:?set TUSK_DATA_DIR to a folder made by --stage}
python=${PYTHON:-python3}
log="$out/log.txt"
site=
if compgen -G "$data/wheels/*.whl" >/dev/null; then  # DeepSpeed and its needs, staged with --stage
    site=$(mktemp -d /tmp/tusk-site.XXXX)
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" \
        "$data"/wheels/*.whl 2>&1 | tail -3
fi
export PYTHONPATH="$PWD/src${site:+:$site}${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
note="$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)"

budget=${TUSK_DEVICE_CHECKS_BUDGET:-570}  # seconds for all steps together (a device call may last 600)

step() {  # step SECONDS NAME COMMAND...: run within its limit and the budget left, log it, never stop the script
    local limit=$1 name=$2
    shift 2
    local left=$((budget - SECONDS - 5))
    ((limit > left)) && limit=$left
    if ((limit < 30)); then
        echo "=== $name: skipped, ${left}s of the budget left" | tee -a "$log"
        return
    fi
    echo "=== $name (limit ${limit}s) $(date -u +%T)" | tee -a "$log"
    local began=$SECONDS
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$log"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: exit $rc after $((SECONDS - began)) s" | tee -a "$log"
}

{
    echo "GPU: ${note:-none found}"
    "$python" -c "import torch, transformers, accelerate; print('torch', torch.__version__, 'cuda', torch.version.cuda, '| transformers', transformers.__version__, '| accelerate', accelerate.__version__)"
    "$python" -c "import deepspeed; print('deepspeed', deepspeed.__version__)" 2>&1 | tail -1
} 2>&1 | tee "$log"

# TUSK_DEVICE_CHECKS_DRY=1: the same steps on the CPU with tiny shapes, to check this script without a GPU
if [[ -n "${TUSK_DEVICE_CHECKS_DRY:-}" ]]; then
    gen_size=(--random-llama tiny --prompts 8 --tokens 8)
    # (a smaller vocabulary than the GPU run's 32k: a 32k head on the tiny shape takes minutes on a CPU)
    train_size=(--size tiny --steps 2 --warmup 1 --examples 300 --max-length 512 --tusk-batch 32 --vocab 8000)
    export TUSK_GPU_TESTS_ON_CPU=1
else
    gen_size=(--gpu-random-1b)
    train_size=(--size 1b)
fi
step 200 "generation benchmark (random 1.1B)" "$python" benchmarks/generation.py "${gen_size[@]}" \
    --tokenizer "$data/tokenizer-smollm2" --data-dir "$data" --json "$out/generation.json"
step 170 "training benchmark (random 1.1B)" "$python" benchmarks/training.py "${train_size[@]}" \
    --data-dir "$data" --device-note "$note" --json "$out/training.json"
step 150 "GPU tests" "$python" -m pytest -m gpu tests/gpu -q -rA -p no:cacheprovider --junit-xml="$out/gpu-tests.xml"
step 300 "training benchmark, compiled (random 1.1B)" "$python" benchmarks/training.py "${train_size[@]}" \
    --data-dir "$data" --baseline-batches 64 --tusk-variants compile --device-note "$note" \
    --json "$out/training-compiled.json"
echo "done; results in $out" | tee -a "$log"
