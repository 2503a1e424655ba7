# Shared helpers of the tools' command-line checks (tests/<tool>/check_cli.sh). Source it after setting
# `bin` to the tool binary; it makes a temporary folder `$tmp` (removed on exit) and defines
#   fail MESSAGE...              record a failure (the script exits 1 at the end when $failures > 0)
#   expect CODE PATTERN ARGS...  run the tool with ARGS; check its exit code and that its output (stdout and
#                                stderr together) matches the extended regular expression PATTERN
#   require_keys FILE WHAT KEY...  fail once for each KEY (a basic grep pattern) that FILE does not contain
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
