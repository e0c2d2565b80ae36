#!/usr/bin/env bash
# Prints the resident memory of the running system, grouped: the Python apps, their daprd
# sidecars, the infrastructure (RabbitMQ, MariaDB, Redis, FerretDB, Mosquitto, Dapr placement and
# scheduler) and the Dapr CLI that launched them. Reads /proc only; run it while `make run` is up.
# RSS counts pages shared between processes (the seven daprd map one binary) once per process,
# as `ps` does; PSS splits them between their users, so the PSS total is what the machine spends.
# Usage: scripts/memory.sh [-v]   (-v: one line per process too)
set -euo pipefail
verbose=0
[ "${1:-}" = -v ] && verbose=1

# classify COMM CMDLINE PARENT: "group name" for a process of the system, nothing otherwise.
# Apps and sidecars count only when `dapr run` started them (other sidecars may run here too).
classify() {
  local comm=$1 cmd=$2 parent=$3
  case "$comm" in
    daprd) [ "$parent" = dapr ] && [[ $cmd =~ --app-id\ ([^ ]+) ]] && echo "daprd ${BASH_REMATCH[1]}" ;;
    beam.smp | epmd | erl_child_setup | inet_gethost) echo "infra rabbitmq" ;;
    mariadbd) echo "infra mariadb" ;;
    redis-server) echo "infra redis" ;;
    ferretdb) echo "infra ferretdb" ;;
    mosquitto) echo "infra mosquitto" ;;
    placement | scheduler) echo "infra $comm" ;;
    dapr) echo "cli dapr" ;;
    *) [ "$parent" = dapr ] && [[ $cmd =~ -m\ services\.([a-z_]+) ]] && echo "apps ${BASH_REMATCH[1]}" ;;
  esac
}

rows=()
for dir in /proc/[0-9]*; do
  comm=$(cat "$dir/comm" 2>/dev/null) || continue
  cmd=$(tr '\0' ' ' < "$dir/cmdline" 2>/dev/null) || continue
  ppid=$(awk '/^PPid:/ { print $2 }' "$dir/status" 2>/dev/null) || continue
  what=$(classify "$comm" "$cmd" "$(cat "/proc/$ppid/comm" 2>/dev/null)") || true
  [ -n "$what" ] || continue
  rss=$(awk '/^VmRSS:/ { print $2 }' "$dir/status" 2>/dev/null) || continue
  pss=$(awk '/^Pss:/ { print $2 }' "$dir/smaps_rollup" 2>/dev/null) || pss=0
  [ -n "$rss" ] && rows+=("$what ${dir#/proc/} $rss ${pss:-0}")
done
[ ${#rows[@]} -gt 0 ] || { echo "no process of the system is running (start it with 'make run')" >&2; exit 1; }

printf '%s\n' "${rows[@]}" | sort | awk -v verbose="$verbose" '
  { group = $1; n[group]++; rss[group] += $4; pss[group] += $5; total_rss += $4; total_pss += $5
    if (verbose) line[group] = line[group] sprintf("  %-16s %7d %9.1f %9.1f\n", $2, $3, $4 / 1024, $5 / 1024) }
  END {
    printf "%-18s %7s %9s %9s\n", "group", "procs", "RSS MB", "PSS MB"
    split("apps daprd infra cli", order, " ")
    for (i = 1; i in order; i++) {
      g = order[i]; if (!(g in n)) continue
      printf "%-18s %7d %9.1f %9.1f\n", g, n[g], rss[g] / 1024, pss[g] / 1024
      printf "%s", line[g]
    }
    printf "%-18s %7d %9.1f %9.1f\n", "total", NR, total_rss / 1024, total_pss / 1024
  }'
