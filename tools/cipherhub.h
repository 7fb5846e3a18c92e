/*
 * tools/cipherhub.h: what the parts of the admin tool `cipherhub` share.
 *
 * The admin tool does, from a shell, what PKCS#11 has no call for:
 * participants and their roles, unlocking, per-key grants, reading and
 * verifying a registration's audit log.  It is a client of the module and nothing else:
 * it dlopens cipherhub-pkcs11.so, takes the standard 3.0 function table and
 * the "Cipher Hub" vendor table from C_GetInterface, and never opens the
 * store itself, so every rule (roles, lockout, audit) the module enforces
 * holds for the tool too.
 *
 * The tool is split by concern:
 *	cipherhub.c         command line: options, the command table, --help, main()
 *	cipherhub_module.c  loading the module, choosing the slot, session and login,
 *	                    turning CK_RV values into messages and exit codes
 *	cipherhub_pin.c     where PINs come from (a file descriptor, the environment,
 *	                    a terminal with echo off) and how they are wiped
 *	cipherhub_out.c     text and JSON output: padded strings, escaping, times
 *	cipherhub_cmd.c     the commands themselves
 *	cipherhub_key.c     the key family commands (rotate, retire, list versions)
 *	cipherhub_data.c    versioned encryption, rewrap and envelope data keys
 *	cipherhub_secret.c  the secret commands (put, get, list, rotate, delete)
 *
 * Everything here is private to the tool; symbols are ch_cli_<thing>_<verb>.
 */
#ifndef CH_CLI_H
#define CH_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cipherhub/pkcs11.h"
#include "cipherhub/vendor.h"

/* Exit codes, part of the tool's interface (scripts test them). */
enum {
	CH_EXIT_OK = 0,          /* done */
	CH_EXIT_USAGE = 1,       /* bad command line or bad input (name, roles, PIN source) */
	CH_EXIT_UNSUPPORTED = 2, /* the command, or the module function it needs, does not exist */
	CH_EXIT_VERIFY = 3,      /* audit verify found a bad record */
	CH_EXIT_PKCS11 = 4,      /* a PKCS#11 or vendor call failed */
	CH_EXIT_LOGIN = 5,       /* login failed: PIN incorrect, locked, wrong role */
};

/* The longest PIN the tool reads from any source (PKCS#11 PINs are short). */
#define CH_CLI_PIN_MAX 255

/* How the acting participant must log in for a command. */
typedef enum ch_cli_login {
	CH_CLI_LOGIN_NONE,     /* no login (registrations) */
	CH_CLI_LOGIN_ADMIN,    /* as CKU_SO: "so" with a bare PIN, else C_LoginUser(CKU_SO, name) */
	CH_CLI_LOGIN_READER,   /* an admin or an auditor: CKU_SO for "so", else CKU_USER first */
	CH_CLI_LOGIN_OPERATOR, /* a key manager: CKU_USER ("so" is refused) */
} ch_cli_login;

/* A PIN read from one of the sources; wiped by ch_cli_pin_wipe(). */
typedef struct ch_cli_pin {
	char buf[CH_CLI_PIN_MAX + 1];
	size_t len;
} ch_cli_pin;

/* The tool's state: the parsed options, then what the module gave us. */
typedef struct ch_cli {
	/* Options (cipherhub.c fills them; nothing here is owned). */
	const char *module_opt; /* --module, or NULL */
	const char *token_opt;  /* --token, or NULL */
	CK_SLOT_ID slot_opt;    /* --slot, valid when have_slot */
	bool have_slot;
	bool json;             /* --json */
	const char *as;        /* --as, default "so" */
	int pin_fd;            /* --pin-fd, or -1 */
	const char *roles;     /* --roles, or NULL */
	const char *ops;       /* --ops, or NULL */
	CK_ULONG from;         /* --from, default 1 */
	unsigned shares;       /* --shares, or 0 */
	unsigned threshold;    /* --threshold, or 0 */
	bool due;              /* --due */
	const char *in_path;   /* --in, or NULL: standard input */
	const char *out_path;  /* --out, or NULL: standard output */
	const char *plain_out; /* --plaintext-out, or NULL */
	CK_ULONG bytes;        /* --bytes, or 0 */
	const char *file;      /* --file, or NULL */
	CK_ULONG version_n;    /* --version N of the secret commands, or 0 */
	const char *prog;      /* program name for messages */

	/* The module (cipherhub_module.c). */
	char module_path[4096]; /* the file actually loaded */
	void *dl;               /* dlopen handle */
	CK_FUNCTION_LIST_3_0 *p11;
	CH_FUNCTION_LIST *vendor; /* NULL when the module has no vendor interface */
	bool initialized;         /* C_Initialize succeeded */
	CK_SESSION_HANDLE session;
	bool have_session;
	bool logged_in;
	CK_SLOT_ID slot; /* the chosen registration's slot */
	CK_TOKEN_INFO token;
	char label[33]; /* its label, trimmed */
} ch_cli;

