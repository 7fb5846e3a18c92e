/*
 * tools/cipherhub.c: the admin tool's command line.
 *
 * `cipherhub` is how an operator manages what PKCS#11 has no call for:
 * the participants of a registration, their roles and lockouts, and the
 * registration's audit log.  This file knows the commands, their options
 * and their help, checks the command line, and hands over to one function
 * per command (cipherhub_cmd.c).  Options may come before or after the
 * command words; every command answers --help; the exit code tells a script
 * what happened (see the CH_EXIT_* list in cipherhub.h and the help below).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cipherhub.h"

#ifndef CH_VERSION
#define CH_VERSION "unknown"
#endif

/* Which options a command takes (--module and --json: all of them). */
#define OPT_REG   0x1u   /* --slot, --token */
#define OPT_LOGIN 0x2u   /* --as, --pin-fd */
#define OPT_ROLES 0x4u   /* --roles */
#define OPT_FROM  0x8u   /* --from */
#define OPT_OPS   0x10u  /* --ops */
#define OPT_SPLIT 0x20u  /* --shares, --threshold */
#define OPT_DUE   0x40u  /* --due */
#define OPT_IO    0x80u  /* --in, --out */
#define OPT_DKEY  0x100u /* --bytes, --plaintext-out */

/* Issue 8, the secret commands. */
#define OPT_FILE 0x200u /* --file */
#define OPT_VER  0x400u /* --version N (alone, --version is the tool's) */

typedef struct command {
	const char *group; /* "participant", "audit", or NULL */
	const char *name;
	const char *synopsis; /* after "cipherhub <group> <name>" */
	const char *summary;  /* one line for the command list */
	const char *help;     /* the body of --help */
	unsigned opts;
	int nargs; /* positional arguments after the command words */
	int (*run)(ch_cli *c, char **args);
} command;

#define LOGIN_HELP                                                                                 \
	"  --as NAME      log in as participant NAME (default: so, the registration's\n"           \
	"                 first admin, with its bare SO PIN)\n"                                    \
	"  --pin-fd N     read the PIN from file descriptor N (one line)\n"

#define REG_HELP                                                                                   \
	"  --slot ID      the registration in slot ID\n"                                           \
	"  --token LABEL  the registration labelled LABEL\n"                                       \
	"                 (default: the only registration there is)\n"

