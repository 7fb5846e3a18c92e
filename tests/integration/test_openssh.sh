#!/usr/bin/env bash
#
# test_openssh.sh: OpenSSH (9.2, Debian 12) with its keys in the token.
#
# An RSA and an ECDSA P-256 key pair are generated on the token with pkcs11-tool.  Then:
#  - `ssh-keygen -D MODULE` prints exactly those two public keys, compared with the public
#    halves read another way (pkcs11-tool --read-object for RSA, the CKA_EC_POINT for EC, turned
#    into OpenSSH's format by openssl and ssh-keygen -i);
#  - a private sshd on 127.0.0.1 (a free port, its own host key, configuration and
#    AuthorizedKeysFile in the temp dir) is logged in to with `ssh -I MODULE`, once with only the
#    RSA key authorized and once with only the ECDSA key; the remote command's output and sshd's
#    "Accepted publickey ... <fingerprint>" line prove which key signed; a key not authorized, and
#    a wrong PIN, are refused;
#  - `ssh-agent` + `ssh-add -s MODULE` lists both keys and ssh logs in through the agent with each;
#    `ssh-add -e` takes them away again; a wrong PIN makes `ssh-add -s` fail;
#  - a participant (alice, added with the admin tool) logs in with `alice:PIN` as the PIN, a PIN of
#    more than 32 bytes with spaces and non-ASCII bytes, both through `ssh -I` and through the
#    agent, with a key she generated; the default participant may not sign with that key
#    (CKR_KEY_FUNCTION_NOT_PERMITTED: no grant), so ssh is refused.
#
# The PIN is given non-interactively the way OpenSSH allows: SSH_ASKPASS names a script printing
# it, SSH_ASKPASS_REQUIRE=force and DISPLAY make ssh and ssh-add use it.  ssh reads no ~/.ssh:
# -F /dev/null, the known_hosts file (made from the host key) in the temp dir, StrictHostKeyChecking.
#
# sshd runs as the user running the test and logs that user in: root in CI (PermitRootLogin
# prohibit-password; sshd then needs its privilege separation directory /run/sshd, which the
# test makes when it is missing and removes again), any other user otherwise (tried as one).
#
# Debian's ssh-agent is setgid _ssh, so the dynamic loader drops LD_PRELOAD for it and for the
# ssh-pkcs11-helper it starts: a module built with AddressSanitizer then cannot load ("ASan
# runtime does not come first").  For a sanitized module the test therefore runs a copy of
# /usr/bin/ssh-agent without the setgid bit (the same program otherwise); for a plain module it
# runs /usr/bin/ssh-agent itself.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup

SO_PIN=87654321
USER_PIN=12345678
ALICE_PIN='a passphrase of more than 32 bytes, with spaces and ünïcödé'
D=$CH_TMP
MOD=$CH_TEST_MODULE
ADMIN_TOOL=${CH_TEST_BIN:-$(dirname "$MOD")}/cipherhub
LOGIN=$(id -un)
SSHD_PID=
AGENT_PID=
MADE_PRIVSEP_DIR=0

# Stops the servers and removes what the test made outside the temp dir, then runs lib.sh's
# handler with the script's exit status.
# shellcheck disable=SC2317 # invoked by the EXIT trap
ssh_on_exit()
{
	local rc=$?
	set +e
	trap - ERR
	[[ -n $AGENT_PID ]] && kill "$AGENT_PID" 2>/dev/null
	[[ -n $SSHD_PID ]] && kill "$SSHD_PID" 2>/dev/null
	wait 2>/dev/null
	[[ $MADE_PRIVSEP_DIR == 1 ]] && rmdir /run/sshd 2>/dev/null
	(exit "$rc")
	ch__on_exit
}
trap ssh_on_exit EXIT

user()
{
	ch_p11 --token-label ssh --login --pin "$USER_PIN" "$@"
}

# pin_is PIN: what the askpass script answers from now on.
pin_is()
{
	printf '%s\n' "$1" >"$D/pin.txt"
}

# authorize PUBFILE...: sshd accepts exactly these keys from now on.
authorize()
{
	cat "$@" >"$D/authorized_keys"
}