/* ---- cipherhub_module.c ----------------------------------------------- */

/*
 * Finds and loads the module (--module, else $CIPHERHUB_MODULE, else
 * cipherhub-pkcs11.so next to the tool binary or one directory up, else the
 * p11-kit module directory), gets "PKCS 11" 3.0 and, when offered, the
 * "Cipher Hub" 1.x table, and calls C_Initialize.  Returns a CH_EXIT_* code
 * and has printed why when it is not CH_EXIT_OK.  Undo with ch_cli_module_close().
 */
int ch_cli_module_open(ch_cli *c);

/* Logs out, closes the session and calls C_Finalize, as far as each was
 * done.  Safe to call on a partly opened or never opened ch_cli. */
void ch_cli_module_close(ch_cli *c);

/*
 * Chooses the registration the command acts on: --slot ID, else --token
 * LABEL, else the only initialized registration.  Fills c->slot, c->token and
 * c->label.  Returns a CH_EXIT_* code (printed why when not OK).
 */
int ch_cli_slot_choose(ch_cli *c);

/*
 * Opens an R/W session on c->slot and, unless how is CH_CLI_LOGIN_NONE, logs
 * in c->as with a PIN read by ch_cli_pin_acting().  Returns a CH_EXIT_* code:
 * CH_EXIT_LOGIN for a wrong or locked PIN or a participant whose roles do not
 * allow this login (message printed).  The PIN is wiped before returning.
 */
int ch_cli_session_open(ch_cli *c, ch_cli_login how);

/*
 * The vendor function `member` of c->vendor (e.g. CH_AuditRead), or NULL
 * after printing that this module does not provide it; the caller then exits
 * with CH_EXIT_UNSUPPORTED.
 */
