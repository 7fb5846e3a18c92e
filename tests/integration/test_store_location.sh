#!/usr/bin/env bash
#
# test_store_location.sh: where the module keeps its store and how it reads its configuration,
# seen from a real client (pkcs11-tool).
#
# The README promises: with no configuration the store is $XDG_DATA_HOME/cipherhub/store.db, else
# ~/.local/share/cipherhub/store.db, created on first use (directory 0700, file 0600); a config
# file named by CIPHERHUB_CONF may name it ([store] path); CIPHERHUB_STORE wins over both; a
# configuration that cannot be parsed makes C_Initialize fail with CKR_GENERAL_ERROR and logs the
# line; a file that is not a Cipher Hub store is an error and is left as it was; and no PIN ever
# reaches the log, even at level debug.  Each promise is one block below.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup

D=$CH_TMP
SO_PIN=so-secret-4711
USER_PIN=user-secret-0815

# mode PATH: the permission bits of PATH in octal, or "missing".
mode()
{
	if [[ -e $1 ]]; then
		stat -c %a "$1"
	else
		echo missing
	fi
}

# A configuration without [store], so that the store's location comes from elsewhere.
write_conf()
{
	printf '[pin]\npbkdf2_iterations = 1000\n%s' "${2:-}" >"$1"
}

echo "== no store configured: \$XDG_DATA_HOME/cipherhub/store.db"
write_conf "$D/nostore.conf"
export CIPHERHUB_CONF=$D/nostore.conf
unset CIPHERHUB_STORE
export XDG_DATA_HOME=$D/xdg
ch_p11 -L
ch_expect_ok "-L with the embedded default store succeeds"
ch_expect_lines "... and lists one slot" '^Slot [0-9]+ ' 1
ch_expect_text "... with an uninitialized token" 'token state:   uninitialized'
ch_expect_eq "the store directory is created, mode 0700" 700 "$(mode "$D/xdg/cipherhub")"
ch_expect_eq "the store file is created, mode 0600" 600 "$(mode "$D/xdg/cipherhub/store.db")"

ch_p11 --slot 1 --init-token --label in-default --so-pin "$SO_PIN"
ch_expect_ok "--init-token in the default store succeeds"
ch_p11 -L
ch_expect_text "a new process finds the registration in the default store" \
	'token label        : in-default'

echo "== no XDG_DATA_HOME: ~/.local/share/cipherhub/store.db"
unset XDG_DATA_HOME
mkdir -p "$D/home"
saved_home=$HOME
export HOME=$D/home
ch_p11 -L
ch_expect_ok "-L with the HOME fallback succeeds"
ch_expect_lines "... and lists one slot (a new store)" '^Slot [0-9]+ ' 1
ch_expect_eq "the store is made under ~/.local/share, mode 0600" 600 \
	"$(mode "$D/home/.local/share/cipherhub/store.db")"
ch_expect_eq "... in a directory of mode 0700" 700 "$(mode "$D/home/.local/share/cipherhub")"
export HOME=$saved_home
export XDG_DATA_HOME=$D/xdg

echo "== [store] path in the configuration file"
write_conf "$D/path.conf" "[store]
path = $D/from-conf.db
"
export CIPHERHUB_CONF=$D/path.conf
ch_p11 -L
ch_expect_ok "-L with [store] path succeeds"
ch_expect_eq "the store named by [store] path is created" 600 "$(mode "$D/from-conf.db")"
ch_expect_no_text "... and not the default one" 'token label        : in-default'

echo "== CIPHERHUB_STORE wins over [store] path"
export CIPHERHUB_STORE=$D/from-env.db
ch_p11 -L
ch_expect_ok "-L with both set succeeds"
ch_expect_eq "the store named by CIPHERHUB_STORE is created" 600 "$(mode "$D/from-env.db")"
ch_p11 --slot 1 --init-token --label in-env --so-pin "$SO_PIN"
ch_expect_ok "--init-token in the CIPHERHUB_STORE store succeeds"
unset CIPHERHUB_STORE
ch_p11 -L
ch_expect_no_text "the [store] path store did not get that registration" \
	'token label        : in-env'

echo "== a configuration that cannot be parsed"
write_conf "$D/badvalue.conf" 'pbkdf2_iterations = banana
'
export CIPHERHUB_CONF=$D/badvalue.conf
ch_p11 -L
ch_expect_fails "-L with a bad value in the configuration fails"
ch_expect_text "... because C_Initialize answers CKR_GENERAL_ERROR" 'CKR_GENERAL_ERROR'
ch_expect_text "... and the log names line 3" 'line 3'

