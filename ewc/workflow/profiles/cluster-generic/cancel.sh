#!/usr/bin/env bash
# Stand-in for a batch system's cancel command (`scancel`): ends each job submit.sh started, given its job id, with
# every process in it (its job script, Snakemake's job process and the run). A job that already ended is no error.
for job in "$@"; do
  kill -TERM -- "-$job" 2> /dev/null || true
done
