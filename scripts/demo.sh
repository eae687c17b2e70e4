#!/usr/bin/env bash
# Demo: migrate, seed the demo accounts, then run a Celery worker beside the development server.
#
#   DEMO_SERVE=1 (default)  worker in the background, runserver on 127.0.0.1:8000 in the foreground;
#                           the worker stops when the server does.
#   DEMO_SERVE=0            worker in the background, one task round trip (celery_smoke), then stop.
#
# Uses whatever DATABASE_URL / CELERY_BROKER_URL say; unset, that is SQLite and the filesystem
# broker under var/, so no server is needed.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=.venv/bin/python
CELERY=.venv/bin/celery
VAR_DIR=${SLIPCASE_VAR_DIR:-var}
PIDFILE=$VAR_DIR/run/celery-demo.pid
LOGFILE=$VAR_DIR/log/celery-demo.log
DEMO_SERVE=${DEMO_SERVE:-1}
worker_pid=

log() { printf '==> %s\n' "$*" >&2; }

stop_worker() {
    [[ -n $worker_pid ]] || return 0
    if kill -0 "$worker_pid" 2>/dev/null; then
        log "stopping the Celery worker (pid $worker_pid)"
        kill -TERM "$worker_pid" 2>/dev/null || true
        # Warm shutdown finishes the task in hand; give it a while, then insist.
        for _ in $(seq 1 30); do
            kill -0 "$worker_pid" 2>/dev/null || break
            sleep 1
        done
        if kill -0 "$worker_pid" 2>/dev/null; then
            log "worker still running after 30 s; killing it"
            kill -KILL "$worker_pid" 2>/dev/null || true
        fi
    fi
    wait "$worker_pid" 2>/dev/null || true
    worker_pid=
}

mkdir -p "$VAR_DIR/run" "$VAR_DIR/log"

log "applying migrations"
"$PY" manage.py migrate --noinput

log "seeding demo data"
"$PY" manage.py seed_demo

log "checking the evidence store and the audit log"
"$PY" manage.py evidence_verify
"$PY" manage.py audit_sign
"$PY" manage.py audit_verify

trap stop_worker EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting a Celery worker for queues cpu,gpu (log: $LOGFILE)"
"$CELERY" -A integrity worker -Q cpu,gpu --loglevel INFO \
    --concurrency "${WORKER_CONCURRENCY:-2}" \
    --pidfile "$PIDFILE" --logfile "$LOGFILE" &
worker_pid=$!

if [[ $DEMO_SERVE == 0 ]]; then
    log "checking the worker with one task round trip"
    if ! "$PY" manage.py celery_smoke --timeout "${SMOKE_TIMEOUT:-60}"; then
        log "celery_smoke failed; last lines of $LOGFILE:"
        tail -n 50 "$LOGFILE" >&2 || true
        exit 1
    fi
    log "waiting for the demo's queued jobs (code-similarity analysis) to finish"
    if ! "$PY" manage.py shell -c "
import sys, time
from analysis.models import AnalysisRun
deadline = time.time() + float('${SMOKE_TIMEOUT:-60}')
while AnalysisRun.objects.filter(status__in=['queued', 'running']).exists() and time.time() < deadline:
    time.sleep(0.5)
runs = list(AnalysisRun.objects.values_list('pk', 'status', 'failure_reason'))
print('analysis runs:', runs)
sys.exit(0 if runs and all(status == 'succeeded' for _, status, _ in runs) else 1)
"; then
        log "a demo analysis did not succeed; last lines of $LOGFILE:"
        tail -n 50 "$LOGFILE" >&2 || true
        exit 1
    fi
    log "demo check passed"
    exit 0
fi

log "serving on http://127.0.0.1:8000/ (Ctrl-C stops the server and the worker)"
"$PY" manage.py runserver 127.0.0.1:8000
