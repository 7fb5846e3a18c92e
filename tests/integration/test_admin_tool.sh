#!/usr/bin/env bash
#
# test_admin_tool.sh: the admin tool `cipherhub` driving a registration end to end through the
# module, the way an operator would (issue 3, items 7 and 8).
#
# On a fresh temp store it creates the registration "payments" with pkcs11-tool, then uses the
# tool for everything PKCS#11 has no call for: listing registrations (text and JSON), adding
# participants (PINs from the environment, from --pin-fd, and from a terminal with echo off),
# refusing bad input (duplicate names, malformed names, unknown roles, removing "so", no PIN
# source) without changing anything, changing roles, counting wrong PINs to a lockout and
# unlocking, and reading and verifying the audit log, which must then fail (exit 3, naming the
# record) once one of its rows is edited directly in the SQLite file.  A participant the tool
# added logs in through pkcs11-tool with "name:pin" and generates a key, which proves the tool's
# changes are the module's.
#
# Parts whose module side is not there yet are reported as "skip" (not counted as passed): the
# test recognises them only by the tool saying that the module does not implement the vendor
# function (exit status 2), so once the module has it, they run and must pass.
#
# Needs: the built tool (CH_TOOL, else $CH_TEST_BIN/cipherhub, else next to the module), jq or
# python3 for the JSON checks, sqlite3 or python3 to edit the store, python3 for the terminal test.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup

D=$CH_TMP
SO_PIN=so-secret-4711
ALICE_PIN=alice-pin-1234
BOB_PIN=bob-pin-5678
CAROL_PIN=carol-pin-9012
DAVE_PIN=dave-pin-3456
# Three wrong PINs lock a participant in this test (the default is 10).
sed -i 's/^\[pin\]$/[pin]\nmax_failures = 3/' "$CIPHERHUB_CONF"

# The tool.
ch_tool_setup
printf 'tool:    %s\n' "$TOOL"

# t ARGS...: the tool on the test module, no PIN given.
t()
{
	"$run_tool" "$TOOL" --module "$CH_TEST_MODULE" "$@"
}

# as_so ARGS...: the tool acting as "so" (PIN in CIPHERHUB_PIN).
as_so()
{
	"$run_tool" env CIPHERHUB_PIN="$SO_PIN" "$TOOL" --module "$CH_TEST_MODULE" "$@"
}

# as NAME PIN ARGS...: the tool acting as participant NAME.
as()
{
	local name=$1 pin=$2
	shift 2
	"$run_tool" env CIPHERHUB_PIN="$pin" "$TOOL" --module "$CH_TEST_MODULE" --as "$name" "$@"
}

# json_field KEY: the value of KEY in every JSON line of the last call's output, one per line
# (arrays joined with ","); fails when a line is not a JSON object.
json_field()
{
	if command -v jq >/dev/null; then
		jq -r --arg k "$1" \
			'if type != "object" then error("not an object") else .[$k] end |
			if type == "array" then join(",") else tostring end' <<<"$CH_OUT"
	else
		python3 -c '
import json, sys
for line in sys.stdin:
    if not line.strip():
        continue
    o = json.loads(line)
    if not isinstance(o, dict):
        sys.exit("not an object")
    v = o.get(sys.argv[1])
    if isinstance(v, list):
        print(",".join(v))
    elif isinstance(v, str):
        print(v)
    else:
        print(json.dumps(v))
' "$1" <<<"$CH_OUT"
	fi
}

# expect_json_lines STEP N: the last call printed exactly N lines, each a JSON object.
expect_json_lines()
{
	local n bad=0
	n=$(grep -c . <<<"$CH_OUT" || true)
	json_field seq >/dev/null 2>&1 || bad=1
	if [[ $n == "$2" && $bad == 0 ]]; then
		ch_pass "$1"
	else
		ch_fail "$1" "$2 lines, each a JSON object" "$n lines, valid JSON: $([[ $bad == 0 ]] &&
			echo yes || echo no)"
	fi
}

