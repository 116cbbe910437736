# Shared by the test scripts (source it: . "$(dirname "$0")/../lib.sh"): the pass/fail counters
# and the helpers that print one line per check ("ok   NAME" or "FAIL NAME: DETAIL") and count it.
passed=0
failed=0

pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

result() { # NAME OK DETAIL: pass when OK is 1, else fail with DETAIL
  if [ "$2" = 1 ]; then pass "$1"; else fail "$1" "$3"; fi
}
