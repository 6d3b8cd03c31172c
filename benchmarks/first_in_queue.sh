#!/usr/bin/env bash
# Run a benchmark first in the queue on a shared machine: the command at nice -15 and, renewed
# every second, the PostgreSQL backends serving database DB at nice -15 too, so the cores go to
# the job first, as they would on a machine given to it. Needs root (a negative nice) and a
# kernel that does not group processes by session for scheduling
# (`echo 0 > /proc/sys/kernel/sched_autogroup_enabled`), or nice has no effect across sessions.
#
#     bash benchmarks/first_in_queue.sh DB COMMAND [ARGS...]
set -euo pipefail
db=$1
shift
(
  while true; do
    for pid in $(psql -h 127.0.0.1 -U postgres -Atc \
      "select pid from pg_stat_activity where datname = '$db'"); do
      renice -n -15 -p "$pid" >/dev/null 2>&1 || true
    done
    sleep 1
  done
) &
renewer=$!
trap 'kill "$renewer" 2>/dev/null || true' EXIT
nice -n -15 "$@"
