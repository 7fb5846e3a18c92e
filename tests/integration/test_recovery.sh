#!/usr/bin/env bash
#
# test_recovery.sh: recovery when every admin PIN is lost (issue 8, point 7) through the admin
# tool: `cipherhub recovery setup` splits a new recovery key into N Shamir shares (libgfshare),
# any M of which `cipherhub recovery restore` joins to give the "so" participant a new PIN.
# Too few shares, shares of another split, an outdated split and a damaged share are refused
# and change nothing (the old PIN still works after each).
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup

D=$CH_TMP
SO_PIN=so-pin-rec-1357
NEW_PIN=so-pin-new-2468
ch_tool_setup

# as_so PIN ARGS...: the tool acting as "so" with PIN.
as_so()
{
	local pin=$1
	shift
	"$run_tool" env CIPHERHUB_PIN="$pin" "$TOOL" --module "$CH_TEST_MODULE" "$@"
}

# restore FILE: `recovery restore` with FILE on standard input and NEW_PIN as the new PIN.
restore()
{
	# shellcheck disable=SC2016 # expanded by the inner bash
	"$run_tool" env CIPHERHUB_NEW_PIN="$NEW_PIN" bash -c '"${@:2}" <"$1"' restore "$1" \
		"$TOOL" --module "$CH_TEST_MODULE" recovery restore
}

# so_pin_is PIN STEP: "so" logs in with PIN (and only it: the other PIN fails).
so_pin_is()
{
	as_so "$1" participant list
	ch_expect_ok "$2: so logs in with its PIN"
}

ch_p11 --init-token --slot 1 --label rec --so-pin "$SO_PIN"
ch_expect_ok "a registration"

echo "== setup: 5 shares, any 3"
as_so "$SO_PIN" recovery setup --shares 5 --threshold 3
ch_expect_ok "recovery setup"
ch_expect_lines "... prints 5 printable shares of one split" \
	'^CHS1-[0-9a-f]{8}-3-[1-5]-[0-9a-f]{64}$' 5
grep -E '^CHS1-' <<<"$CH_OUT" >"$D/a.all"
ch_expect_eq "... all of one split" 1 "$(cut -d- -f2 "$D/a.all" | sort -u | wc -l)"
ch_expect_eq "... with distinct numbers" 5 "$(cut -d- -f4 "$D/a.all" | sort -u | wc -l)"

echo "== too few shares"
sed -n '2p;4p' "$D/a.all" >"$D/two"
restore "$D/two"
ch_expect_fails "2 of 3 shares are refused"
ch_expect_text "... saying so" "this split needs 3"
so_pin_is "$SO_PIN" "... and nothing changed"

echo "== a garbage line"
printf 'hello\n' | cat - "$D/a.all" >"$D/garbage"
restore "$D/garbage"
ch_expect_fails "a line that is no share is refused"
ch_expect_text "... saying which" "line 1 of standard input is not a recovery share"

echo "== any 3 shares restore admin access"
sed -n '1p;3p;5p' "$D/a.all" >"$D/three"
restore "$D/three"
ch_expect_ok "shares 1, 3, 5 restore"
ch_expect_text "... saying so" "admin access to 'rec' restored"
so_pin_is "$NEW_PIN" "after the restore"
as_so "$SO_PIN" participant list
ch_expect_fails "... and the lost PIN no longer works"
SO_PIN=$NEW_PIN
NEW_PIN=so-pin-newer-9753

echo "== a new split replaces the old"
as_so "$SO_PIN" recovery setup --shares 3 --threshold 2
ch_expect_ok "a second recovery setup (2 of 3)"
grep -E '^CHS1-' <<<"$CH_OUT" >"$D/b.all"
restore "$D/three"
ch_expect_fails "the first split's shares no longer restore"
ch_expect_text "... saying so" "do not open the recovery key"
so_pin_is "$SO_PIN" "... and nothing changed"
{ head -1 "$D/a.all"; head -1 "$D/b.all"; } >"$D/mixed"
restore "$D/mixed"
ch_expect_fails "shares of two splits are refused"
ch_expect_text "... saying so" "of another split"
# The first share with its last hex digit changed, and a good second one.
first=$(head -1 "$D/b.all")
if [[ ${first: -1} == 0 ]]; then last=1; else last=0; fi
{ echo "${first%?}$last"; sed -n 2p "$D/b.all"; } >"$D/damaged"
restore "$D/damaged"
ch_expect_fails "a damaged share is refused"
so_pin_is "$SO_PIN" "... and nothing changed"
sed -n '3p;2p' "$D/b.all" >"$D/b.two"
restore "$D/b.two"
ch_expect_ok "2 good shares of the second split restore"
so_pin_is "$NEW_PIN" "after the second restore"

echo "== audited"
as_so "$NEW_PIN" audit show
ch_expect_lines "two setups in the audit log" 'recovery\.setup +CKR_OK' 2
ch_expect_lines "two uses that worked" 'recovery\.use +CKR_OK' 2

ch_finish