#define ch_cli_vendor_fn(c, member)                                                                \
	((c)->vendor != NULL && (c)->vendor->member != NULL                                        \
	         ? (c)->vendor->member                                                             \
	         : (ch_cli_vendor_missing((c), #member), NULL))

/* Prints that the module lacks vendor function name.  Used by ch_cli_vendor_fn. */
void ch_cli_vendor_missing(const ch_cli *c, const char *name);

/* The CKR_ name of rv ("CKR_PIN_INCORRECT"), or NULL when it has none. */
const char *ch_cli_rv_name(CK_RV rv);

/*
 * Prints "<prog>: <call> failed: CKR_X" (with what, if not NULL, in front:
 * "<what>: <call> failed ...") and returns the exit code for rv:
 * CH_EXIT_UNSUPPORTED for CKR_FUNCTION_NOT_SUPPORTED, else CH_EXIT_PKCS11.
 */
int ch_cli_fail_rv(const ch_cli *c, const char *call, CK_RV rv, const char *what);

/* ---- cipherhub_pin.c -------------------------------------------------- */

/*
 * Reads the acting participant's PIN: the first line of --pin-fd, else
 * $CIPHERHUB_PIN, else a prompt on the terminal (stdin a tty, echo off).
 * Returns CH_EXIT_OK with *pin filled, or CH_EXIT_USAGE (printed why) when
 * there is no source or the PIN is too long.  The caller wipes *pin.
 */
int ch_cli_pin_acting(const ch_cli *c, ch_cli_pin *pin);

/*
 * Reads a new participant's PIN: the next line of --pin-fd when there is
 * one, else $CIPHERHUB_NEW_PIN, else a prompt asked twice (the two must
 * match).  Returns like ch_cli_pin_acting().  The caller wipes *pin.
 */
int ch_cli_pin_new(const ch_cli *c, const char *who, ch_cli_pin *pin);

/* Wipes a PIN buffer (explicit_bzero, not optimized away).  Accepts NULL. */
void ch_cli_pin_wipe(ch_cli_pin *pin);

/* ---- cipherhub_out.c -------------------------------------------------- */

/* Copies a blank-padded PKCS#11 string of n bytes into out (size >= n + 1)
 * without the trailing blanks and NULs; returns out. */
char *ch_cli_unpad(const CK_UTF8CHAR *s, size_t n, char *out);

/* Writes s (len bytes) to f as a JSON string with its quotes; control
 * characters escaped, invalid UTF-8 replaced by U+FFFD. */
void ch_cli_json_str(FILE *f, const char *s, size_t len);

/* Writes `"key":"value"` (value a C string) to f; JSON-escaped. */
void ch_cli_json_kv(FILE *f, const char *key, const char *value);

/* Writes s to f for a terminal: control characters and DEL become '?',
 * so a hostile string cannot drive the terminal. */
void ch_cli_text_safe(FILE *f, const char *s);

/* The roles bit set as "admin,operator,..." into out (size >= 64); an
 * unknown bit is shown in hex; no role is "-".  Returns out. */
char *ch_cli_roles_str(CK_FLAGS roles, char *out, size_t size);

/* Writes roles to f as a JSON array of role names. */
void ch_cli_json_roles(FILE *f, CK_FLAGS roles);

/*
 * Parses a comma-separated role list ("operator,user") into *roles.
 * Returns false (and prints which word is wrong) for an empty list or an
 * unknown role.
 */
bool ch_cli_roles_parse(const ch_cli *c, const char *s, CK_FLAGS *roles);

/* Formats t (seconds since 1970 UTC) as "2024-01-31T12:00:00Z" into out
 * (size >= 32); returns out. */
char *ch_cli_time_str(CK_ULONG t, char *out, size_t size);

/* Is name a well-formed participant name (1..CH_NAME_MAX of [A-Za-z0-9._-],
 * starting with a letter or digit)?  Prints the rule when not, naming what. */
bool ch_cli_name_check(const ch_cli *c, const char *name, const char *what);

/* Prints "<prog>: <message>\n" to stderr. */
void ch_cli_err(const ch_cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- cipherhub_cmd.c -------------------------------------------------- */

/* The commands.  Each takes the positional arguments after its command
 * words (already counted by the caller) and returns a CH_EXIT_* code. */
int ch_cli_cmd_registrations(ch_cli *c, char **args);
int ch_cli_cmd_participant_list(ch_cli *c, char **args);
int ch_cli_cmd_participant_add(ch_cli *c, char **args);
int ch_cli_cmd_participant_remove(ch_cli *c, char **args);
int ch_cli_cmd_participant_set_roles(ch_cli *c, char **args);
int ch_cli_cmd_participant_unlock(ch_cli *c, char **args);
int ch_cli_cmd_audit_show(ch_cli *c, char **args);
int ch_cli_cmd_audit_export(ch_cli *c, char **args);
int ch_cli_cmd_audit_verify(ch_cli *c, char **args);
int ch_cli_cmd_grant(ch_cli *c, char **args);
int ch_cli_cmd_revoke(ch_cli *c, char **args);
int ch_cli_cmd_grants(ch_cli *c, char **args);

/* Loads the module, chooses the registration, opens a session and logs in
 * as how says (cipherhub_cmd.c).  Returns CH_EXIT_*. */
int ch_cli_prepare(ch_cli *c, ch_cli_login how);

/* ---- cipherhub_recovery.c --------------------------------------------- */

int ch_cli_cmd_recovery_setup(ch_cli *c, char **args);
int ch_cli_cmd_recovery_restore(ch_cli *c, char **args);

/* ---- cipherhub_backup.c ----------------------------------------------- */

int ch_cli_cmd_backup(ch_cli *c, char **args);
int ch_cli_cmd_restore(ch_cli *c, char **args);

/* ---- cipherhub_key.c: key families and versions (issue 8) ------------- */
int ch_cli_cmd_key_versions(ch_cli *c, char **args);
int ch_cli_cmd_key_rotate(ch_cli *c, char **args);
int ch_cli_cmd_key_min_version(ch_cli *c, char **args);
int ch_cli_cmd_key_period(ch_cli *c, char **args);
int ch_cli_cmd_key_max_encryptions(ch_cli *c, char **args);
int ch_cli_cmd_key_disable(ch_cli *c, char **args);
int ch_cli_cmd_key_enable(ch_cli *c, char **args);
int ch_cli_cmd_key_destroy(ch_cli *c, char **args);
int ch_cli_cmd_rotate_due(ch_cli *c, char **args);

/* ---- cipherhub_secret.c: secrets (issue 8) ---------------------------- */
int ch_cli_cmd_secret_put(ch_cli *c, char **args);
int ch_cli_cmd_secret_get(ch_cli *c, char **args);
int ch_cli_cmd_secret_list(ch_cli *c, char **args);
int ch_cli_cmd_secret_rotate(ch_cli *c, char **args);
int ch_cli_cmd_secret_delete(ch_cli *c, char **args);

/* ---- cipherhub_data.c: versioned encryption and data keys (issue 8) --- */
int ch_cli_cmd_encrypt(ch_cli *c, char **args);
int ch_cli_cmd_decrypt(ch_cli *c, char **args);
int ch_cli_cmd_rewrap(ch_cli *c, char **args);
int ch_cli_cmd_datakey_generate(ch_cli *c, char **args);
int ch_cli_cmd_datakey_unwrap(ch_cli *c, char **args);
int ch_cli_cmd_key_datakey_plaintext(ch_cli *c, char **args);

#endif /* CH_CLI_H */
