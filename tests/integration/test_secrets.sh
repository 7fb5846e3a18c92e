#!/usr/bin/env bash
#
# test_secrets.sh: named, versioned secrets through the admin tool and a stock pkcs11-tool
# (issue 8, point 6).
#
# On a fresh store the operator "ops" stores a secret with `cipherhub secret put` (from a file and
# from standard input), reads it back byte for byte with `secret get`, lists it (text and --json,
# never the value), rotates it (version 2 current, version 1 still readable with --version 1).
# The participant "app" (role user) cannot read it with `pkcs11-tool --read-object --type data
# --label NAME` until `cipherhub grant NAME app --ops read`; then it reads the current value, and
# after the next rotation the new one (the grant carried over).  Destroying one version
# (`secret delete --version N`) makes its value unreadable and takes it out of the store file;
# deleting the secret removes every version.  The audit log has secret.read records and no value;
# a backup restored into another store reads the same versions with the same grants; a forwarded
# registration refuses secrets (exit 2, nothing reaches the HSM; skipped without softhsm2).
# Bad inputs (a second put, rotating a missing secret, destroying the current version, grants of
# key operations on a secret or of read on a key, an empty value) fail and change no object row.
#
# Needs: pkcs11-tool, the built tool; sqlite3 for store snapshots (else skipped).
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup

D=$CH_TMP
SO_PIN=so-secret-8080
OPS_PIN=ops-pin-1357
APP_PIN=app-pin-2468
V1=postgres://billing:Xk7-alpha-31c9@db.internal/billing
V2=postgres://billing:Qm2-beta-77e0@db.internal/billing
V3=postgres://billing:Zr5-gamma-4a1d@db.internal/billing
ch_tool_setup

# ops ARGS...: the tool acting as the operator "ops".
ops()
{
	"$run_tool" env CIPHERHUB_PIN="$OPS_PIN" "$TOOL" --module "$CH_TEST_MODULE" --as ops "$@"
}

# ops_to FILE ARGS...: ops ARGS..., standard output into FILE (the bytes, nothing else).
ops_to()
{
	local out=$1
	shift
	# shellcheck disable=SC2016 # expanded by the inner shell
	"$run_tool" env CIPHERHUB_PIN="$OPS_PIN" sh -c 'out=$1; shift; exec "$@" >"$out"' sh "$out" \
		"$TOOL" --module "$CH_TEST_MODULE" --as ops "$@"
}

# ops_stdin VALUE ARGS...: ops ARGS... with VALUE (no newline) on standard input.
ops_stdin()
{
	local value=$1
	shift
	# shellcheck disable=SC2016 # expanded by the inner shell
	"$run_tool" env CIPHERHUB_PIN="$OPS_PIN" sh -c 'v=$1; shift; printf %s "$v" | "$@"' sh \
		"$value" "$TOOL" --module "$CH_TEST_MODULE" --as ops "$@"
}

# app_read FILE: pkcs11-tool, logged in as "app", reads data object db-billing into FILE.
app_read()
{
	rm -f "$1"
	ch_p11 --token-label vault --login --pin "app:$APP_PIN" --read-object --type data \
		--label db-billing -o "$1"
}

# store_has TEXT: the store's files (database and write-ahead log) hold TEXT.
store_has()
{
	local f
	for f in "$CIPHERHUB_STORE" "$CIPHERHUB_STORE-wal"; do
		if [[ -f $f ]] && grep -qaF -- "$1" "$f"; then
			return 0
		fi
	done
	return 1
}

echo "== setup"
ch_p11 --slot 1 --init-token --label vault --so-pin "$SO_PIN"
ch_expect_ok "pkcs11-tool --init-token creates 'vault'"
"$run_tool" env CIPHERHUB_PIN="$SO_PIN" CIPHERHUB_NEW_PIN="$OPS_PIN" "$TOOL" \
	--module "$CH_TEST_MODULE" participant add ops --roles operator,user
ch_expect_ok "participant add ops (operator, user)"
"$run_tool" env CIPHERHUB_PIN="$SO_PIN" CIPHERHUB_NEW_PIN="$APP_PIN" "$TOOL" \
	--module "$CH_TEST_MODULE" participant add app --roles user