static const command commands[] = {
	{ NULL, "registrations", "", "list slots and their registrations",
	  "Lists every slot of the module: the registration it holds (label, serial,\n"
	  "token objects, PIN KDF and cost, UUID), or that it is the free slot, where\n"
	  "C_InitToken creates a new registration.  Needs no login.  --slot and --token\n"
	  "narrow the list.  With --json: one JSON object per slot.\n",
	  OPT_REG, 0, ch_cli_cmd_registrations },
	{ "participant", "list", "", "list participants, their roles and lockouts",
	  "Lists the participants of the registration: name, roles, consecutive failed\n"
	  "logins, and whether the participant is locked.  Needs an admin or an auditor\n"
	  "(--as NAME).  With --json: one JSON object per participant.\n",
	  OPT_REG | OPT_LOGIN, 0, ch_cli_cmd_participant_list },
	{ "participant", "add", "NAME --roles ROLES", "add a participant with its own PIN",
	  "Adds participant NAME with ROLES, a comma-separated list of admin, operator,\n"
	  "user, auditor.  NAME is 1-32 characters of A-Z a-z 0-9 . _ -, starting with\n"
	  "a letter or digit; 'so' and 'default' are reserved.  Needs an admin.\n"
	  "The new participant's PIN is the second line of --pin-fd, else\n"
	  "$CIPHERHUB_NEW_PIN, else asked twice on the terminal.  A name that exists\n"
	  "already is refused and nothing changes.\n",
	  OPT_REG | OPT_LOGIN | OPT_ROLES, 1, ch_cli_cmd_participant_add },
	{ "participant", "remove", "NAME", "remove a participant",
	  "Removes participant NAME and its wrapped copy of the registration key; no\n"
	  "other participant is touched.  'so' and the last admin cannot be removed.\n"
	  "Needs an admin.\n",
	  OPT_REG | OPT_LOGIN, 1, ch_cli_cmd_participant_remove },
	{ "participant", "set-roles", "NAME --roles ROLES", "replace a participant's roles",
	  "Replaces the roles of participant NAME with ROLES (admin, operator, user,\n"
	  "auditor, comma-separated).  The roles of 'so' cannot change, and the last\n"
	  "admin keeps the admin role.  Needs an admin.\n",
	  OPT_REG | OPT_LOGIN | OPT_ROLES, 1, ch_cli_cmd_participant_set_roles },
	{ "participant", "unlock", "NAME", "clear a participant's failed logins and lock",
	  "Sets the failed-login count of participant NAME to zero, which also lifts a\n"
	  "lockout.  Needs an admin.\n",
	  OPT_REG | OPT_LOGIN, 1, ch_cli_cmd_participant_unlock },
	{ "audit", "show", "[--from SEQ]", "show the audit log",
	  "Shows the registration's audit log from record SEQ on (default 1), oldest\n"
	  "first: time (UTC), process, participant, operation, result, count, whether\n"
	  "the record is authenticated, object and detail.  With --json: one JSON\n"
	  "object per record, as `audit export`.  Needs an auditor or an admin.\n",
	  OPT_REG | OPT_LOGIN | OPT_FROM, 0, ch_cli_cmd_audit_show },
	{ "audit", "export", "[--from SEQ]", "export the audit log as JSON lines",
	  "Writes the audit log from record SEQ on (default 1) as JSON lines, one object\n"
	  "per record, whatever --json says.  Needs an auditor or an admin.\n",
	  OPT_REG | OPT_LOGIN | OPT_FROM, 0, ch_cli_cmd_audit_export },
	{ "audit", "verify", "", "verify the audit log's hash chain and MACs",
	  "Verifies the whole audit log: its hash chain and every record's MAC.  Exit\n"
	  "status 0 when intact; 3 when a record was edited, inserted, reordered or\n"
	  "deleted, naming the first bad record's seq.  Needs an auditor or an admin.\n",
	  OPT_REG | OPT_LOGIN, 0, ch_cli_cmd_audit_verify },
	{ NULL, "grant", "KEY GRANTEE --ops OPS", "let a participant or a role use a key",
	  "Sets the operations GRANTEE may use token key KEY for, replacing what it had.\n"
	  "KEY is the key's CKA_LABEL (a secret or private key, else a public key; it\n"
	  "must name exactly one).  GRANTEE is a participant name or role:ROLE.  OPS is\n"
	  "a comma-separated list of encrypt, decrypt, sign, verify, wrap, unwrap,\n"
	  "derive, or all.  KEY may also name a secret (see 'secret'), whose only\n"
	  "operation is read (all means read there).  Needs an admin or an operator that\n"
	  "can see the key (an operator sees every key: use --as NAME).\n",
	  OPT_REG | OPT_LOGIN | OPT_OPS, 2, ch_cli_cmd_grant },
	{ NULL, "revoke", "KEY GRANTEE", "take back a grant",
	  "Takes back every operation GRANTEE was granted on KEY (named as for grant).\n"
	  "Needs an admin or an operator.\n",
	  OPT_REG | OPT_LOGIN, 2, ch_cli_cmd_revoke },
	{ NULL, "grants", "KEY", "list the grants of a key",
	  "Lists who may use KEY (named as for grant) for what: one line per grantee.\n"
	  "With --json: one JSON object per grant.  Needs an admin, an operator or an\n"
	  "auditor.\n",
	  OPT_REG | OPT_LOGIN, 1, ch_cli_cmd_grants },
	{ "recovery", "setup", "--shares N --threshold M", "split a new recovery key into shares",
	  "Makes a new recovery key for the registration and prints it as N shares, one\n"
	  "per line, of which any M restore admin access (Shamir's secret sharing, by\n"
	  "libgfshare); fewer than M tell nothing about it.  Give each share to a\n"
	  "different keeper, on paper or offline.  An earlier recovery key and its shares\n"
	  "stop working.  The module keeps no copy of the key, and neither does the tool.\n"
	  "Needs an admin.\n",
	  OPT_REG | OPT_LOGIN | OPT_SPLIT, 0, ch_cli_cmd_recovery_setup },
	{ "recovery", "restore", "", "give the so participant a new PIN with M shares",
	  "For when every admin PIN is lost: reads recovery shares from standard input,\n"
	  "one per line (blank lines and lines starting with # are skipped), joins them,\n"
	  "and sets a new PIN for the 'so' participant, lifting its lockout.  The new\n"
	  "PIN is the first line of --pin-fd, else $CIPHERHUB_NEW_PIN, else asked twice\n"
	  "on the terminal.  Shares of different splits, too few shares or a wrong\n"
	  "share are refused, and nothing changes.  Needs no login.\n",
	  OPT_REG | OPT_LOGIN, 0, ch_cli_cmd_recovery_restore },
	{ NULL, "backup", "> FILE", "write the registration to an encrypted backup file",
	  "Writes the whole registration (every key and secret, the participants' wrapped\n"
	  "keys and roles, the grants and the audit log) to standard output as one binary\n"
	  "file, encrypted and authenticated (AES-256-GCM) under a key derived from the\n"
	  "registration key: opening it needs the SO PIN the registration has now.\n"
	  "Refuses to write to a terminal.  Forwarded registrations (their keys are the\n"
	  "HSM's) cannot be backed up.  Needs an admin.\n",
	  OPT_REG | OPT_LOGIN, 0, ch_cli_cmd_backup },
	{ NULL, "restore", "< FILE", "bring a backup into the free slot",
	  "Reads a backup made by `backup` from standard input and creates the\n"
	  "registration again on the free slot, as it was: keys, participants (each with\n"
	  "its PIN), grants, and the audit log, which goes on with a backup.restore\n"
	  "record.  The PIN is the SO PIN the registration had when it was backed up:\n"
	  "the first line of --pin-fd, else $CIPHERHUB_PIN, else asked on the terminal.\n"
	  "A truncated, damaged or tampered file, a wrong PIN, or a registration this\n"
	  "store already has is refused, and nothing changes.  Prints the new slot.\n",
	  OPT_LOGIN, 0, ch_cli_cmd_restore },
	{ "key", "versions", "LABEL", "list the versions of a key family",
	  "Lists the versions of the key family LABEL (the token keys with that\n"
	  "CKA_LABEL): version, state (active, decrypt-only, disabled, destroyed),\n"
	  "which one is the primary, when each was made, and the family's rotation\n"
	  "period and minimum decryption version.  A key never rotated shows as a plain\n"
	  "key.  With --json: one JSON object per version.  Needs an operator\n"
	  "(--as NAME).\n",
	  OPT_REG | OPT_LOGIN, 1, ch_cli_cmd_key_versions },
	{ "key", "rotate", "LABEL", "make a new version of a key family",
	  "Makes the next version of the key family LABEL: fresh key material with the\n"
	  "primary's template and grants.  It becomes the primary (the only version that\n"
	  "encrypts, signs, wraps and derives); the old primary keeps decrypting and\n"
	  "verifying.  A plain key becomes version 1.  When another rotation of the\n"
	  "family commits first (another process or host), nothing is made and the\n"
	  "status is 4.  Needs an operator (--as NAME).\n",
	  OPT_REG | OPT_LOGIN, 1, ch_cli_cmd_key_rotate },
	{ "key", "period", "LABEL SECONDS", "set a key family's rotation period",
	  "Sets the rotation period of the family LABEL (0: none) on every version; a\n"
	  "new version copies it.  `rotate --due` rotates the family once its primary\n"
	  "is older than that, and using such a primary is recorded in the audit log\n"
	  "(key.rotation_due).  Needs an operator (--as NAME).\n",
	  OPT_REG | OPT_LOGIN, 2, ch_cli_cmd_key_period },
	{ "key", "max-encryptions", "LABEL N", "bound a key family's encryptions per version",
	  "Sets the family LABEL's bound of encryptions (0: none) on every version; a\n"
	  "new version copies it and counts from 0.  Encryptions and wraps are counted\n"
	  "per version (CKA_CH_ENCRYPTIONS; decryptions are not); `rotate --due`\n"
	  "rotates the family once its primary has made N, and using such a primary is\n"
	  "recorded in the audit log (key.rotation_due).  For AES-GCM with random IVs\n"
	  "keep N well below 2^32.  Needs an operator (--as NAME).\n",
	  OPT_REG | OPT_LOGIN, 2, ch_cli_cmd_key_max_encryptions },
	{ "key", "min-version", "LABEL N", "refuse decryption by versions below N",
	  "Sets the lowest version of the family LABEL that may still decrypt, verify\n"
	  "and unwrap.  N must be between 1 and the primary's version.  Needs an\n"
	  "operator (--as NAME).\n",
	  OPT_REG | OPT_LOGIN, 2, ch_cli_cmd_key_min_version },
	{ "key", "disable", "LABEL VERSION", "stop one version from doing anything",
	  "Disables version VERSION of the family LABEL: it neither encrypts nor\n"
	  "decrypts until enabled again.  Needs an operator (--as NAME).\n",
	  OPT_REG | OPT_LOGIN, 2, ch_cli_cmd_key_disable },
	{ "key", "enable", "LABEL VERSION", "undo key disable",
	  "Enables version VERSION of the family LABEL again: the primary becomes\n"
	  "active, another version decrypt-only.  A destroyed version cannot come back.\n"
	  "Needs an operator (--as NAME).\n",
	  OPT_REG | OPT_LOGIN, 2, ch_cli_cmd_key_enable },
	{ "key", "destroy", "LABEL VERSION", "delete one version's key material",
	  "Destroys version VERSION of the family LABEL: its key material is deleted\n"
	  "from the store (overwritten, not only unlinked); the object stays, with its\n"
	  "label, version, unique ID and the state destroyed, for the audit trail.  The\n"
	  "primary cannot be destroyed: rotate first.  Needs an operator (--as NAME).\n",
	  OPT_REG | OPT_LOGIN, 2, ch_cli_cmd_key_destroy },
	{ NULL, "rotate", "--due", "rotate every key family that is due",
	  "Rotates every key family whose primary is older than its rotation period\n"
	  "(CKA_CH_ROTATION_PERIOD) or has made its bound of encryptions\n"
	  "(CKA_CH_MAX_ENCRYPTIONS), one new version each.  Safe to run from cron or a\n"
	  "systemd timer on several hosts at once: a family another host rotated first\n"
	  "is reported and left alone.  Needs an operator (--as NAME).  With --json: one\n"
	  "JSON object per rotated family.\n",
	  OPT_REG | OPT_LOGIN | OPT_DUE, 0, ch_cli_cmd_rotate_due },
	{ "key", "datakey-plaintext", "LABEL on|off", "let data keys' plaintext out, or not",
	  "Sets the family LABEL's data-key policy (CKA_CH_DATAKEY_PLAINTEXT) on its\n"
	  "primary; a new version copies it.  on: `datakey generate --plaintext-out`\n"
	  "and `datakey unwrap` may hand a data key's plaintext out.  off (the default):\n"
	  "data keys stay in the token, and unwrapped ones are sensitive.  Needs an\n"
	  "operator (--as NAME).\n",
	  OPT_REG | OPT_LOGIN, 2, ch_cli_cmd_key_datakey_plaintext },
	{ NULL, "encrypt", "LABEL [--in FILE] [--out FILE]", "encrypt with a family's primary",
	  "Encrypts the input (--in FILE, else standard input) with the primary of the\n"
	  "key family LABEL (an AES-256 key) by CKM_CH_AES_GCM_VERSIONED: the output\n"
	  "(--out FILE, else standard output) names the family and the version, so it\n"
	  "decrypts after later rotations.  Needs a participant with the user role and\n"
	  "the encrypt grant (--as NAME).\n",
	  OPT_REG | OPT_LOGIN | OPT_IO, 1, ch_cli_cmd_encrypt },
	{ NULL, "decrypt", "LABEL [--in FILE] [--out FILE]", "decrypt with the version it names",
	  "Decrypts a ciphertext of `encrypt` (or of CKM_CH_AES_GCM_VERSIONED) with the\n"
	  "version of the family LABEL that made it, if that version may still decrypt.\n"
	  "Needs the user role and the decrypt grant (--as NAME).\n",
	  OPT_REG | OPT_LOGIN | OPT_IO, 1, ch_cli_cmd_decrypt },
	{ NULL, "rewrap", "LABEL [--in FILE] [--out FILE]", "move a ciphertext to the primary",
	  "Decrypts a ciphertext of the family LABEL with the version it names and\n"
	  "encrypts it again under the primary, inside the module (CH_Rewrap): the\n"
	  "plaintext never leaves it.  Needs the user role and the decrypt and encrypt\n"
	  "grants (--as NAME).\n",
	  OPT_REG | OPT_LOGIN | OPT_IO, 1, ch_cli_cmd_rewrap },
	{ "datakey", "generate", "LABEL [--bytes N] [--out FILE] [--plaintext-out FILE]",
	  "make a data key wrapped under a family",
	  "Makes a fresh AES data key of N bytes (16, 24 or 32; default 32) and writes\n"
	  "it wrapped under the primary of the key-encryption family LABEL\n"
	  "(CH_DataKeyGenerate, CKM_CH_AES_GCM_VERSIONED) to --out FILE, else standard\n"
	  "output.  --plaintext-out FILE also writes the data key itself (mode 0600),\n"
	  "only when the family's data-key policy is on (`key datakey-plaintext`).\n"
	  "Needs the user role and the wrap grant (--as NAME).\n",
	  OPT_REG | OPT_LOGIN | OPT_IO | OPT_DKEY, 1, ch_cli_cmd_datakey_generate },
	{ "datakey", "unwrap", "LABEL [--in FILE] [--out FILE]", "show a stored data key",
	  "Unwraps a data key of `datakey generate` with whichever version of the\n"
	  "family LABEL wrapped it, and writes its bytes (mode 0600) to --out FILE, else\n"
	  "standard output; only when the family's data-key policy is on.  Needs the\n"
	  "user role and the unwrap grant (--as NAME).\n",
	  OPT_REG | OPT_LOGIN | OPT_IO, 1, ch_cli_cmd_datakey_unwrap },
	{ "secret", "put", "NAME [--file FILE]", "store a new secret (API key, credential)",
	  "Stores secret NAME with the value read from standard input (or FILE), byte\n"
	  "for byte (a trailing newline is part of it: use printf, not echo), at most\n"
	  "64 KiB, as version 1: a private token data object (CKA_APPLICATION\n"
	  "\"cipherhub:secret\") sealed in the store.  A name that exists is refused:\n"
	  "use 'secret rotate'.  Its creator may read it; grant others with\n"
	  "'grant NAME GRANTEE --ops read'.  Needs an operator (--as NAME); the PIN\n"
	  "then comes from --pin-fd or $CIPHERHUB_PIN, standard input being the value.\n",
	  OPT_REG | OPT_LOGIN | OPT_FILE, 1, ch_cli_cmd_secret_put },
	{ "secret", "get", "NAME [--version N]", "write a secret's value to standard output",
	  "Writes the value of secret NAME (its current version, or version N) to\n"
	  "standard output, and nothing else.  Readable by the secret's creator and by\n"
	  "participants with a read grant, for current and previous versions (not\n"
	  "disabled, destroyed or below the minimum version).  Every read is audited\n"
	  "(secret.read).  Needs a participant logged in as a user (--as NAME).\n",
	  OPT_REG | OPT_LOGIN | OPT_VER, 1, ch_cli_cmd_secret_get },
	{ "secret", "list", "", "list the secrets (never their values)",
	  "Lists the secrets the acting participant sees: name, number of versions, the\n"
	  "current version, when the oldest version left and the current one were\n"
	  "stored.  With --json: one JSON object per secret.  Needs a participant logged\n"
	  "in as a user (--as NAME).\n",
	  OPT_REG | OPT_LOGIN, 0, ch_cli_cmd_secret_list },
	{ "secret", "rotate", "NAME [--file FILE]", "give a secret a new value (a new version)",
	  "Stores the value read from standard input (or FILE) as the next version of\n"
	  "secret NAME, which becomes current; the old current version stays readable as\n"
	  "the previous one until it is deleted.  Grants carry over.  Two rotations at\n"
	  "once make two versions, one after the other.  Needs an operator (--as NAME).\n",
	  OPT_REG | OPT_LOGIN | OPT_FILE, 1, ch_cli_cmd_secret_rotate },
	{ "secret", "delete", "NAME [--version N]", "delete a secret, or one version's value",
	  "Without --version: deletes every version of secret NAME (C_DestroyObject, the\n"
	  "current one last).  With --version N: destroys that version's value, deleted\n"
	  "from the store (overwritten), keeping its metadata for the audit trail, as\n"
	  "'key destroy' does; the current version cannot be destroyed that way.  Needs\n"
	  "an operator (--as NAME).\n",
	  OPT_REG | OPT_LOGIN | OPT_VER, 1, ch_cli_cmd_secret_delete },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void command_words(const command *cmd, char *out, size_t size)
{
	snprintf(out, size, "%s%s%s", cmd->group ? cmd->group : "", cmd->group ? " " : "",
	         cmd->name);
}

/* The command list, all of it or one group's. */
static void print_commands(FILE *f, const char *group)
{
	char words[64], usage[128];
	size_t i;

	for (i = 0; i < N_COMMANDS; i++) {
		const command *cmd = &commands[i];

		if (group != NULL && (cmd->group == NULL || strcmp(cmd->group, group) != 0))
			continue;
		command_words(cmd, words, sizeof(words));
		snprintf(usage, sizeof(usage), "%s%s%s", words, *cmd->synopsis ? " " : "",
		         cmd->synopsis);
		fprintf(f, "  %-40s %s\n", usage, cmd->summary);
	}
}

static void print_usage(FILE *f, const char *prog)
{
	fprintf(f,
	        "usage: %s [options] COMMAND [ARGS]\n"
	        "\n"
	        "Manage Cipher Hub registrations through the PKCS#11 module: participants,\n"
	        "roles, lockouts, grants, key versions, secrets and the audit log.\n"
	        "\n"
	        "Commands:\n",
	        prog);
	print_commands(f, NULL);
	fprintf(f,
	        "\n"
	        "Options (before or after the command):\n"
	        "  --module PATH  the module (default: $CIPHERHUB_MODULE, else\n"
	        "                 cipherhub-pkcs11.so next to this program, else p11-kit's\n"
	        "                 module directory)\n" REG_HELP LOGIN_HELP
	        "  --json         machine-readable output (JSON object or JSON lines)\n"
	        "  --help         help for the command\n"
	        "  --version      the tool's version\n"
	        "\n"
	        "PINs are never taken from the command line.  The acting participant's PIN is\n"
	        "the first line of --pin-fd N, else $CIPHERHUB_PIN, else asked on the\n"
	        "terminal (no echo); `participant add` reads the new participant's PIN from\n"
	        "the next line of --pin-fd, else $CIPHERHUB_NEW_PIN, else the terminal.\n"
	        "\n"
	        "Exit status: 0 ok, 1 usage error or bad input, 2 not supported, 3 audit\n"
	        "verification failed, 4 PKCS#11 error (the call and its CKR_ name are shown),\n"
	        "5 login failed (wrong PIN, locked, or a role that may not log in this way).\n"
	        "\n"
	        "Run '%s COMMAND --help' for a command's details.\n",
	        prog);
}

static void print_command_help(const char *prog, const command *cmd)
{
	char words[64];

	command_words(cmd, words, sizeof(words));
	printf("usage: %s %s%s%s [options]\n\n%s\nOptions:\n", prog, words,
	       *cmd->synopsis ? " " : "", cmd->synopsis, cmd->help);
	if (cmd->opts & OPT_ROLES)
		printf("  --roles ROLES  comma-separated roles: admin, operator, user, auditor\n");
	if (cmd->opts & OPT_FROM)
		printf("  --from SEQ     start at record SEQ (default 1)\n");
	if (cmd->opts & OPT_OPS)
		printf("  --ops OPS      comma-separated: encrypt, decrypt, sign, verify, wrap,\n"
		       "                 unwrap, derive, or all; read for a secret\n");
	if (cmd->opts & OPT_FILE)
		printf("  --file FILE    read the value from FILE, not standard input\n");
	if (cmd->opts & OPT_VER)
		printf("  --version N    version N, not the current one\n");
	if (cmd->opts & OPT_REG)
		printf(REG_HELP);
	if (cmd->opts & OPT_LOGIN)
		printf(LOGIN_HELP);
	printf("  --module PATH  the module to load\n"
	       "  --json         machine-readable output\n"
	       "\nSee '%s --help' for PIN sources and exit codes.\n",
	       prog);
}

/*
 * Finds the command named by the first words of words[0..n).  Sets *used to
 * how many words it took.  Returns NULL when there is none; *group_only is
 * then the group named by words[0], if it is one.
 */
static const command *find_command(char **words, int n, int *used, const char **group_only)
{
	size_t i;

	*used = 0;
	*group_only = NULL;
	if (n == 0)
		return NULL;
	for (i = 0; i < N_COMMANDS; i++) {
		const command *cmd = &commands[i];

		if (cmd->group == NULL && strcmp(cmd->name, words[0]) == 0) {
			*used = 1;
			return cmd;
		}
		if (cmd->group != NULL && strcmp(cmd->group, words[0]) == 0) {
			*group_only = cmd->group;
			if (n > 1 && strcmp(cmd->name, words[1]) == 0) {
				*used = 2;
				return cmd;
			}
		}
	}
	return NULL;
}

/* Parses an unsigned decimal (or 0x hex) number that fills the whole of s. */
static bool parse_ulong(const char *s, unsigned long *out)
{
	char *end;

	if (*s == '\0' || *s == '-' || *s == '+')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 0);
	return errno == 0 && *end == '\0';
}