# participants_json: the participant list as "name=roles/failed/locked" words, sorted.
participants_json()
{
	as_so participant list --json
	[[ $CH_RC == 0 ]] || return 0
	paste -d' ' <(json_field name) <(json_field roles) <(json_field failed_logins) \
		<(json_field locked) | awk '{ printf "%s=%s/%s/%s\n", $1, $2, $3, $4 }' | sort |
		tr '\n' ' '
}

# The store, edited directly (only for the tamper test): sqlite3 when installed, else python3.
store_sql()
{
	if command -v sqlite3 >/dev/null; then
		ch_run sqlite3 "$CIPHERHUB_STORE" "$1"
	else
		ch_run python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for stmt in sys.argv[2].split(";"):
    if stmt.strip():
        for row in db.execute(stmt):
            print("|".join(str(x) for x in row))
db.commit()
' "$CIPHERHUB_STORE" "$1"
	fi
}

echo "== help and unsupported commands"
t --help
ch_expect_ok "--help exits 0"
ch_expect_text "--help lists participant add" 'participant add NAME --roles ROLES'
ch_expect_text "--help lists audit verify" 'audit verify'
ch_expect_lines "--help lists grant, revoke and grants" \
	'^  (grant KEY GRANTEE --ops OPS|revoke KEY GRANTEE|grants KEY) ' 3
t participant add --help
ch_expect_ok "participant add --help exits 0"
ch_expect_text "participant add --help explains --roles" '--roles ROLES'
t audit --help
ch_expect_ok "audit --help lists the audit subcommands"
ch_expect_lines "... all three" '^  audit (show|export|verify)' 3
t grant --help
ch_expect_ok "grant --help exits 0"
ch_expect_text "... explains --ops" '--ops OPS'
t grant somekey
ch_expect_rc "grant with one argument is a usage error (1)" 1
t frobnicate
ch_expect_rc "an unknown command is a usage error (1)" 1
ch_expect_text "... naming it" "unknown command 'frobnicate'"
t participant list --from 3
ch_expect_rc "an option a command does not take is a usage error (1)" 1
t participant add alice --pin 1234 --roles user
ch_expect_rc "there is no --pin option (PINs never come from the command line)" 1
ch_expect_text "... --pin is not taken as an abbreviation of --pin-fd" "unknown option '--pin'"

echo "== registrations"
t registrations
ch_expect_ok "registrations on an empty store succeeds"
ch_expect_lines "... shows the one free slot, software, healthy" '^1 +- +software +ok +\(free' 1
ch_expect_lines "... under a header naming kind, health and backend" \
	'^SLOT +LABEL +KIND +HEALTH +SERIAL .* BACKEND$' 1

ch_p11 --slot 1 --init-token --label payments --so-pin "$SO_PIN"
ch_expect_ok "pkcs11-tool --init-token creates 'payments'"

t registrations
ch_expect_ok "registrations succeeds"
ch_expect_lines "... shows payments in slot 1, software, healthy" '^1 +payments +software +ok ' 1
ch_expect_lines "... and the new free slot 2" '^2 +- +software +ok +\(free' 1
t registrations --json
ch_expect_ok "registrations --json succeeds"
expect_json_lines "... prints one JSON object per slot" 2
ch_expect_eq "... slot IDs" "1 2" "$(json_field slot | tr '\n' ' ' | sed 's/ $//')"
ch_expect_eq "... slot 1 is initialized, slot 2 free" "true false" \
	"$(json_field initialized | tr '\n' ' ' | sed 's/ $//')"
ch_expect_eq "... slot 1 is labelled payments" payments "$(json_field label | head -n 1)"
ch_expect_eq "... both are software slots" "software software" \
	"$(json_field kind | tr '\n' ' ' | sed 's/ $//')"
ch_expect_eq "... without a backend" "null null" "$(json_field backend | tr '\n' ' ' | sed 's/ $//')"
ch_expect_eq "... and healthy" "ok ok" "$(json_field health | tr '\n' ' ' | sed 's/ $//')"
ch_expect_eq "... their tokens present" "true true" \
	"$(json_field token_present | tr '\n' ' ' | sed 's/ $//')"
