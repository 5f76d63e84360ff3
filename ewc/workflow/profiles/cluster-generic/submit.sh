#!/usr/bin/env bash
# Stand-in for a batch system's submit command: runs the job script (the last argument) in the background, detached
# from Snakemake in a session of its own, with its output in .snakemake/cluster-generic/ under the working directory,
# and prints its process id as the job id (which is also the job's process group, for cancel.sh), as
# `sbatch --parsable` would. Snakemake learns that the job ended from the marker files the job script touches.
set -euo pipefail
jobscript="${@: -1}"
mkdir -p .snakemake/cluster-generic
setsid nohup bash "$jobscript" > ".snakemake/cluster-generic/$(basename "$jobscript").out" 2>&1 < /dev/null &
echo $!