static const struct option long_options[] = {
	{ "module", required_argument, NULL, 'm' },
	{ "slot", required_argument, NULL, 's' },
	{ "token", required_argument, NULL, 't' },
	{ "json", no_argument, NULL, 'j' },
	{ "as", required_argument, NULL, 'a' },
	{ "pin-fd", required_argument, NULL, 'p' },
	{ "roles", required_argument, NULL, 'r' },
	{ "from", required_argument, NULL, 'f' },
	{ "ops", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", optional_argument, NULL, 'V' }, /* --version N: a secret's version */
	{ "shares", required_argument, NULL, 'n' },
	{ "threshold", required_argument, NULL, 'k' },
	{ "due", no_argument, NULL, 'd' },
	{ "in", required_argument, NULL, 'i' },
	{ "out", required_argument, NULL, 'O' },
	{ "plaintext-out", required_argument, NULL, 'P' },
	{ "bytes", required_argument, NULL, 'b' },
	{ "file", required_argument, NULL, 'F' },
	{ NULL, 0, NULL, 0 },
};

/* The options the user gave, for checking them against the command. */
typedef struct given {
	unsigned opts;
	bool help, version;
} given;

/*
 * The word on the command line of the option getopt_long just returned: the
 * last word consumed, or the one before it when the option's value was a
 * word of its own.
 */
static const char *option_word(char **argv, const char *arg)
{
	const char *word = argv[optind - 1];

	if (arg != NULL && arg == word && optind >= 2)
		word = argv[optind - 2];
	return word;
}

/*
 * Was that option typed in full?  getopt_long also takes unambiguous
 * abbreviations, and "--pin 1234" must not become "--pin-fd 1234".
 */
static bool spelled_out(const char *word, const char *name)
{
	const char *eq;
	size_t len;

	if (strcmp(word, "-h") == 0)
		return true;
	if (strncmp(word, "--", 2) != 0)
		return false;
	word += 2;
	eq = strchr(word, '=');
	len = eq != NULL ? (size_t)(eq - word) : strlen(word);
	return len == strlen(name) && strncmp(word, name, len) == 0;
}

/* Parses the options into c and g.  Returns CH_EXIT_* (printed why). */
static int parse_options(ch_cli *c, given *g, int argc, char **argv)
{
	unsigned long v;
	const char *bad;
	int opt, idx = 0, ex = CH_EXIT_USAGE;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", long_options, &idx)) != -1) {
		bad = argv[optind - 1];
		if (opt != '?' && opt != ':' &&
		    !spelled_out(option_word(argv, optarg), long_options[idx].name)) {
			bad = option_word(argv, optarg);
			opt = '?';
		}
		idx = 0;
		switch (opt) {
		case 'm':
			c->module_opt = optarg;
			break;
		case 's':
			if (!parse_ulong(optarg, &v)) {
				ch_cli_err(c, "--slot '%s' is not a slot ID (a number)", optarg);
				goto out;
			}
			c->slot_opt = v;
			c->have_slot = true;
			g->opts |= OPT_REG;
			break;
		case 't':
			c->token_opt = optarg;
			g->opts |= OPT_REG;
			break;
		case 'j':
			c->json = true;
			break;
		case 'a':
			c->as = optarg;
			g->opts |= OPT_LOGIN;
			break;
		case 'p':
			if (!parse_ulong(optarg, &v) || v > 1024 * 1024) {
				ch_cli_err(c, "--pin-fd '%s' is not a file descriptor number",
				           optarg);
				goto out;
			}
			c->pin_fd = (int)v;
			g->opts |= OPT_LOGIN;
			break;
		case 'r':
			c->roles = optarg;
			g->opts |= OPT_ROLES;
			break;
		case 'o':
			c->ops = optarg;
			g->opts |= OPT_OPS;
			break;
		case 'f':
			if (!parse_ulong(optarg, &v) || v == 0) {
				ch_cli_err(c, "--from '%s' is not a record number (1, 2, ...)",
				           optarg);
				goto out;
			}
			c->from = v;
			g->opts |= OPT_FROM;
			break;
		case 'd':
			c->due = true;
			g->opts |= OPT_DUE;
			break;
		case 'i':
			c->in_path = optarg;
			g->opts |= OPT_IO;
			break;
		case 'O':
			c->out_path = optarg;
			g->opts |= OPT_IO;
			break;
		case 'P':
			c->plain_out = optarg;
			g->opts |= OPT_DKEY;
			break;
		case 'b':
			if (!parse_ulong(optarg, &v) || v == 0 || v > 64) {
				ch_cli_err(c, "--bytes '%s' is not a key length (16, 24 or 32)",
				           optarg);
				goto out;
			}
			c->bytes = v;
			g->opts |= OPT_DKEY;
			break;
		case 'n':
		case 'k':
			if (!parse_ulong(optarg, &v) || v < 1 || v > 255) {
				ch_cli_err(c, "--%s '%s' is not a number from 1 to 255",
				           opt == 'n' ? "shares" : "threshold", optarg);
				goto out;
			}
			*(opt == 'n' ? &c->shares : &c->threshold) = (unsigned)v;
			g->opts |= OPT_SPLIT;
			break;
		case 'h':
			g->help = true;
			break;
		case 'V':
			/* --version N (or --version=N) picks a secret's version;
			 * alone, it asks for the tool's version. */
			if (optarg == NULL && optind < argc && argv[optind][0] >= '0' &&
			    argv[optind][0] <= '9')
				optarg = argv[optind++];
			if (optarg == NULL) {
				g->version = true;
				break;
			}
			if (!parse_ulong(optarg, &v) || v == 0) {
				ch_cli_err(c, "--version '%s' is not a version number (1, 2, ...)",
				           optarg);
				goto out;
			}
			c->version_n = v;
			g->opts |= OPT_VER;
			break;
		case 'F':
			c->file = optarg;
			g->opts |= OPT_FILE;
			break;
		case ':':
			ch_cli_err(c, "option '%s' needs a value", bad);
			goto out;
		default:
			if (bad == argv[optind - 1] && optopt != 0)
				ch_cli_err(c, "unknown option '-%c' (see '%s --help')", optopt,
				           c->prog);
			else
				ch_cli_err(c,
				           "unknown option '%s'; options are spelled out in full "
				           "(see '%s --help')",
				           bad, c->prog);
			goto out;
		}
	}
	ex = CH_EXIT_OK;
out:
	return ex;
}

