#!/bin/sh
# SMPL-X inference over a corpus under SLURM: one task per GPU, the inputs sharded across the tasks by
# main/inference.py (ranks from the SLURM environment), one manifest.jsonl at the end (README "Inference over a corpus").
#
# Usage:  sh main/slurm_inference.sh JOB_NAME NUM_GPU [inference.py arguments ...]
#   e.g.  sh main/slurm_inference.sh label 16 --input_list videos.txt --pretrained_model smpler_x_h32 \
#             --output_folder /shared/out --multi_person --no_overlay
#         sh main/slurm_inference.sh label 16 --input_list videos.txt ... --resume   # finish what is missing
#
# Environment (all optional; nothing is hard-coded for one cluster):
#   PARTITION      SLURM partition (default: the cluster's default partition)
#   GPUS_PER_NODE  GPUs (= tasks) per node (default: min(NUM_GPU, 8))
#   CPUS_PER_TASK  CPU cores per task (default: 4: decoding, detection and writing run in threads)
#   PYTHON         interpreter (default: python)
#   SRUN_ARGS      extra srun arguments, e.g. "--time=24:00:00 --qos=high"
#   MASTER_ADDR / MASTER_PORT  rendezvous; default: first node of the allocation / 29500 + job id % 1000
# --output_folder must be on a file system every node sees (each rank writes its inputs' folders and its
# manifest part there; rank 0 merges them). A task that dies does not stop the others (no --kill-on-bad-exit):
# the others finish their inputs, rank 0 writes the manifest, and --resume finishes the rest.
set -eu

if [ "$#" -lt 2 ]; then
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
JOB_NAME=$1
NUM_GPU=$2
shift 2

case "$NUM_GPU" in
    ''|*[!0-9]*|0) echo "slurm_inference.sh: NUM_GPU must be a positive integer, got '$NUM_GPU'" >&2; exit 2 ;;
esac
if [ -z "${GPUS_PER_NODE:-}" ]; then
    if [ "$NUM_GPU" -lt 8 ]; then GPUS_PER_NODE=$NUM_GPU; else GPUS_PER_NODE=8; fi
fi
CPUS_PER_TASK=${CPUS_PER_TASK:-4}
PYTHON=${PYTHON:-python}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck disable=SC2086  # SRUN_ARGS and the partition flag are meant to split into words
srun ${PARTITION:+--partition=$PARTITION} \
    --job-name="$JOB_NAME" \
    --ntasks="$NUM_GPU" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --gres="gpu:$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    ${SRUN_ARGS:-} \
    "$PYTHON" -u "$ROOT/main/inference.py" --no_progress "$@"