ch_expect_ok "participant add app (user)"
ch_p11 --token-label vault --login --pin "ops:$OPS_PIN" --keygen --key-type AES:32 --label kek
ch_expect_ok "ops makes a key 'kek' (for the bad-input checks)"

echo "== secret put, get, list"
printf %s "$V1" >"$D/v1"
ops secret put db-billing --file "$D/v1"
ch_expect_ok "secret put db-billing --file"
ch_expect_text "... stored as version 1" "stored 'db-billing' as version 1"
ops_to "$D/got" secret get db-billing
ch_expect_ok "secret get db-billing"
ch_expect_same_file "... writes exactly the value" "$D/v1" "$D/got"
ops_stdin "$V3" secret put api-token
ch_expect_ok "secret put api-token (value on standard input)"
ops_to "$D/got" secret get api-token
ch_expect_eq "... reads back" "$V3" "$(cat "$D/got")"
ops secret list --json
ch_expect_ok "secret list --json"
ch_expect_eq "... both secrets, by name" "api-token db-billing" \
	"$(ch_field name | tr '\n' ' ' | sed 's/ $//')"
ch_expect_eq "... one version each" "1 1" "$(ch_field versions | tr '\n' ' ' | sed 's/ $//')"
ch_expect_no_text "... and no value" "$V1"
ops secret list
ch_expect_lines "... text: one line per secret" '^(api-token|db-billing) +1 +1 ' 2

echo "== a stock pkcs11-tool reads it with a read grant"
app_read "$D/app.out"
ch_expect_fails "pkcs11-tool --read-object as app without a grant fails"
ops grant db-billing app --ops read
ch_expect_ok "grant db-billing app --ops read"
ops grants db-billing
ch_expect_lines "... listed" '^app +read$' 1
app_read "$D/app.out"
ch_expect_ok "pkcs11-tool --read-object --type data --label db-billing as app"
ch_expect_same_file "... prints the current value" "$D/v1" "$D/app.out"

echo "== secret rotate"
printf %s "$V2" >"$D/v2"
ops secret rotate db-billing --file "$D/v2"
ch_expect_ok "secret rotate db-billing"
ch_expect_text "... version 2 is current" "version 2 is current, version 1 previous"
ops_to "$D/got" secret get db-billing
ch_expect_same_file "secret get reads version 2" "$D/v2" "$D/got"
ops_to "$D/got" secret get db-billing --version 1
ch_expect_same_file "secret get --version 1 still reads version 1" "$D/v1" "$D/got"
app_read "$D/app.out"
ch_expect_ok "pkcs11-tool --read-object as app after the rotation (the grant carried over)"
ch_expect_same_file "... prints the new value" "$D/v2" "$D/app.out"
ops secret list --json
ch_expect_eq "... list: db-billing has 2 versions" "1 2" \
	"$(ch_field versions | tr '\n' ' ' | sed 's/ $//')"
ch_expect_eq "... version 2 current" "1 2" "$(ch_field primary | tr '\n' ' ' | sed 's/ $//')"

echo "== backup and restore carry the secret's versions and grants"
# shellcheck disable=SC2016 # expanded by the inner shell
"$run_tool" env CIPHERHUB_PIN="$SO_PIN" sh -c 'exec "$@" >"$0"' "$D/vault.chbk" "$TOOL" \
	--module "$CH_TEST_MODULE" backup
ch_expect_ok "backup (as so)"
# shellcheck disable=SC2016 # expanded by the inner shell
"$run_tool" sh -c 'exec "$@" <"$0"' "$D/vault.chbk" env CIPHERHUB_STORE="$D/restored.db" \
	CIPHERHUB_PIN="$SO_PIN" "$TOOL" --module "$CH_TEST_MODULE" restore
ch_expect_ok "restore into another store"
"$run_tool" env CIPHERHUB_STORE="$D/restored.db" CIPHERHUB_PIN="$OPS_PIN" "$TOOL" \
	--module "$CH_TEST_MODULE" --as ops secret get db-billing --version 1
ch_expect_eq "... version 1 reads there" "$V1" "$CH_OUT"
ch_run_mod env CIPHERHUB_STORE="$D/restored.db" pkcs11-tool --module "$CH_TEST_MODULE" \
	--token-label vault --login --pin "app:$APP_PIN" --read-object --type data \
	--label db-billing -o "$D/restored.out"
ch_expect_same_file "... and app reads the current value there" "$D/v2" "$D/restored.out"