printf '[pin]\npbkdf2_iterations = 1000\n[log\nlevel = info\n' >"$D/syntax.conf"
export CIPHERHUB_CONF=$D/syntax.conf
ch_p11 -L
ch_expect_fails "-L with a syntax error in the configuration fails"
ch_expect_text "... because C_Initialize answers CKR_GENERAL_ERROR" 'CKR_GENERAL_ERROR'
ch_expect_text "... and the log names line 3" 'line 3'

write_conf "$D/unknown.conf" '[store]
pathh = /tmp/typo.db
'
export CIPHERHUB_CONF=$D/unknown.conf
ch_p11 -L
ch_expect_fails "-L with an unknown key in the configuration fails"
ch_expect_text "... and the log names line 4" 'line 4'

export CIPHERHUB_CONF=$D/does-not-exist.conf
ch_p11 -L
ch_expect_fails "-L with a configuration file that does not exist fails"
ch_expect_text "... because C_Initialize answers CKR_GENERAL_ERROR" 'CKR_GENERAL_ERROR'

echo "== the example configuration, conf/cipherhub.conf"
export CIPHERHUB_STORE=$D/example.db
export CIPHERHUB_CONF=$CH_TEST_SRC/conf/cipherhub.conf
ch_p11 -L
ch_expect_ok "the example configuration is accepted as shipped"
ch_expect_lines "... and the module lists one slot" '^Slot [0-9]+ ' 1
# Every documented key uncommented, with its documented default; the two paths moved into the
# temp dir.  A key the module does not know, or a default it rejects, fails here.
sed -e 's/^#\([a-z0-9_]* = \)/\1/' -e "s|^path = .*|path = $D/example-path.db|" \
	-e "s|^file = .*|file = $D/example.log|" "$CH_TEST_SRC/conf/cipherhub.conf" \
	>"$D/example-all.conf"
ch_run grep -cE '^[a-z0-9_]+ = ' "$D/example-all.conf"
ch_expect_eq "the example documents all 10 keys" 10 "$CH_OUT"
export CIPHERHUB_CONF=$D/example-all.conf
ch_p11 -L
ch_expect_ok "the example with every key set is accepted"
ch_expect_lines "... and the module lists one slot" '^Slot [0-9]+ ' 1
unset CIPHERHUB_STORE
ch_p11 -L
ch_expect_eq "... and its [store] path is used" 600 "$(mode "$D/example-path.db")"

echo "== a file that is not a Cipher Hub store"
printf 'these are my notes, not a database\n%.0s' {1..200} >"$D/notes.db"
cp "$D/notes.db" "$D/notes.orig"
write_conf "$D/plain.conf"
export CIPHERHUB_CONF=$D/plain.conf
export CIPHERHUB_STORE=$D/notes.db
ch_p11 -L
# pkcs11-tool 0.23 exits 1 when there is no slot, so its status says nothing here; "No slots."
# shows that C_GetSlotList answered (a crash would also be reported by ch_p11).
ch_expect_text "-L with a foreign file as the store lists no slot" 'No slots.'
ch_expect_lines "... not one" '^Slot [0-9]+ ' 0
ch_expect_same_file "the foreign file is left as it was" "$D/notes.orig" "$D/notes.db"

echo "== PINs never reach the log, even at level debug"
write_conf "$D/debug.conf" "[log]
level = debug
file = $D/debug.log
"
export CIPHERHUB_CONF=$D/debug.conf
export CIPHERHUB_STORE=$D/debug.db
ch_p11 --slot 1 --init-token --label logged --so-pin "$SO_PIN"
ch_expect_ok "--init-token with debug logging succeeds"
ch_p11 --token-label logged --login --login-type so --so-pin "$SO_PIN" --init-pin \
	--pin "$USER_PIN"
ch_expect_ok "--init-pin with debug logging succeeds"
ch_p11 --token-label logged --login --pin "$USER_PIN" --keygen --key-type AES:32 --label k
ch_expect_ok "a login and a key generation with debug logging succeed"
ch_p11 --token-label logged --login --pin wrong-pin-9999 -O
ch_expect_fails "a wrong PIN is refused"
ch_run cat "$D/debug.log"
ch_expect_text "the log file named by [log] file is written" 'cipherhub['
ch_expect_no_text "the SO PIN is not in the log" "$SO_PIN"
ch_expect_no_text "the user PIN is not in the log" "$USER_PIN"
ch_expect_no_text "a wrong PIN is not in the log" 'wrong-pin-9999'

ch_finish
