# shellcheck shell=bash
#
# tests/integration/servers.sh: background servers for the integration tests that need one (TLS
# servers of openssl and NSS).  Source it after lib.sh and after ch_setup.
#
# Why it exists: a test that starts a server must never leave it running, never wait for it
# without a bound, and never collide with another test's port.  So every server here
#  - listens on 127.0.0.1 on a port chosen free at run time (ch_free_port), or on port 0 where
#    the server reports what it got;
#  - runs under timeout (CH_SERVER_TIMEOUT seconds, default 40) with the module environment of
#    lib.sh (sanitizer runtimes preloaded), its output in $CH_TMP/NAME.out;
#  - is waited for with a bound (ch_server_wait) and killed by ch_server_stop or, whatever
#    happens, at exit (the EXIT trap installed here runs before lib.sh's).

declare -A ch__server_pid=()
ch__servers_rc=0

# Kills every server still running; called at exit.
ch__servers_stop_all()
{
	local name
	for name in "${!ch__server_pid[@]}"; do
		ch_server_stop "$name"
	done
}

trap 'ch__servers_rc=$?; ch__servers_stop_all; (exit "$ch__servers_rc"); ch__on_exit' EXIT

# ch_free_port: print a TCP port on 127.0.0.1 that is free now (the kernel's choice).
ch_free_port()
{
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# ch_server_start NAME CMD ARGS...: start a server that loads the module, in the background.
ch_server_start()
{
	local name=$1
	shift
	# shellcheck disable=SC2034 # read by lib.sh's ch_fail
	CH_CMD=$(ch__quote "$@")
	timeout -k 3 "${CH_SERVER_TIMEOUT:-40}" env "${CH_MOD_ENV[@]}" "$@" \
		>"$CH_TMP/$name.out" 2>&1 </dev/null &
	ch__server_pid[$name]=$!
}

# ch_server_wait NAME ERE SECONDS: wait until the server's output matches ERE (sets CH_OUT to it);
# fails the check STEP "NAME is up" when it does not within SECONDS or the server exits first.
ch_server_wait()
{
	local name=$1 ere=$2 limit=$3 tries
	for ((tries = limit * 10; tries > 0; tries--)); do
		if grep -qE -- "$ere" "$CH_TMP/$name.out" 2>/dev/null; then
			CH_OUT=$(cat "$CH_TMP/$name.out")
			ch_pass "$name is up"
			return 0
		fi
		kill -0 "${ch__server_pid[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	CH_OUT=$(cat "$CH_TMP/$name.out" 2>/dev/null || true)
	ch_fail "$name is up" "output matching /$ere/ within ${limit}s" \
		"$(kill -0 "${ch__server_pid[$name]}" 2>/dev/null && echo 'no such output' ||
			echo 'the server exited')"
	return 1
}

# ch_server_stop NAME: stop the server (TERM, which timeout passes on) and reap it; sets CH_OUT to
# everything it printed.
ch_server_stop()
{
	local name=$1 pid=${ch__server_pid[$1]:-}
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		unset "ch__server_pid[$name]"
	fi
	CH_OUT=$(cat "$CH_TMP/$name.out" 2>/dev/null || true)
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' <<<"$CH_OUT"; then
		ch_fail "$name: no sanitizer report" "no AddressSanitizer/UBSan report" "a report (below)"
	fi
}

# ch_server_output NAME: set CH_OUT to what the server printed so far.
ch_server_output()
{
	CH_OUT=$(cat "$CH_TMP/$1.out" 2>/dev/null || true)
}
