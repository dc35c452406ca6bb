# shellcheck shell=bash
# A throwaway Trainyard stack for the API scripts (ops/api-fuzz, ops/screenshot): a broker on a
# free loopback port, the topics, an admin API key and an aggregator serving the API, all under
# one scratch folder that api_stack_stop removes. Source after common.sh; call use_built_rdkafka
# and build first.
#
#   api_stack_start DIR [worker]   sets API_URL, API_KEY, API_BIN; "worker" also starts one worker
#   api_stack_stop                 stops what api_stack_start started (by pid) and the broker

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

api_stack_start() {
  local dir="$1" with_worker="${2:-}" broker_port http_port i
  API_STACK_DIR="$dir"
  API_STACK_PIDS=()
  API_BIN="$(swift build --show-bin-path)/trainyard"
  [ -x "$API_BIN" ] || die "no trainyard binary at $API_BIN (build first)"
  mkdir -p "$dir"
  broker_port="$(free_port)"
  "$TRAINYARD_ROOT/ops/broker" --dir "$dir/broker" --port "$broker_port" start >/dev/null
  export TRAINYARD_BROKERS="127.0.0.1:$broker_port" TRAINYARD_HOME="$dir" TRAINYARD_TOPIC_PREFIX="apistack"
  unset TRAINYARD_DB TRAINYARD_STATE_DIR TRAINYARD_API_KEYS
  "$API_BIN" topics create >/dev/null
  API_KEY="$("$API_BIN" api-key create --name api-stack --admin 2>/dev/null)"
  http_port="$(free_port)"
  API_URL="http://127.0.0.1:$http_port"
  "$API_BIN" aggregator --http-address "127.0.0.1:$http_port" </dev/null >"$dir/aggregator.log" 2>&1 &
  API_STACK_PIDS+=("$!")
  if [ "$with_worker" = worker ]; then
    "$API_BIN" worker --http-address "127.0.0.1:$(free_port)" </dev/null >"$dir/worker.log" 2>&1 &
    API_STACK_PIDS+=("$!")
  fi
  for ((i = 0; i < 600; i++)); do
    if curl -fsS -o /dev/null "$API_URL/readyz" 2>/dev/null; then return 0; fi
    kill -0 "${API_STACK_PIDS[0]}" 2>/dev/null || { tail -n 20 "$dir/aggregator.log" >&2; die "the aggregator exited"; }
    sleep 0.1
  done
  tail -n 20 "$dir/aggregator.log" >&2
  die "the aggregator at $API_URL was not ready after 60 s"
}

api_stack_stop() {
  local pid
  for pid in "${API_STACK_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${API_STACK_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$TRAINYARD_ROOT/ops/broker" --dir "$API_STACK_DIR/broker" stop >/dev/null 2>&1 || true
}

# Submits a spec (JSON on stdin) through the API as the stack's admin; prints the job id.
api_submit() {
  curl -fsS -X POST -H "Authorization: Bearer $API_KEY" -H 'Content-Type: application/json' --data-binary @- "$API_URL/v1/jobs" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["jobId"])'
}
