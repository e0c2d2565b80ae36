#!/usr/bin/env bash
# Runs the whole e2e suite once per broker given (make test-brokers), each selected by its
# component files only, then prints one verdict line per broker. Exits non-zero if any failed.
# The broker-swap tests are left out: they restart the system on other brokers themselves; so are
# the alert tests, which the default suite runs once (they wait minutes, and RabbitMQDown is RabbitMQ's).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ $# -gt 0 ] || { echo "usage: $0 BROKER..." >&2; exit 2; }
log() { printf '[test-brokers %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

verdicts=() failed=0
for broker in "$@"; do
  log "the e2e suite on BROKER=$broker ($(( ${#verdicts[@]} + 1 ))/$#)"
  started=$SECONDS
  replicas=${REPLICAS:-1}
  if [ "$broker" = mqtt ] && [ "$replicas" -gt 1 ]; then
    # Every replica of an app connects with the app-id as its client id, and the broker drops
    # the one connected first (docs/operations.md#replicas).
    log "MQTT 3 has no consumer groups: its suite runs with one replica of each app"
    replicas=1
  fi
  out=$(mktemp)
  REPLICAS=$replicas BROKER=$broker .venv/bin/python -m pytest tests/e2e -q -m "not broker_swap and not alerts" 2>&1 | tee "$out"
  status=${PIPESTATUS[0]}
  # pytest's closing line, e.g. "49 passed, 2 deselected in 190.12s (0:03:10)".
  summary=$(grep -E '^=* ?[0-9]+ [a-z]+.* in [0-9.]+s' "$out" | tail -1 | tr -d '=' | sed 's/^ *//; s/ *$//')
  rm -f "$out"
  if [ "$status" -eq 0 ]; then verdict=PASS; else verdict=FAIL; failed=1; fi
  verdicts+=("$(printf '%-9s %s  %s (%ss, %s replica(s) of each app)' "$broker" "$verdict" "${summary:-no summary: pytest exited $status}" "$((SECONDS - started))" "$replicas")")
done

log "verdicts:"
printf '  %s\n' "${verdicts[@]}"
exit "$failed"