echo "== the value stays out of the store file and the audit log"
if store_has "$V1" || store_has "$V2"; then
	ch_fail "the store file holds no value" "no match" "a value in the clear"
else
	ch_pass "the store file holds no value in the clear"
fi
"$run_tool" env CIPHERHUB_PIN="$SO_PIN" "$TOOL" --module "$CH_TEST_MODULE" audit export
ch_expect_ok "audit export"
ch_expect_text "... has secret.read records" '"secret.read"'
ch_expect_text "... and secret.put, secret.rotate" '"secret.rotate"'
ch_expect_no_text "... no value of version 1" "Xk7-alpha"
ch_expect_no_text "... no value of version 2" "Qm2-beta"

echo "== bad inputs change nothing"
before=$(ch_store_snapshot)
ops secret put db-billing --file "$D/v3"
ch_expect_rc "secret put of a missing --file" 1
printf %s "$V3" >"$D/v3"
ops secret put db-billing --file "$D/v3"
ch_expect_rc "a second secret put of db-billing" 4
ch_expect_text "... says to rotate" "secret rotate db-billing"
ops secret rotate missing --file "$D/v3"
ch_expect_rc "secret rotate of a missing secret" 4
ch_expect_text "... says to put it first" "no secret 'missing' to rotate"
: >"$D/empty"
ops secret rotate db-billing --file "$D/empty"
ch_expect_rc "an empty value" 1
ops secret delete db-billing --version 2
ch_expect_rc "secret delete --version of the current version" 4
ch_expect_text "... says so" "is the current version"
ops secret get db-billing --version 9
ch_expect_rc "secret get --version of a missing version" 1
ops grant db-billing app --ops decrypt
ch_expect_rc "grant of a key operation on a secret" 1
ops grant kek app --ops read
ch_expect_rc "grant of read on a key" 1
ops secret get nosuch
ch_expect_rc "secret get of a missing secret" 1
ch_expect_eq "... no object row changed" "$before" "$(ch_store_snapshot)"
ops_to "$D/got" secret get db-billing
ch_expect_same_file "... db-billing still reads version 2" "$D/v2" "$D/got"

echo "== secret delete"
ops secret delete db-billing --version 1
ch_expect_ok "secret delete db-billing --version 1"
ops secret get db-billing --version 1
ch_expect_rc "... its value cannot be read" 4
ch_expect_text "... it is destroyed" "version 1 is destroyed"
if store_has "$V1"; then
	ch_fail "version 1's value is gone from the store" "no match" "found"
else
	ch_pass "version 1's value is gone from the store"
fi
ops secret list --json
ch_expect_text "... its metadata stays (2 versions listed)" '"name":"db-billing","versions":2'
ops secret delete db-billing
ch_expect_ok "secret delete db-billing"
ch_expect_text "... every version" "deleted 'db-billing' (2 versions)"
ops secret list --json
ch_expect_eq "... only api-token is left" "api-token" "$(ch_field name | tr '\n' ' ' | sed 's/ $//')"
app_read "$D/app.out"
ch_expect_fails "pkcs11-tool finds no db-billing any more"

echo "== a forwarded registration holds no secrets"
if command -v softhsm2-util >/dev/null; then
	ch_softhsm_setup
	ch_softhsm_token hsm-fwd
	ch_forward_add fwd
	ch_p11 --slot "$CH_FORWARD_SLOT0" --init-token --label fwd --so-pin "$SO_PIN"
	ch_expect_ok "--init-token of the forwarded registration fwd"
	"$run_tool" env CIPHERHUB_PIN="$SO_PIN" CIPHERHUB_NEW_PIN="$OPS_PIN" "$TOOL" \
		--module "$CH_TEST_MODULE" --token fwd participant add ops --roles operator,user
	ch_expect_ok "participant add ops on fwd"
	ops --token fwd secret put db-billing --file "$D/v3"
	ch_expect_rc "secret put on a forwarded registration: not supported" 2
	ch_expect_text "... says why" "holds no secrets"
	ch_hsm --token-label hsm-fwd --login --pin "$CH_HSM_PIN" --list-objects --type data
	ch_expect_no_text "... nothing reached the HSM" "db-billing"
else
	ch_note "softhsm2 is not installed: the forwarded case is not checked"
fi
ch_finish
