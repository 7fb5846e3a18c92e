#!/usr/bin/env bash
#
# test_shellcheck.sh: every shell script of the project passes shellcheck.
#
# The scripts are how a clean clone becomes a build, a demo and a test run (tests/run, .ci/run,
# tools/quickstart) and how the integration tests drive real clients; a quoting slip in them
# fails only on someone else's machine.  shellcheck finds such slips; this keeps them at zero.
# The list is found, not written down, so a new script is checked from the day it is added.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup

cd "$CH_TEST_SRC"
scripts=()
for f in tests/run .ci/run tools/* tests/integration/*.sh; do
	[[ -f $f ]] || continue
	# Shell scripts only: by name, or by a bash/sh first line.
	if [[ $f == *.sh ]] || head -n 1 "$f" | grep -qE '^#!.*\b(ba)?sh\b'; then
		scripts+=("$f")
	fi
done
ch_expect_eq "the project's entry scripts are found" yes \
	"$([[ " ${scripts[*]} " == *" tests/run "* && " ${scripts[*]} " == *" .ci/run "* ]] &&
		echo yes || echo no)"

for f in "${scripts[@]}"; do
	ch_run shellcheck -x -P SCRIPTDIR "$f"
	ch_expect_ok "shellcheck $f"
done

ch_finish
