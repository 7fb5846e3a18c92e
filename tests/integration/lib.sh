# shellcheck shell=bash
#
# tests/integration/lib.sh: what every integration test shares.
#
# An integration test is a bash script that drives real programs (pkcs11-tool, p11tool, openssl)
# against the built module.  It sources this file, calls ch_setup, runs each program through
# ch_run (programs that do not load the module) or ch_run_mod / ch_p11 (programs that do), checks
# what came back with the ch_expect_* functions, and ends with ch_finish, which prints
# "N passed, M failed" and exits non-zero when anything failed or nothing was checked.
#
# Why it exists: every such test needs the same things and must not get them subtly different:
#  - a fresh private store and a cheap PIN KDF (CIPHERHUB_STORE, CIPHERHUB_CONF in a mktemp -d
#    directory removed on exit), so tests never touch a real store and logins take milliseconds;
#  - a time bound on every foreign program (timeout), so a hung module fails a test, not CI;
#  - when the module is built with ASan/UBSan, the sanitizer runtimes preloaded into the foreign
#    programs that load it (they are not built with ASan, and the runtime must come first), with
#    leak detection off for them: their own leaks are not ours;
#  - failure messages that show the call, the expected and the actual result.
#
# Environment read: CH_TEST_MODULE (the module; ctest sets it), CH_TEST_SRC (the repository),
# CH_TIMEOUT (seconds per program, default 60), CH_KEEP_TMP=1 (keep the temp dir, for debugging),
# CH_T_FORWARD=1 (ch_forward_mode: the pkcs11-tool suite on a forwarded slot backed by SoftHSMv2),
# CH_SOFTHSM_MODULE (the SoftHSMv2 module, default Debian's).
# Environment set by ch_setup: CH_TMP, CIPHERHUB_STORE, CIPHERHUB_CONF, XDG_DATA_HOME.

# Counters and the last call's results.  CH_OUT holds its standard output and error together.
ch_passed=0
ch_failed=0
ch_finished=0
CH_RC=0
CH_OUT=
CH_CMD=
CH_TMP=
CH_MOD_ENV=()

# Quote a command line for display.
ch__quote()
{
	local out='' arg
	for arg in "$@"; do
		out+="${out:+ }$(printf '%q' "$arg")"
	done
	printf '%s' "$out"
}

# Print the indented tail of the last call's output (at most 40 lines).
ch__show_output()
{
	printf '    output (last 40 lines):\n'
	if [[ -n $CH_OUT ]]; then
		printf '%s\n' "$CH_OUT" | tail -n 40 | sed 's/^/      | /'
	else
		printf '      (none)\n'
	fi
	if [[ -n $CH_TMP && -s $CH_TMP/module.log ]]; then
		printf '    module log (last 10 lines):\n'
		tail -n 10 "$CH_TMP/module.log" | sed 's/^/      | /'
	fi
}

# ch_pass STEP: record a passed check.
ch_pass()
{
	ch_passed=$((ch_passed + 1))
	printf 'ok   %s\n' "$1"
}

# ch_fail STEP EXPECTED ACTUAL: record a failed check about the last call and say why, loudly.
ch_fail()
{
	ch_failed=$((ch_failed + 1))
	printf 'FAIL %s\n' "$1"
	printf '    call:     %s\n' "${CH_CMD:-(none)}"
	printf '    expected: %s\n' "$2"
	printf '    actual:   %s\n' "$3"
	ch__show_output
}

# ch_note TEXT: say something that is neither a pass nor a failure.
ch_note()
{
	printf 'note %s\n' "$*"
}