uuid=$(json_field uuid | head -n 1)
if [[ $uuid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]; then
	ch_pass "... with a UUID ($uuid)"
else
	ch_fail "... with a UUID" "8-4-4-4-12 lowercase hex" "'$uuid'"
fi
ch_expect_eq "... holding no object yet" 0 "$(json_field objects | head -n 1)"
ch_expect_eq "... with the configured PIN KDF cost" 1000 "$(json_field kdf_cost | head -n 1)"

"$run_tool" env CIPHERHUB_MODULE="$CH_TEST_MODULE" "$TOOL" registrations
ch_expect_ok "CIPHERHUB_MODULE names the module when --module is absent"
ch_expect_lines "... and it is the same module" '^1 +payments ' 1
beside=$(readlink -f "$(dirname "$TOOL")/cipherhub-pkcs11.so")
if [[ $beside == "$(readlink -f "$CH_TEST_MODULE")" ]]; then
	"$run_tool" "$TOOL" registrations
	ch_expect_ok "with neither, the module next to the tool is used"
	ch_expect_lines "... and it is the same module" '^1 +payments ' 1
else
	ch_note "the module next to the tool is not CH_TEST_MODULE: default lookup not checked"
fi
t --module "$D/no-such-module.so" registrations
ch_expect_rc "a module that cannot be loaded is a PKCS#11-side error (4)" 4
ch_expect_text "... saying it cannot be loaded" 'cannot load the module'

echo "== participants: list, add"
as_so participant list
ch_expect_ok "participant list as so succeeds"
ch_expect_lines "... shows so as admin" '^so +admin +0 +no$' 1

"$run_tool" env CIPHERHUB_PIN="$SO_PIN" CIPHERHUB_NEW_PIN="$ALICE_PIN" "$TOOL" \
	--module "$CH_TEST_MODULE" participant add alice --roles operator,user
ch_expect_ok "participant add alice (PINs from the environment) succeeds"
ch_expect_text "... and says so" "participant 'alice' added to 'payments' with roles operator,user"

printf '%s\n%s\n' "$SO_PIN" "$BOB_PIN" >"$D/pins"
"$run_tool" "$TOOL" --module "$CH_TEST_MODULE" participant add bob --roles auditor \
	--pin-fd 3 --json 3<"$D/pins"
ch_expect_ok "participant add bob (both PINs from --pin-fd) succeeds"
expect_json_lines "... --json prints one JSON object" 1
ch_expect_eq "... naming bob" bob "$(json_field participant)"
ch_expect_eq "... with his roles" auditor "$(json_field roles)"

as_so participant list
ch_expect_ok "participant list succeeds"
ch_expect_lines "... shows alice as operator and user" '^alice +operator,user +0 +no$' 1
ch_expect_lines "... shows bob as auditor" '^bob +auditor +0 +no$' 1
ch_expect_lines "... and nobody else" '^[a-z]+ ' 3
as_so participant list --json
ch_expect_ok "participant list --json succeeds"
expect_json_lines "... prints one JSON object per participant" 3
before=$(participants_json)
ch_expect_eq "... with names, roles, failed logins and lock state" \
	"alice=operator,user/0/false bob=auditor/0/false so=admin/0/false " "$before"

echo "== bad input changes nothing"
"$run_tool" env CIPHERHUB_PIN="$SO_PIN" CIPHERHUB_NEW_PIN=other-pin-000 "$TOOL" \
	--module "$CH_TEST_MODULE" participant add alice --roles admin
ch_expect_rc "adding alice a second time fails (4)" 4
ch_expect_text "... saying she exists" "participant 'alice' already exists in 'payments'"
ch_expect_text "... with the call and its CKR_ name" 'CH_ParticipantAdd: CKR_ACTION_PROHIBITED'

too_long=abcdefghijklmnopqrstuvwxyz0123456 # 33 characters
for bad in 'x y' -leading-dash .leading-dot 'caf&' 'tab	here' "$too_long" ''; do
	"$run_tool" env CIPHERHUB_PIN="$SO_PIN" CIPHERHUB_NEW_PIN=other-pin-000 "$TOOL" \
		--module "$CH_TEST_MODULE" participant add --roles user -- "$bad"
	ch_expect_rc "participant add '$bad' is a usage error (1)" 1
	ch_expect_text "... stating the name rule" \
		'name must be 1-32 characters of A-Z a-z 0-9 . _ -'
done
as_so participant add so --roles user
ch_expect_rc "participant add so (reserved) is a usage error (1)" 1
ch_expect_text "... saying it is reserved" "'so' is a reserved participant name"
as_so participant add carol --roles user,root
ch_expect_rc "an unknown role is a usage error (1)" 1
ch_expect_text "... naming it" "unknown role 'root'"
as_so participant add carol
ch_expect_rc "participant add without --roles is a usage error (1)" 1

as_so participant remove so
ch_expect_rc "removing so fails (4)" 4
ch_expect_text "... saying why" "'so' is a reserved participant name and cannot be removed"
ch_expect_text "... with the call and its CKR_ name" 'CH_ParticipantRemove: CKR_ACTION_PROHIBITED'
as_so participant remove carol
ch_expect_rc "removing an unknown participant fails (4)" 4
ch_expect_text "... saying it is not found" "participant 'carol' not found"
as_so participant unlock carol
ch_expect_rc "unlocking an unknown participant fails (4)" 4
ch_expect_text "... saying it is not found" "participant 'carol' not found"

t participant list
ch_expect_rc "with no PIN source and no terminal the tool stops (1)" 1
ch_expect_text "... saying where a PIN may come from" 'no PIN for'
as so wrong-pin-000 participant list
ch_expect_rc "a wrong SO PIN is a failed login (5)" 5
ch_expect_text "... with CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT'
as alice "$ALICE_PIN" participant add carol --roles user
ch_expect_rc "alice (no admin role) cannot log in as admin (5)" 5
ch_expect_text "... the module says so" 'CKR_USER_TYPE_INVALID'
as alice "$ALICE_PIN" participant list
ch_expect_rc "alice (operator, user) may not list participants (4)" 4
ch_expect_text "... refused by the module" 'CKR_USER_NOT_LOGGED_IN'

ch_expect_eq "after all that, the participants are unchanged" "$before" "$(participants_json)"

echo "== roles change; a participant logs in through pkcs11-tool"
"$run_tool" env CIPHERHUB_PIN="$SO_PIN" CIPHERHUB_NEW_PIN="$CAROL_PIN" "$TOOL" \
	--module "$CH_TEST_MODULE" participant add carol --roles user
ch_expect_ok "participant add carol succeeds"
as_so participant set-roles carol --roles operator,auditor
ch_expect_ok "participant set-roles carol succeeds"
as_so participant list
ch_expect_lines "... and carol now is operator and auditor" '^carol +operator,auditor ' 1
as_so participant set-roles so --roles user
ch_expect_rc "changing the roles of so fails (4)" 4
as_so participant remove carol
ch_expect_ok "participant remove carol succeeds"
ch_expect_eq "... and the participants are as before" "$before" "$(participants_json)"

ch_p11 --token-label payments --login --pin "alice:$ALICE_PIN" --keygen --key-type AES:32 \
	--label alice-key
ch_expect_ok "alice logs in through pkcs11-tool with name:pin and generates a key"
ch_expect_text "... an AES-256 key" 'Secret Key Object; AES length 32'
t registrations --json
ch_expect_eq "registrations counts the new key" 1 "$(json_field objects | head -n 1)"
ch_p11 --token-label payments --login --pin "alice:wrong-pin-000" -O
ch_expect_fails "alice's login with a wrong PIN fails in pkcs11-tool"
as_so participant list
ch_expect_lines "... and is counted" '^alice +operator,user +1 +no$' 1
as_so participant unlock alice
ch_expect_ok "participant unlock alice (clears her count) succeeds"

echo "== three wrong PINs lock bob; unlock"
for i in 1 2 3; do
	as bob "wrong-pin-00$i" participant list
	ch_expect_rc "bob's wrong PIN #$i is a failed login (5)" 5
done
as_so participant list
ch_expect_lines "bob is now locked after 3 failures" '^bob +auditor +3 +yes$' 1
ch_expect_lines "... alice is not affected" '^alice +operator,user +0 +no$' 1
as bob "$BOB_PIN" participant list
ch_expect_rc "bob's right PIN is refused while he is locked (5)" 5
ch_expect_text "... with CKR_PIN_LOCKED" 'CKR_PIN_LOCKED'
ch_expect_text "... telling how to unlock" 'participant unlock bob'
as_so participant unlock bob
ch_expect_ok "participant unlock bob succeeds"
ch_expect_text "... and says so" "participant 'bob' unlocked in 'payments'"
as bob "$BOB_PIN" participant list
ch_expect_ok "bob (auditor) logs in again and lists participants"
ch_expect_lines "... his count is back to 0" '^bob +auditor +0 +no$' 1

echo "== a PIN typed on a terminal is not echoed"
if command -v python3 >/dev/null; then
	# tty_session.py PROMPT ANSWER [PROMPT ANSWER...] -- COMMAND...: runs COMMAND on a new terminal,
	# answers each prompt once it appears, prints the whole transcript, exits with its status.
	cat >"$D/tty_session.py" <<'EOF'
import os, pty, select, sys, time
sep = sys.argv.index("--")
pairs, cmd = sys.argv[1:sep], sys.argv[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out, deadline = b"", time.time() + 50
def more():
    global out
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            return False
        if not data:
            return False
        out += data
    return True
seen = 0
for i in range(0, len(pairs), 2):
    prompt = pairs[i].encode()
    while out.find(prompt, seen) < 0 and time.time() < deadline and more():
        pass
    seen = out.find(prompt, seen) + len(prompt)
    os.write(fd, pairs[i + 1].encode() + b"\n")
while time.time() < deadline and more():
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
EOF
	"$run_tool" python3 "$D/tty_session.py" 'PIN of so' "$SO_PIN" -- \
		"$TOOL" --module "$CH_TEST_MODULE" participant list
	ch_expect_ok "participant list with the PIN typed at a prompt succeeds"
	ch_expect_text "... the prompt names who logs in where" "PIN of so on 'payments':"
	ch_expect_lines "... and lists the participants" '^(so|alice|bob) ' 3
	ch_expect_no_text "... the PIN is not echoed" "$SO_PIN"

	"$run_tool" python3 "$D/tty_session.py" 'PIN of so' "$SO_PIN" 'New PIN for dave' "$DAVE_PIN" \
		'Repeat the new PIN' "$DAVE_PIN" -- \
		"$TOOL" --module "$CH_TEST_MODULE" participant add dave --roles user
	ch_expect_ok "participant add dave with both PINs typed at prompts succeeds"
	ch_expect_no_text "... no PIN is echoed" "$DAVE_PIN"
	ch_p11 --token-label payments --login --pin "dave:$DAVE_PIN" -O
	ch_expect_ok "... and dave logs in through pkcs11-tool with the PIN typed"
	as_so participant remove dave
	ch_expect_ok "... dave is removed again"

	"$run_tool" python3 "$D/tty_session.py" 'PIN of so' "$SO_PIN" 'New PIN for erin' erin-pin-1111 \
		'Repeat the new PIN' erin-pin-2222 -- \
		"$TOOL" --module "$CH_TEST_MODULE" participant add erin --roles user
	ch_expect_rc "two different new PINs at the prompts are refused (1)" 1
	ch_expect_text "... saying they differ" 'differ; nothing was changed'
	ch_expect_eq "... and erin was not added" "$before" "$(participants_json)"
else
	ch_note "terminal prompts not checked: python3 (for a pseudo-terminal) is not installed"
fi

echo "== grants"
ch_p11 --token-label payments --login --pin "alice:$ALICE_PIN" --keygen --key-type AES:32 \
	--label shared-key
ch_expect_ok "alice (operator) makes a key with pkcs11-tool"
as alice "$ALICE_PIN" grant shared-key role:user --ops encrypt,decrypt
ch_expect_ok "alice grants role:user encrypt and decrypt"
ch_expect_text "... and says so" "'role:user' may use 'shared-key' for encrypt,decrypt"
as alice "$ALICE_PIN" grant shared-key bob --ops sign
ch_expect_ok "alice grants bob sign"
as alice "$ALICE_PIN" grants shared-key --json
ch_expect_ok "grants --json lists them"
ch_expect_lines "... two grants" '^\{"key":"shared-key","grantee":"(bob|role:user)"' 2
ch_expect_text "... bob's" '"grantee":"bob","operations":"sign"'
as alice "$ALICE_PIN" revoke shared-key bob
ch_expect_ok "revoke takes bob's grant back"
as alice "$ALICE_PIN" grants shared-key
ch_expect_no_text "... and bob is gone from the list" 'bob'
ch_expect_text "... role:user stays" 'encrypt,decrypt'
as alice "$ALICE_PIN" grant shared-key bob --ops fly
ch_expect_rc "an unknown operation is a usage error (1)" 1
as alice "$ALICE_PIN" grant no-such-key bob --ops sign
ch_expect_rc "a key that is not there is a usage error (1)" 1
as alice "$ALICE_PIN" grant shared-key nobody --ops sign
ch_expect_rc "an unknown grantee is refused by the module (4)" 4
as bob "$BOB_PIN" grant shared-key bob --ops all
ch_expect_rc "bob (an auditor) cannot grant himself anything (4)" 4

echo "== audit: show, export, verify"
as bob "$BOB_PIN" audit show
ch_expect_ok "audit show as bob (auditor) succeeds"
ch_expect_lines "... prints a header" '^ +SEQ +TIME' 1
ch_expect_text "... records logins" 'login'
ch_expect_text "... records alice's wrong PIN" 'CKR_PIN_INCORRECT'
ch_expect_text "... names participants" 'alice'

as bob "$BOB_PIN" audit export
ch_expect_ok "audit export succeeds"
n=$(grep -c . <<<"$CH_OUT" || true)
if [[ $n -ge 5 ]]; then
	ch_pass "... the log holds the logins so far ($n records)"
else
	ch_fail "... the log holds the logins so far" "at least 5 records" "$n"
fi
expect_json_lines "... one JSON object per record" "$n"
seqs=$(json_field seq | tr '\n' ' ' | sed 's/ $//')
ch_expect_eq "... numbered 1, 2, ... without gaps" "$(seq -s ' ' 1 "$n")" "$seqs"
ch_expect_eq "... each with a result" "$n" "$(json_field result | grep -c '^CKR_' || true)"
records=$n
as bob "$BOB_PIN" audit export --from 2
ch_expect_eq "audit export --from 2 starts at record 2" 2 "$(json_field seq | head -n 1)"
as_so audit show --json
ch_expect_ok "audit show --json as so succeeds"
ch_expect_eq "... prints JSON lines like export (plus the records since)" 1 \
	"$(json_field seq | head -n 1)"

as bob "$BOB_PIN" audit verify
ch_expect_ok "audit verify on the untouched log exits 0"
ch_expect_text "... and says it is intact" 'is intact'
as alice "$ALICE_PIN" audit verify
ch_expect_fails "alice (no auditor or admin role) cannot verify the log"

echo "== audit: an edited record is found"
store_sql "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p
	WHERE m.type = 'table' AND p.name = 'detail'"
table=$(head -n 1 <<<"$CH_OUT")
if [[ $CH_RC != 0 || ! $table =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
	ch_fail "the store has an audit table with a detail column" "a table name" \
		"'$table' (status $CH_RC)"
else
	ch_pass "the store has an audit table with a detail column ($table)"
	target=${records:-3}
	target=$((target > 2 ? 2 : target))
	store_sql "UPDATE $table SET detail = CAST(detail AS TEXT) || ' (edited)'
		WHERE seq = $target; SELECT changes();"
	ch_expect_eq "one row of $table edited in place (seq $target)" 1 \
		"$(tail -n 1 <<<"$CH_OUT")"
	as bob "$BOB_PIN" audit verify
	ch_expect_rc "audit verify after the edit exits 3" 3
	ch_expect_text "... naming the edited record" "first bad record is seq $target"
	as bob "$BOB_PIN" audit verify --json
	ch_expect_rc "audit verify --json exits 3 too" 3
	ch_expect_eq "... with intact false" false "$(json_field intact)"
	ch_expect_eq "... and first_bad $target" "$target" "$(json_field first_bad)"
fi
ch_finish
