#!/usr/bin/env bash
#
# test_readme_example.sh: README's "Key lifecycle" worked example runs as written (issue 8).
#
# The block after the marker comment "worked example: tests/integration/test_readme_example.sh"
# in README.md is taken out as it stands and run with `bash -e` in the test's temp directory,
# with B pointing at the build under test, so the README cannot drift from what the module and
# the tool do.  Its output must show every step landing: the old ciphertext decrypting after the
# rotation, the min-version refusal (CKR_CH_KEY_VERSION_UNUSABLE), the data key coming back after
# the KEK's rotation, both values of the secret (through pkcs11-tool, then the tool), the restore,
# and an intact audit log in the restored store.
#
# Needs: pkcs11-tool, the built tool.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup
ch_tool_setup

readme=$CH_TEST_SRC/README.md
script=$CH_TMP/example.sh
awk '/<!-- worked example: tests\/integration\/test_readme_example.sh/ { found = 1; next }
	found == 1 && /^```sh$/ { found = 2; next }
	found == 2 && /^```$/ { exit }
	found == 2 { print }' "$readme" >"$script"

echo "== the block is in README.md"
CH_CMD="extract the worked example from $readme"
ch_expect_eq "the block has the example's steps" yes \
	"$(grep -q 'secret put billing-db' "$script" && grep -q 'restore <' "$script" && echo yes)"

echo "== it runs as written"
cd "$CH_TMP"
CH_TIMEOUT=300 ch_run_mod env B="$(dirname "$TOOL")" bash -e "$script"
ch_expect_ok "the example runs to its end under bash -e"
ch_expect_lines "the invoice decrypts three times (v1 after rotation, rewrapped, restored)" \
	'^invoice 1$' 3
ch_expect_text "version 1's ciphertext is refused below the minimum version" \
	CKR_CH_KEY_VERSION_UNUSABLE
ch_expect_lines "the refusal is the expected one" '^refused, as it should be$' 1
ch_expect_lines "version 1 is destroyed" '^1 +destroyed +no ' 1
ch_expect_lines "the data key comes back after its KEK's rotation" '^the data key came back$' 1
ch_expect_lines "pkcs11-tool --read-object gives the granted secret" \
	'^postgres://billing:s3cret@db/billing$' 1
ch_expect_lines "the rotated secret's new value" '^postgres://billing:n3w@db/billing$' 1
ch_expect_text "the backup is restored into another store" "restored 'payments'"
ch_expect_text "the restored audit log verifies" "is intact"

ch_finish