/* Checks the options and arguments against cmd.  Returns CH_EXIT_*. */
static int check_command(ch_cli *c, const command *cmd, const given *g, int nargs)
{
	static const struct {
		unsigned bit;
		const char *names;
	} names[] = {
		{ OPT_REG, "--slot/--token" },
		{ OPT_LOGIN, "--as/--pin-fd" },
		{ OPT_ROLES, "--roles" },
		{ OPT_FROM, "--from" },
		{ OPT_OPS, "--ops" },
		{ OPT_SPLIT, "--shares/--threshold" },
		{ OPT_DUE, "--due" },
		{ OPT_IO, "--in/--out" },
		{ OPT_DKEY, "--bytes/--plaintext-out" },
		{ OPT_FILE, "--file" },
		{ OPT_VER, "--version N" },
	};
	char words[64];
	size_t i;
	int ex = CH_EXIT_USAGE;

	command_words(cmd, words, sizeof(words));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((g->opts & names[i].bit) && !(cmd->opts & names[i].bit)) {
			ch_cli_err(c, "%s does not apply to '%s'", names[i].names, words);
			goto out;
		}
	}
	if (cmd->nargs >= 0 && nargs != cmd->nargs) {
		ch_cli_err(c, "'%s' takes %s; usage: %s %s %s", words,
		           cmd->nargs == 0   ? "no arguments"
		           : cmd->nargs == 1 ? "one NAME"
		                             : "two arguments",
		           c->prog, words, cmd->synopsis);
		goto out;
	}
	if (!ch_cli_name_check(c, c->as, "--as"))
		goto out;
	if (c->pin_fd >= 0 && fcntl(c->pin_fd, F_GETFD) == -1) {
		ch_cli_err(c, "--pin-fd %d is not an open file descriptor", c->pin_fd);
		goto out;
	}
	ex = CH_EXIT_OK;
