#!/bin/sh
# Train SMPLer-X under SLURM: one task per GPU, ranks taken from the SLURM environment by main/train.py.
#
# Usage:  sh main/slurm_train.sh JOB_NAME NUM_GPU CONFIG [train.py arguments ...]
#   e.g.  sh main/slurm_train.sh h32 16 config_smpler_x_h32.py
#         PARTITION=gpu GPUS_PER_NODE=4 sh main/slurm_train.sh s32 8 config_smpler_x_s32.py --precision bf16
#         sh main/slurm_train.sh h32 16 config_smpler_x_h32.py --resume      # continue the newest h32 run
#
# Environment (all optional; nothing is hard-coded for one cluster):
#   PARTITION      SLURM partition (default: the cluster's default partition)
#   GPUS_PER_NODE  GPUs (= tasks) per node (default: min(NUM_GPU, 8))
#   CPUS_PER_TASK  CPU cores per task (default: 4; DataLoader workers come from cfg.num_thread)
#   PYTHON         interpreter (default: python)
#   SRUN_ARGS      extra srun arguments, e.g. "--time=72:00:00 --qos=high"
#   MASTER_ADDR / MASTER_PORT  rendezvous; default: first node of the allocation / 29500 + job id % 1000
# The run is written to {output_root}/{JOB_NAME}_{timestamp}/ (output_root from the config, default output/).
set -eu

if [ "$#" -lt 3 ]; then
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
JOB_NAME=$1
NUM_GPU=$2
CONFIG=$3
shift 3

case "$NUM_GPU" in
    ''|*[!0-9]*|0) echo "slurm_train.sh: NUM_GPU must be a positive integer, got '$NUM_GPU'" >&2; exit 2 ;;
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
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS:-} \
    "$PYTHON" -u "$ROOT/main/train.py" --config "$CONFIG" --exp_name "$JOB_NAME" --no_bar "$@"