# The sanitizer runtimes the module needs, as a colon-free space-separated LD_PRELOAD value;
# empty when the module is not sanitized.  Detected from the module's NEEDED entries (readelf),
# else from its undefined symbols (nm), so it also works for a module linked by another compiler.
ch__sanitizer_preload()
{
	local module=$1 needed libs='' lib path cc
	needed=$(readelf -d "$module" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p') || true
	if [[ -z $needed ]] && command -v nm >/dev/null; then
		nm -D --undefined-only "$module" 2>/dev/null | grep -q '__asan_init' &&
			needed+=$'\nlibasan.so'
		nm -D --undefined-only "$module" 2>/dev/null | grep -q '__ubsan_handle' &&
			needed+=$'\nlibubsan.so'
	fi
	cc=$(command -v gcc || command -v cc || true)
	for lib in libasan libubsan; do
		grep -q "^$lib\.so" <<<"$needed" || continue
		path=
		[[ -n $cc ]] && path=$("$cc" -print-file-name="$lib.so")
		if [[ $path != /* || ! -e $path ]]; then
			echo "lib.sh: the module needs $lib but no compiler here can name it" >&2
			return 1
		fi
		libs+="${libs:+ }$(readlink -f "$path")"
	done
	printf '%s' "$libs"
}

# Removes the temp dir at exit, and turns an aborted script into a visible failure.
ch__on_exit()
{
	local rc=$?
	if [[ $ch_finished != 1 ]]; then
		ch_failed=$((ch_failed + 1))
		printf 'FAIL the script stopped early (exit status %s)%s\n' "$rc" \
			"${ch__err_at:+ at: $ch__err_at}"
		printf '%s passed, %s failed\n' "$ch_passed" "$ch_failed"
		[[ $rc == 0 ]] && rc=1
	fi
	if [[ -n $CH_TMP && -d $CH_TMP ]]; then
		if [[ ${CH_KEEP_TMP:-0} == 1 ]]; then
			echo "lib.sh: kept $CH_TMP"
		else
			rm -rf -- "$CH_TMP"
		fi
	fi
	exit "$rc"
}

# ch_setup: find the module, make the temp dir and the test configuration, set the traps and the
# environment of programs that load the module.  Exits (status 1) when there is no module.
ch_setup()
{
	local here preload
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	: "${CH_TEST_SRC:=$(cd "$here/../.." && pwd)}"
	if [[ -z ${CH_TEST_MODULE:-} ]]; then
		local guess
		for guess in build-asan build; do
			if [[ -f $CH_TEST_SRC/$guess/cipherhub-pkcs11.so ]]; then
				CH_TEST_MODULE=$CH_TEST_SRC/$guess/cipherhub-pkcs11.so
				break
			fi
		done
	fi
	if [[ -z ${CH_TEST_MODULE:-} || ! -f $CH_TEST_MODULE ]]; then
		echo "FAIL no module: CH_TEST_MODULE='${CH_TEST_MODULE:-}' is not a file"
		echo "0 passed, 1 failed"
		exit 1
	fi
	export CH_TEST_MODULE CH_TEST_SRC
	: "${CH_TIMEOUT:=60}"

	CH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ch-it.XXXXXXXX")
	trap ch__on_exit EXIT
	trap 'ch__err_at="line $LINENO: $BASH_COMMAND"' ERR

	# The store and the configuration the module uses; XDG_DATA_HOME points into the temp dir
	# too, so a module that ignored CIPHERHUB_STORE would still not touch a real store.
	export CIPHERHUB_STORE=$CH_TMP/store.db
	export CIPHERHUB_CONF=$CH_TMP/cipherhub.conf
	export XDG_DATA_HOME=$CH_TMP/xdg
	printf '[pin]\npbkdf2_iterations = 1000\n\n[log]\nlevel = warning\nfile = %s\n' \
		"$CH_TMP/module.log" >"$CIPHERHUB_CONF"

	preload=$(ch__sanitizer_preload "$CH_TEST_MODULE") || exit 1
	CH_MOD_ENV=()
	if [[ -n $preload ]]; then
		CH_MOD_ENV=("LD_PRELOAD=$preload${LD_PRELOAD:+ $LD_PRELOAD}"
			"ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
	fi
	printf 'module:  %s%s\n' "$CH_TEST_MODULE" "${preload:+ (sanitized: preloading $preload)}"
	printf 'tempdir: %s\n' "$CH_TMP"
}

# Runs "$@" bounded by CH_TIMEOUT with extra environment "${ch__env[@]}"; sets CH_RC, CH_OUT,
# CH_CMD.  Never fails itself.  A sanitizer report in the output is a failed check on its own.
ch__run_env()
{
	CH_CMD=$(ch__quote "$@")
	CH_RC=0
	timeout -k 5 "$CH_TIMEOUT" env "${ch__env[@]}" "$@" >"$CH_TMP/last.out" 2>&1 </dev/null ||
		CH_RC=$?
	CH_OUT=$(cat "$CH_TMP/last.out")
	if [[ $CH_RC == 124 || $CH_RC == 137 ]]; then
		ch_fail "program finished within ${CH_TIMEOUT}s" "exit within ${CH_TIMEOUT}s" \
			"killed by timeout (status $CH_RC)"
	fi
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$CH_TMP/last.out"; then
		ch_fail "no sanitizer report" "no AddressSanitizer/UBSan report" "a report (below)"
	fi
	return 0
}

# ch_run CMD ARGS...: run a program that does not load the module.
ch_run()
{
	local ch__env=()
	ch__run_env "$@"
}

# ch_run_mod CMD ARGS...: run a program that loads the module (sanitizer runtimes preloaded).
ch_run_mod()
{
	local ch__env=("${CH_MOD_ENV[@]}")
	ch__run_env "$@"
}

# ch_p11 ARGS...: pkcs11-tool --module $CH_TEST_MODULE ARGS...
ch_p11()
{
	ch_run_mod pkcs11-tool --module "$CH_TEST_MODULE" "$@"
}

# ch_expect_ok STEP: the last call exited 0.
ch_expect_ok()
{
	if [[ $CH_RC == 0 ]]; then
		ch_pass "$1"
	else
		ch_fail "$1" "exit status 0" "exit status $CH_RC"
	fi
}

# ch_expect_fails STEP: the last call failed cleanly (non-zero, not killed, no crash signal).
ch_expect_fails()
{
	if [[ $CH_RC != 0 && $CH_RC -lt 124 ]]; then
		ch_pass "$1"
	else
		ch_fail "$1" "a non-zero exit status below 124 (a clean failure)" "exit status $CH_RC"
	fi
}

# ch_expect_text STEP TEXT: the last call's output contains TEXT (fixed string).
ch_expect_text()
{
	if grep -qF -- "$2" <<<"$CH_OUT"; then
		ch_pass "$1"
	else
		ch_fail "$1" "output containing '$2'" "no such text"
	fi
}

# ch_expect_no_text STEP TEXT: the last call's output does not contain TEXT.
ch_expect_no_text()
{
	if grep -qF -- "$2" <<<"$CH_OUT"; then
		ch_fail "$1" "output without '$2'" "it is there: $(grep -F -m1 -- "$2" <<<"$CH_OUT")"
	else
		ch_pass "$1"
	fi
}

# ch_expect_lines STEP ERE N: exactly N lines of the last call's output match ERE.
ch_expect_lines()
{
	local n
	n=$(grep -cE -- "$2" <<<"$CH_OUT" || true)
	if [[ $n == "$3" ]]; then
		ch_pass "$1"
	else
		ch_fail "$1" "$3 line(s) matching /$2/" "$n line(s)"
	fi
}

# ch_tool_setup: TOOL, the admin tool (CH_TOOL, else the build's cipherhub), and run_tool, the
# way to run it: ch_run for a tool built with the sanitizers (it carries their runtime), else
# ch_run_mod (the module's runtime preloaded, as for any program loading a sanitized module).
# Ends the test when there is no tool.  Unsets CIPHERHUB_PIN, CIPHERHUB_NEW_PIN and
# CIPHERHUB_MODULE, so that only what a test passes reaches the tool.
# shellcheck disable=SC2034 # TOOL and run_tool are for the sourcing script
ch_tool_setup()
{
	unset CIPHERHUB_PIN CIPHERHUB_NEW_PIN CIPHERHUB_MODULE
	TOOL=${CH_TOOL:-}
	if [[ -z $TOOL && -n ${CH_TEST_BIN:-} && -x $CH_TEST_BIN/cipherhub ]]; then
		TOOL=$CH_TEST_BIN/cipherhub
	fi
	[[ -n $TOOL ]] || TOOL=$(dirname "$CH_TEST_MODULE")/cipherhub
	if [[ ! -x $TOOL ]]; then
		ch_fail "the admin tool is built" "an executable at $TOOL" \
			"none (is add_subdirectory(tools) in CMakeLists.txt? set CH_TOOL to point at it)"
		ch_finish
	fi
	if readelf -d "$TOOL" 2>/dev/null | grep -q 'NEEDED.*libasan'; then
		run_tool=ch_run
	else
		run_tool=ch_run_mod
	fi
}

# ch_expect_rc STEP N: the last call exited with status N.
ch_expect_rc()
{
	if [[ $CH_RC == "$2" ]]; then
		ch_pass "$1"
	else
		ch_fail "$1" "exit status $2" "exit status $CH_RC"
	fi
}

# ch_store_snapshot: a hash of every object, attribute and grant row of the store (nothing when
# sqlite3 is not installed): what a refused command must leave as it was.
ch_store_snapshot()
{
	if command -v sqlite3 >/dev/null; then
		sqlite3 "$CIPHERHUB_STORE" "SELECT id, gen, hex(mac) FROM objects ORDER BY id;
			SELECT obj, type, hex(value) FROM attributes ORDER BY obj, type;
			SELECT obj, grantee, ops FROM grants ORDER BY obj, grantee;" | sha256sum
	fi
}

# ch_field KEY: KEY of every JSON line of the last call's output, one per line (booleans as
# true/false, with jq or python3).
ch_field()
{
	if command -v jq >/dev/null; then
		jq -r --arg k "$1" '.[$k] | tostring' <<<"$CH_OUT"
	else
		python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        v = json.loads(line)[sys.argv[1]]
        print(str(v).lower() if isinstance(v, bool) else v)' "$1" <<<"$CH_OUT"
	fi
}

# ch_expect_matches STEP ERE N: ERE matches exactly N times in the last call's output (counted as
# matches, not lines: for output that threads print at once, where two can share a line).
ch_expect_matches()
{
	local n
	n=$(grep -oE -- "$2" <<<"$CH_OUT" | wc -l)
	if [[ $n == "$3" ]]; then
		ch_pass "$1"
	else
		ch_fail "$1" "$3 match(es) of /$2/" "$n"
	fi
}

# ch_expect_eq STEP EXPECTED ACTUAL: two strings are equal.
ch_expect_eq()
{
	if [[ $2 == "$3" ]]; then
		ch_pass "$1"
	else
		ch_fail "$1" "'$2'" "'$3'"
	fi
}

# ch_expect_same_file STEP EXPECTED_FILE ACTUAL_FILE: two files hold the same bytes.
ch_expect_same_file()
{
	local diff
	if [[ ! -f $3 ]]; then
		ch_fail "$1" "the bytes of $2" "$3 does not exist"
	elif cmp -s -- "$2" "$3"; then
		ch_pass "$1"
	else
		diff=$(cmp -- "$2" "$3" 2>&1 || true)
		ch_fail "$1" "$(wc -c <"$2") bytes: $(od -An -tx1 -N16 "$2" | tr -s ' ')..." \
			"$(wc -c <"$3") bytes: $(od -An -tx1 -N16 "$3" | tr -s ' ')... ($diff)"
	fi
}

# ch_expect_size STEP FILE N: FILE exists and holds exactly N bytes.
ch_expect_size()
{
	local n=missing
	[[ -f $2 ]] && n=$(wc -c <"$2")
	if [[ $n == "$3" ]]; then
		ch_pass "$1"
	else
		ch_fail "$1" "$2 of $3 bytes" "$n"
	fi
}

# ch_hex FILE: the file's bytes as one lowercase hex string (empty when FILE is missing).
ch_hex()
{
	[[ -f $1 ]] || return 0
	od -An -v -tx1 "$1" | tr -d ' \n'
}

# ch_unhex HEX FILE: write the bytes spelled by HEX (pairs of hex digits) to FILE.
ch_unhex()
{
	# shellcheck disable=SC2059,SC2001 # a format made of \\x escapes of checked hex digits
	if [[ $1 =~ ^([0-9a-fA-F]{2})*$ ]]; then
		printf "$(sed 's/../\\x&/g' <<<"$1")" >"$2"
	else
		echo "ch_unhex: not hex: '$1'" >&2
		return 1
	fi
}

# ---- SoftHSMv2 as the stand-in HSM, and forwarded registrations (issue 7) ----------------------
#
# ch_softhsm_setup: a private SoftHSMv2 under $CH_TMP/softhsm (its own SOFTHSM2_CONF, exported, and
# token directory CH_HSM_TOKENS), never the system's.  Sets CH_HSM_MODULE (the SoftHSM module:
# $CH_SOFTHSM_MODULE, else Debian's path), CH_HSM_SO_PIN and CH_HSM_PIN (the backend tokens' PINs).
# Exits with a failed check when softhsm2 is not installed.
ch_softhsm_setup()
{
	local m
	CH_HSM_MODULE=${CH_SOFTHSM_MODULE:-}
	if [[ -z $CH_HSM_MODULE ]]; then
		for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
			[[ -f $m ]] && CH_HSM_MODULE=$m && break
		done
	fi
	if [[ -z $CH_HSM_MODULE || ! -f $CH_HSM_MODULE ]] || ! command -v softhsm2-util >/dev/null; then
		ch_fail "SoftHSMv2 is installed" "softhsm2-util and libsofthsm2.so (apt-get install softhsm2)" \
			"module '${CH_HSM_MODULE:-}', softhsm2-util $(command -v softhsm2-util || echo missing)"
		ch_finish
	fi
	CH_HSM_TOKENS=$CH_TMP/softhsm/tokens
	CH_HSM_SO_PIN='hsm-so-2718'
	CH_HSM_PIN='hsm-user-pin-31415'
	mkdir -p "$CH_HSM_TOKENS"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
		"$CH_HSM_TOKENS" >"$CH_TMP/softhsm/softhsm2.conf"
	export SOFTHSM2_CONF=$CH_TMP/softhsm/softhsm2.conf
}

# ch_softhsm_token LABEL: initialise a new SoftHSM token LABEL (SO PIN CH_HSM_SO_PIN, user PIN
# CH_HSM_PIN); a failed check when that fails.
ch_softhsm_token()
{
	ch_run softhsm2-util --init-token --free --label "$1" --so-pin "$CH_HSM_SO_PIN" \
		--pin "$CH_HSM_PIN"
	ch_expect_ok "softhsm2-util initialises the backend token $1"
}

# ch_hsm ARGS...: pkcs11-tool straight on the SoftHSM module, past Cipher Hub (to look at or
# change the backend token behind a forwarded slot).
ch_hsm()
{
	ch_run pkcs11-tool --module "$CH_HSM_MODULE" "$@"
}

# ch_forward_add NAME [KEY = VALUE lines...]: appends a [forward:NAME] section to the test
# configuration.  With only NAME: module SoftHSM, token pkcs11:token=hsm-NAME, the backend PIN in
# the file $CH_TMP/hsm-pin (mode 0600); otherwise the lines given are the section.
ch_forward_add()
{
	local name=$1
	shift
	printf '%s\n' "$CH_HSM_PIN" >"$CH_TMP/hsm-pin"
	chmod 600 "$CH_TMP/hsm-pin"
	{
		printf '\n[forward:%s]\n' "$name"
		if [[ $# == 0 ]]; then
			printf 'module = %s\ntoken = pkcs11:token=hsm-%s\npin_file = %s\n' \
				"$CH_HSM_MODULE" "$name" "$CH_TMP/hsm-pin"
		else
			printf '%s\n' "$@"
		fi
	} >>"$CIPHERHUB_CONF"
}

# The first forwarded slot's ID (forwarded slots are 65536 + i in the order of the file).
CH_FORWARD_SLOT0=65536

# ch_forward_mode NAME: the environment switch of the pkcs11-tool suite.  With CH_T_FORWARD=1 it
# sets up SoftHSM with the token hsm-NAME and a [forward:NAME] section, so the script's
# registration NAME is the first forwarded slot; otherwise nothing changes.  Sets CH_FWD (1 or
# 0), CH_REG_SLOT (the slot the script creates its registration on: 65536 or 1) and
# CH_REG_SLOT_HEX (as pkcs11-tool prints it).
# shellcheck disable=SC2034 # CH_FWD and CH_REG_SLOT_HEX are read by the scripts sourcing this
ch_forward_mode()
{
	if [[ ${CH_T_FORWARD:-0} == 1 ]]; then
		CH_FWD=1
		CH_REG_SLOT=$CH_FORWARD_SLOT0
		ch_softhsm_setup
		ch_softhsm_token "hsm-$1"
		ch_forward_add "$1"
		ch_note "forwarded: registration $1 is slot $CH_REG_SLOT, backed by SoftHSM token hsm-$1"
	else
		CH_FWD=0
		CH_REG_SLOT=1
	fi
	CH_REG_SLOT_HEX=$(printf '0x%x' "$CH_REG_SLOT")
}

# ch_expect_backend_mechs LABEL HSM_LABEL MECH...: the mechanism list of Cipher Hub's token LABEL
# (a forwarded slot) names each MECH, and names only mechanisms that SoftHSM's token HSM_LABEL
# lists itself: a forwarded slot's mechanisms are the backend's.
ch_expect_backend_mechs()
{
	local label=$1 hsm=$2 mech fwd extra
	shift 2
	ch_p11 --token-label "$label" -M
	ch_expect_ok "--list-mechanisms on the forwarded slot succeeds"
	for mech in "$@"; do
		ch_expect_lines "$mech is listed" "^  $mech(,|\$)" 1
	done
	fwd=$(sed -n 's/^  \([^,]*\).*/\1/p' <<<"$CH_OUT" | sort)
	ch_hsm --token-label "$hsm" -M
	extra=$(comm -23 <(printf '%s\n' "$fwd") <(sed -n 's/^  \([^,]*\).*/\1/p' <<<"$CH_OUT" |
		sort) | tr '\n' ' ')
	ch_expect_eq "every mechanism listed is one SoftHSM lists" "" "$extra"
}

# ch_rv_in_output: the last CKR_ name in the last call's output (empty when none).
ch_rv_in_output()
{
	grep -oE 'CKR_[A-Z_]+' <<<"$CH_OUT" | tail -n 1 || true
}

# ch_skip STEP WHY: a check not run here, and why (neither passed nor failed).
ch_skip()
{
	printf 'skip %s (%s)\n' "$1" "$2"
}

# ch_hsm_has_mech NAME: the SoftHSM module lists mechanism NAME (pkcs11-tool's name) for the
# token hsm-*; the forwarded suite uses it to leave out what the backend cannot do at all.
ch_hsm_has_mech()
{
	if [[ -z ${ch__hsm_mechs:-} ]]; then
		ch__hsm_mechs=$(timeout -k 5 "$CH_TIMEOUT" pkcs11-tool --module "$CH_HSM_MODULE" -M \
			2>/dev/null </dev/null || true)
	fi
	grep -qE "^  $1(,|\$)" <<<"$ch__hsm_mechs"
}

# ch_finish: print the summary line and exit: 0 when something passed and nothing failed.
ch_finish()
{
	ch_finished=1
	printf '%s passed, %s failed\n' "$ch_passed" "$ch_failed"
	if [[ $ch_failed != 0 || $ch_passed == 0 ]]; then
		exit 1
	fi
	exit 0
}
