# Shared helpers of the tools' command-line checks (tests/<tool>/check_cli.sh). Source it after setting
# `bin` to the tool binary; it makes a temporary folder `$tmp` (removed on exit) and defines
#   fail MESSAGE...              record a failure (the script exits 1 at the end when $failures > 0)
#   expect CODE PATTERN ARGS...  run the tool with ARGS; check its exit code and that its output (stdout and
#                                stderr together) matches the extended regular expression PATTERN
#   require_keys FILE WHAT KEY...  fail once for each KEY (a basic grep pattern) that FILE does not contain
#   expect_stopped FILE PATTERN ARGS...  run the tool with ARGS in the background, send SIGTERM once FILE (its
#                                first checkpoint) exists; check it exits 143 and its output matches PATTERN
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
tool_name=$(basename "$bin")

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

expect() {
  local code=$1 pattern=$2
  shift 2
  local out rc
  out=$("$bin" "$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$code" ]; then
    fail "$tool_name $* exited $rc, expected $code; output:"$'\n'"$out"
  elif ! grep -Eq -- "$pattern" <<<"$out"; then
    fail "$tool_name $*: output does not match /$pattern/:"$'\n'"$out"
  fi
}

require_keys() {
  local file=$1 what=$2
  shift 2
  local key
  for key in "$@"; do
    grep -q -- "$key" "$file" || fail "$what has no $key"
  done
}

expect_stopped() {
  local file=$1 pattern=$2
  shift 2
  local log="$tmp/stopped.log" pid rc
  "$bin" "$@" >"$log" 2>&1 &
  pid=$!
  while [ ! -e "$file" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"
  rc=$?
  if [ "$rc" -ne 143 ]; then
    fail "$tool_name $* stopped by SIGTERM exited $rc, expected 143 (did it finish first?):"$'\n'"$(cat "$log")"
    return 1
  fi
  if ! grep -Eq -- "$pattern" "$log"; then
    fail "$tool_name $*: stop message does not match /$pattern/:"$'\n'"$(cat "$log")"
    return 1
  fi
}
