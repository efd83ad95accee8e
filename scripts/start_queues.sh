#!/bin/bash
# Start both run queues in the background (one a core), after `make install` if .venv is absent: what a
# session does first, so that a feedback run (~2.3 h) ends before the session does. Logs: runs/queue_a.log
# and runs/queue_b.log. The queues run at nice 19; on kernels with autogroup scheduling nice only orders
# processes within one session's group, so a small loop also gives the queues' group the lowest weight,
# and interactive work (tests, a CI run) goes first.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || make install
mkdir -p runs
if pgrep -f "scripts/run_queue.sh" > /dev/null; then echo "queues already running:"; pgrep -af "scripts/run_queue.sh"; exit 0; fi
nohup nice -n 19 scripts/run_queue.sh a > runs/queue_a.log 2>&1 &
nohup nice -n 19 scripts/run_queue.sh b > runs/queue_b.log 2>&1 &
if [ -w /proc/self/autogroup ]; then
  nohup nice -n 19 bash -c 'while true; do
    for p in $(ps -eo pid=,ni= | awk "\$2==19{print \$1}"); do echo 19 > /proc/$p/autogroup 2>/dev/null; done
    sleep 3
  done' > /dev/null 2>&1 &
fi
echo "queues started: tail -f runs/queue_a.log runs/queue_b.log; after runs land: scripts/land_results.sh"
