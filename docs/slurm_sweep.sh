#!/bin/bash
# A latent sweep on a Slurm cluster, two ways:
#   sbatch docs/slurm_sweep.sh mpi     # one job of N MPI ranks (one per GPU, or per group of cores)
#   bash docs/slurm_sweep.sh array     # from the login node: submits a job array (shard I of N
#                                      # per task) and a merge job that runs when all succeeded
# Both write sweep.json, sweep.csv and the chosen models (best/) exactly as one process would.
#SBATCH --job-name=vaead-sweep
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4          # MPI: ranks per node (one per GPU on a 4-GPU node)
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=8
#SBATCH --time=02:00:00
set -euo pipefail

VAEAD=${VAEAD:-build/vaead}
GRID=(--data data/table.csv --label-column label --latents 2,4,8,16,32 --betas 1,0.1,0.01
      --seeds 5)

case "${1:-mpi}" in
  mpi)
    # Each rank takes the GPU of its local rank (or its node's share of the cores without one);
    # rank 0 reads the table once, sends it to every rank and writes every output.
    srun --mpi=pmix "$VAEAD" sweep "${GRID[@]}" --json sweep.json --csv sweep.csv --save-best best/
    # without srun: mpirun -np "$SLURM_NTASKS" "$VAEAD" sweep ...
    ;;
  array)
    # Three shards as an array, then the merge once they all finished (afterok).
    shards=3
    array=$(sbatch --parsable --array=0-$((shards - 1)) --nodes=1 --ntasks=1 --gpus=1 \
      --wrap="$VAEAD sweep ${GRID[*]} --shard \${SLURM_ARRAY_TASK_ID}/$shards \
              --part part\${SLURM_ARRAY_TASK_ID}.json")
    sbatch --dependency=afterok:"$array" --nodes=1 --ntasks=1 \
      --wrap="$VAEAD sweep merge part*.json --json sweep.json --csv sweep.csv --save-best best/"
    ;;
esac