out:
	return ex;
}

int main(int argc, char **argv)
{
	ch_cli c;
	given g = { 0, false, false };
	const command *cmd;
	const char *group;
	char **words;
	int nwords, used, ex;

	memset(&c, 0, sizeof(c));
	c.prog = "cipherhub";
	c.as = "so";
	c.pin_fd = -1;
	c.from = 1;

	if ((ex = parse_options(&c, &g, argc, argv)) != CH_EXIT_OK)
		goto out;
	words = argv + optind;
	nwords = argc - optind;
	/* "cipherhub help participant add" is "cipherhub participant add --help". */
	if (nwords > 0 && strcmp(words[0], "help") == 0) {
		g.help = true;
		words++;
		nwords--;
	}
	if (g.version) {
		printf("cipherhub %s\n", CH_VERSION);
		ex = CH_EXIT_OK;
		goto out;
	}
	cmd = find_command(words, nwords, &used, &group);
	if (g.help) {
		if (cmd != NULL) {
			print_command_help(c.prog, cmd);
		} else if (group != NULL) {
			printf("usage: %s %s SUBCOMMAND [options]\n\n", c.prog, group);
			print_commands(stdout, group);
			printf("\nRun '%s %s SUBCOMMAND --help' for details.\n", c.prog, group);
		} else {
			print_usage(stdout, c.prog);
		}
		ex = CH_EXIT_OK;
		goto out;
	}
	ex = CH_EXIT_USAGE;
	if (cmd == NULL) {
		if (nwords == 0)
			print_usage(stderr, c.prog);
		else if (group != NULL && nwords == 1)
			ch_cli_err(&c, "'%s' needs a subcommand; see '%s %s --help'", group, c.prog,
			           group);
		else if (group != NULL)
			ch_cli_err(&c, "unknown %s subcommand '%s'; see '%s %s --help'", group,
			           words[1], c.prog, group);
		else
			ch_cli_err(&c, "unknown command '%s'; see '%s --help'", words[0], c.prog);
		goto out;
	}
	if ((ex = check_command(&c, cmd, &g, nwords - used)) != CH_EXIT_OK)
		goto out;
	ex = cmd->run(&c, words + used);
out:
	ch_cli_module_close(&c);
	if (fflush(stdout) != 0 && ex == CH_EXIT_OK) {
		ch_cli_err(&c, "cannot write the output: %s", strerror(errno));
		ex = CH_EXIT_PKCS11;
	}
	return ex;
}
