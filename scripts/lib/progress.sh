# Sourced by the scripts: timed phases, and a heartbeat on long steps so a
# CI log never sits silent for more than a minute.
#
#   with_heartbeat <label> <cmd...>   runs cmd; every $CONSUL_ECS_PROGRESS_INTERVAL
#                                     seconds (default 60) prints
#                                     "<label>: still running, 3m 00s elapsed" on stderr
#   phase <name> <cmd...>             with_heartbeat, plus a row in the phase table
#   phase_record <name> <secs> <rc>   a row for a step timed elsewhere
#   phase_table                       prints the table (Markdown) on stdout
#   fmt_secs <secs>                   "12m 03s"

PROGRESS_INTERVAL="${CONSUL_ECS_PROGRESS_INTERVAL:-60}"
PHASE_ROWS=()

fmt_secs() {
  local s="$1"
  if ((s >= 60)); then printf '%dm %02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

with_heartbeat() {
  local label="$1"; shift
  local start hb rc
  start=$(date +%s)
  # The sleep runs in the background so that the TERM below ends the loop
  # at once (a trap waits for a foreground child).
  (
    sleeper=
    trap 'kill $sleeper 2>/dev/null; exit 0' TERM
    while :; do
      sleep "$PROGRESS_INTERVAL" & sleeper=$!
      wait "$sleeper"
      printf '%s: still running, %s elapsed\n' "$label" "$(fmt_secs $(( $(date +%s) - start )))" >&2
    done
  ) &
  hb=$!
  "$@"
  rc=$?
  kill "$hb" 2>/dev/null
  wait "$hb" 2>/dev/null
  return "$rc"
}

phase_record() {  # <name> <seconds> <rc>
  local result=ok
  [[ "$3" == 0 ]] || result="FAILED (exit $3)"
  [[ "$3" == skipped ]] && result=skipped
  PHASE_ROWS+=("$1|$2|$result")
}

phase() {  # <name> <cmd...>
  local name="$1"; shift
  local start rc
  echo
  echo "==== $name ===="
  start=$(date +%s)
  with_heartbeat "$name" "$@"
  rc=$?
  phase_record "$name" $(( $(date +%s) - start )) "$rc"
  return "$rc"
}

phase_table() {
  local row name secs result
  echo "| phase | wall | result |"
  echo "| --- | ---: | --- |"
  for row in "${PHASE_ROWS[@]}"; do
    IFS='|' read -r name secs result <<<"$row"
    [[ "$secs" =~ ^[0-9]+$ ]] || secs=0
    printf '| %s | %s | %s |\n' "$name" "$(fmt_secs "$secs")" "$result"
  done
}