# A free TCP port on 127.0.0.1 (the kernel's choice; released again at once).
free_port()
{
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ssh_to TAG ARGS...: ssh to the test's sshd, running "echo hello-TAG"; ARGS pick the keys.
ssh_to()
{
	local tag=$1
	shift
	SSHD_MARK=$(wc -l <"$D/sshd.log")
	ch_run_mod ssh -F /dev/null -p "$PORT" -o BatchMode=no -o StrictHostKeyChecking=yes \
		-o UserKnownHostsFile="$D/known_hosts" -o GlobalKnownHostsFile=/dev/null \
		-o IdentityFile="$D/no-such-identity" -o PasswordAuthentication=no \
		-o KbdInteractiveAuthentication=no -o ConnectTimeout=20 \
		"$@" "$LOGIN@127.0.0.1" echo "hello-$tag"
}

# expect_login STEP TAG PUBFILE: the last ssh_to TAG ran its command, and sshd says the key in
# PUBFILE was the one accepted.
expect_login()
{
	local fp
	ch_expect_ok "$1"
	ch_expect_text "... and ran the remote command" "hello-$2"
	fp=$(ssh-keygen -l -f "$3" | awk '{ print $2 }')
	if sshd_news | awk -v who="$LOGIN" -v fp="$fp" '$1 == "Accepted" && $2 == "publickey" &&
		$4 == who && $6 == "127.0.0.1" && $NF == fp { found = 1 } END { exit !found }'; then
		ch_pass "... sshd accepted the key $fp"
	else
		ch_fail "... sshd accepted the key $fp" "an 'Accepted publickey' line for $fp" \
			"$(sshd_news | grep -a 'Accepted publickey' || echo 'no such line')"
	fi
}

# expect_refused STEP: the last ssh_to failed as ssh fails (status 255), refused by the server,
# and the remote command did not run.
expect_refused()
{
	if [[ $CH_RC == 255 ]] && grep -qF 'Permission denied (publickey)' <<<"$CH_OUT" &&
		! grep -q '^hello-' <<<"$CH_OUT"; then
		ch_pass "$1"
	else
		ch_fail "$1" "status 255, 'Permission denied (publickey)', no command output" \
			"status $CH_RC"
	fi
	if sshd_news | grep -qa '^Accepted publickey'; then
		ch_fail "... sshd accepted no key" "no 'Accepted publickey' line" \
			"$(sshd_news | grep -a '^Accepted publickey')"
	else
		ch_pass "... sshd accepted no key"
	fi
}

# What sshd logged since the last ssh_to began (its lines end in CR LF: the CRs dropped).
sshd_news()
{
	tail -n "+$((SSHD_MARK + 1))" "$D/sshd.log" | tr -d '\r'
}

export SSH_ASKPASS=$D/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0
printf '#!/bin/sh\ncat %q\n' "$D/pin.txt" >"$D/askpass"
chmod 700 "$D/askpass"

echo "== a registration with an RSA and an ECDSA key pair"
ch_p11 --init-token --label ssh --so-pin "$SO_PIN"
ch_expect_ok "--init-token succeeds"
ch_p11 --token-label ssh --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
ch_expect_ok "--init-pin succeeds"
user --keypairgen --key-type rsa:2048 --id 01 --label ssh-rsa-key --usage-sign
ch_expect_ok "an RSA 2048 key pair is generated"
user --keypairgen --key-type EC:prime256v1 --id 02 --label ssh-ec-key --usage-sign
ch_expect_ok "an ECDSA P-256 key pair is generated"

echo "== the public keys, read another way"
ch_p11 --token-label ssh --read-object --type pubkey --id 01 -o "$D/rsa.der"
ch_expect_ok "pkcs11-tool reads the RSA public key"
ch_run openssl pkey -pubin -inform DER -in "$D/rsa.der" -out "$D/rsa.pem"
ch_expect_ok "... which openssl takes"
ch_run ssh-keygen -i -m PKCS8 -f "$D/rsa.pem"
ch_expect_ok "... and ssh-keygen -i turns into OpenSSH's format"
printf '%s ssh-rsa-key\n' "$CH_OUT" >"$D/rsa.pub"
# The EC public key as SubjectPublicKeyInfo: id-ecPublicKey, P-256, the point out of CKA_EC_POINT.
ch_p11 --token-label ssh --list-objects --type pubkey
point=$(awk '/^Public Key Object/ { pt = "" } /^  EC_POINT: / { pt = $2 }
	/^  ID: / && $2 == "02" { print pt; exit }' <<<"$CH_OUT")
ch_expect_eq "the EC point is a 65-byte uncompressed point in an OCTET STRING" "044104" "${point:0:6}"
ch_unhex "3059301306072a8648ce3d020106082a8648ce3d030107034200${point:4}" "$D/ec.der"
ch_run openssl pkey -pubin -inform DER -in "$D/ec.der" -out "$D/ec.pem"
ch_expect_ok "openssl takes the EC public key"
ch_run ssh-keygen -i -m PKCS8 -f "$D/ec.pem"
ch_expect_ok "... and ssh-keygen -i turns it into OpenSSH's format"
printf '%s ssh-ec-key\n' "$CH_OUT" >"$D/ec.pub"

echo "== ssh-keygen -D"
ch_run_mod ssh-keygen -D "$MOD"
ch_expect_ok "ssh-keygen -D succeeds"
ch_expect_lines "... and prints two keys" '^(ssh-rsa|ecdsa-sha2-nistp256) ' 2
ch_expect_text "... the RSA key as read from the token" "$(cat "$D/rsa.pub")"
ch_expect_text "... the ECDSA key as read from the token" "$(cat "$D/ec.pub")"

echo "== a private sshd on 127.0.0.1"
ch_run ssh-keygen -q -t ed25519 -N '' -C test-host -f "$D/host_key"
ch_expect_ok "a host key"
ch_run ssh-keygen -q -t ed25519 -N '' -C stranger -f "$D/stranger"
ch_expect_ok "a key that is not on the token"
if [[ $(id -u) == 0 && ! -d /run/sshd ]]; then
	mkdir -m 0755 /run/sshd
	MADE_PRIVSEP_DIR=1
fi
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
: >"$D/authorized_keys"
: >"$D/sshd.log"
for try in 1 2 3; do
	PORT=$(free_port)
	cat >"$D/sshd_config" <<-EOF
		ListenAddress 127.0.0.1:$PORT
		HostKey $D/host_key
		PidFile none
		AuthorizedKeysFile $D/authorized_keys
		StrictModes no
		PermitRootLogin prohibit-password
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		LogLevel VERBOSE
	EOF
	timeout -k 5 300 "$SSHD" -D -e -f "$D/sshd_config" >>"$D/sshd.log" 2>&1 </dev/null &
	SSHD_PID=$!
	for _ in $(seq 100); do
		grep -q 'Server listening' "$D/sshd.log" && break
		kill -0 "$SSHD_PID" 2>/dev/null || break
		sleep 0.1
	done
	grep -q 'Server listening' "$D/sshd.log" && break
	kill "$SSHD_PID" 2>/dev/null || true
	wait "$SSHD_PID" 2>/dev/null || true
	SSHD_PID=
	ch_note "sshd did not start on port $PORT (try $try): $(tail -n 1 "$D/sshd.log")"
done
CH_OUT=$(cat "$D/sshd.log")
ch_expect_text "sshd listens on 127.0.0.1:${PORT}" "Server listening on 127.0.0.1 port $PORT"
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$D/host_key.pub")" >"$D/known_hosts"

echo "== ssh -I"
pin_is "$USER_PIN"
authorize "$D/stranger.pub"
ssh_to stranger -o IdentityAgent=none -I "$MOD"
expect_refused "ssh -I is refused while only a key not on the token is authorized"

authorize "$D/rsa.pub"
pin_is 99999999
ssh_to wrong-pin -o IdentityAgent=none -I "$MOD"
expect_refused "ssh -I with a wrong PIN is refused"
ch_expect_text "... the token said so" 'PIN incorrect'
pin_is "$USER_PIN"
ssh_to rsa -o IdentityAgent=none -I "$MOD"
expect_login "ssh -I logs in with the RSA key from the token" rsa "$D/rsa.pub"

authorize "$D/ec.pub"
ssh_to ecdsa -o IdentityAgent=none -I "$MOD"
expect_login "ssh -I logs in with the ECDSA key from the token" ecdsa "$D/ec.pub"

echo "== ssh-agent and ssh-add -s"
AGENT=/usr/bin/ssh-agent
if [[ ${#CH_MOD_ENV[@]} != 0 && -g $AGENT ]]; then
	cp "$AGENT" "$D/ssh-agent"
	AGENT=$D/ssh-agent
	ch_note "the module is sanitized and $(command -v ssh-agent) is setgid: using a copy without the setgid bit"
fi
export SSH_AUTH_SOCK=$D/agent.sock
env "${CH_MOD_ENV[@]}" timeout -k 5 300 "$AGENT" -D -a "$SSH_AUTH_SOCK" -P "$MOD" \
	>"$D/agent.log" 2>&1 </dev/null &
AGENT_PID=$!
for _ in $(seq 100); do
	[[ -S $SSH_AUTH_SOCK ]] && break
	sleep 0.1
done
ch_run ssh-add -l
ch_expect_text "the agent runs and holds no key yet" 'The agent has no identities.'

pin_is 99999999
ch_run ssh-add -s "$MOD"
ch_expect_fails "ssh-add -s with a wrong PIN fails"
ch_run ssh-add -l
ch_expect_text "... and adds no key" 'The agent has no identities.'

pin_is "$USER_PIN"
ch_run ssh-add -s "$MOD"
ch_expect_ok "ssh-add -s succeeds with the PIN from SSH_ASKPASS"
ch_run ssh-add -l
ch_expect_lines "the agent holds two keys" '^[0-9]+ SHA256:' 2
ch_expect_text "... the RSA key" "$(ssh-keygen -l -f "$D/rsa.pub" | cut -d' ' -f1,2)"
ch_expect_text "... the ECDSA key" "$(ssh-keygen -l -f "$D/ec.pub" | cut -d' ' -f1,2)"

pin_is wrong-but-unused
authorize "$D/rsa.pub"
ssh_to agent-rsa -o IdentityAgent="$SSH_AUTH_SOCK"
expect_login "ssh through the agent logs in with the RSA key" agent-rsa "$D/rsa.pub"
authorize "$D/ec.pub"
ssh_to agent-ecdsa -o IdentityAgent="$SSH_AUTH_SOCK"
expect_login "ssh through the agent logs in with the ECDSA key" agent-ecdsa "$D/ec.pub"

ch_run ssh-add -e "$MOD"
ch_expect_ok "ssh-add -e removes the token's keys"
ssh_to agent-removed -o IdentityAgent="$SSH_AUTH_SOCK"
expect_refused "... after which ssh through the agent is refused"

echo "== a participant: alice:PIN"
CIPHERHUB_PIN=$SO_PIN CIPHERHUB_NEW_PIN=$ALICE_PIN ch_run_mod "$ADMIN_TOOL" \
	--module "$MOD" --token ssh participant add alice --roles operator,user
ch_expect_ok "the admin tool adds alice"
ch_p11 --token-label ssh --login --pin "alice:$ALICE_PIN" --keypairgen --key-type EC:prime256v1 \
	--id 03 --label alice-key --usage-sign
ch_expect_ok "alice generates her own ECDSA key"
ch_run_mod ssh-keygen -D "$MOD"
ch_expect_lines "ssh-keygen -D now prints three keys" '^(ssh-rsa|ecdsa-sha2-nistp256) ' 3
grep ' alice-key$' <<<"$CH_OUT" >"$D/alice.pub" || true
ch_run ssh-keygen -l -f "$D/alice.pub"
ch_expect_ok "... alice's among them"

authorize "$D/alice.pub"
pin_is "$USER_PIN"
ssh_to alice-default -o IdentityAgent=none -I "$MOD"
expect_refused "the default participant may not sign with alice's key"
ch_expect_text "... the token refused the key to it" 'C_SignInit failed: 104'
pin_is "alice:$ALICE_PIN"
ssh_to alice -o IdentityAgent=none -I "$MOD"
expect_login "ssh -I logs in with alice's key, PIN alice:PIN" alice "$D/alice.pub"
ch_run ssh-add -s "$MOD"
ch_expect_ok "ssh-add -s takes alice:PIN"
ssh_to agent-alice -o IdentityAgent="$SSH_AUTH_SOCK"
expect_login "ssh through the agent logs in with alice's key" agent-alice "$D/alice.pub"

CH_OUT=$(cat "$D/agent.log")
ch_expect_no_text "the agent's log holds no sanitizer report" 'ERROR: AddressSanitizer'
ch_expect_no_text "... nor a UBSan report" 'runtime error:'
ch_finish
