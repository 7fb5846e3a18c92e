/*
 * tools/cipherhub_key.c: the admin tool's key family commands (issue 8).
 *
 * A family is the token keys sharing one CKA_LABEL (secret and private keys;
 * public keys only when a label names nothing else).  The tool finds a
 * family's versions with C_FindObjects, reads the vendor attributes
 * (CKA_CH_VERSION, CKA_CH_STATE, CKA_CH_PRIMARY, ...) with
 * C_GetAttributeValue, and changes them only through the vendor interface
 * 1.2 (CH_KeyRotate, CH_KeySetState, CH_KeySetMinVersion), so every rule is
 * the module's: who may, what a version may do, the transaction that makes
 * racing rotations produce one version.
 *
 * As in cipherhub_cmd.c, a refusal is said in words about the user's keys,
 * then as the call and its CKR_ name; a command that fails has changed
 * nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cipherhub.h"

/* How many handles keys_find asks C_FindObjects for at first (it asks again,
 * for twice as many, until there are no more). */
#define FIND_CHUNK 256

typedef struct kver {
	CK_OBJECT_HANDLE h;
	CK_OBJECT_CLASS cls;
	bool versioned; /* has CKA_CH_VERSION (else a plain key) */
	CK_ULONG version, state, min, created, period;
	CK_ULONG max_enc, encryptions; /* the bound (0: none) and the count */
	bool primary;
	char label[129];
	char uid[33];
} kver;

/* One CK_ULONG attribute, or def when the key has none. */
static CK_ULONG get_ulong(ch_cli *c, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_ULONG def,
                          bool *present)
{
	CK_ULONG v = def;
	CK_ATTRIBUTE a = { type, &v, sizeof(v) };
	bool ok = c->p11->C_GetAttributeValue(c->session, h, &a, 1) == CKR_OK &&
	          a.ulValueLen == sizeof(v);

	if (present != NULL)
		*present = ok;
	return ok ? v : def;
}

static void get_text(ch_cli *c, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, char *out, size_t size)
{
	CK_ATTRIBUTE a = { type, out, (CK_ULONG)size - 1 };

	out[0] = '\0';
	if (c->p11->C_GetAttributeValue(c->session, h, &a, 1) == CKR_OK && a.ulValueLen < size)
		out[a.ulValueLen] = '\0';
}

/* Reads what the commands need of key h. */
static void kver_read(ch_cli *c, CK_OBJECT_HANDLE h, kver *k)
{
	CK_BBOOL prim = CK_FALSE;
	CK_ATTRIBUTE a = { CKA_CH_PRIMARY, &prim, sizeof(prim) };

	memset(k, 0, sizeof(*k));
	k->h = h;
	k->cls = get_ulong(c, h, CKA_CLASS, CK_UNAVAILABLE_INFORMATION, NULL);
	k->version = get_ulong(c, h, CKA_CH_VERSION, 1, &k->versioned);
	k->state = get_ulong(c, h, CKA_CH_STATE, CH_KEY_STATE_ACTIVE, NULL);
	k->min = get_ulong(c, h, CKA_CH_MIN_DECRYPT_VERSION, 1, NULL);
	k->created = get_ulong(c, h, CKA_CH_CREATED, 0, NULL);
	k->period = get_ulong(c, h, CKA_CH_ROTATION_PERIOD, 0, NULL);
	k->max_enc = get_ulong(c, h, CKA_CH_MAX_ENCRYPTIONS, 0, NULL);
	k->encryptions = get_ulong(c, h, CKA_CH_ENCRYPTIONS, 0, NULL);
	if (c->p11->C_GetAttributeValue(c->session, h, &a, 1) == CKR_OK)
		k->primary = prim != CK_FALSE;
	if (!k->versioned)
		k->primary = true; /* a plain key is its own family's current key */
	get_text(c, h, CKA_LABEL, k->label, sizeof(k->label));
	get_text(c, h, CKA_UNIQUE_ID, k->uid, sizeof(k->uid));
}

static int kver_cmp(const void *a, const void *b)
{
	const kver *x = a, *y = b;

	return x->version < y->version ? -1 : x->version > y->version;
}

/* Token keys matching t (n entries) into *out (caller frees): every one,
 * C_FindObjects asked until it finds no more.  Returns CH_EXIT_*. */
static int keys_find(ch_cli *c, CK_ATTRIBUTE *t, CK_ULONG n, kver **out, size_t *count)
{
	CK_OBJECT_HANDLE *found = NULL, *grown;
	size_t have = 0, cap = 0;
	CK_ULONG got;
	kver *v = NULL;
	bool oom = false;
	CK_RV rv;
	int ex = CH_EXIT_PKCS11;

	*out = NULL;
	*count = 0;
	if ((rv = c->p11->C_FindObjectsInit(c->session, t, n)) != CKR_OK) {
		ex = ch_cli_fail_rv(c, "C_FindObjectsInit", rv, c->label);
		goto out;
	}
	for (;;) {
		if (have == cap) {
			size_t ncap = cap ? cap * 2 : FIND_CHUNK;

			if ((grown = realloc(found, ncap * sizeof(*grown))) == NULL) {
				oom = true;
				break;
			}
			found = grown;
			cap = ncap;
		}
		got = 0;
		rv = c->p11->C_FindObjects(c->session, found + have, (CK_ULONG)(cap - have), &got);
		if (rv != CKR_OK || got == 0)
			break;
		have += got;
	}
	(void)c->p11->C_FindObjectsFinal(c->session);
	if (!oom && rv != CKR_OK) {
		ex = ch_cli_fail_rv(c, "C_FindObjects", rv, c->label);
		goto out;
	}
	if (oom || (v = calloc(have ? have : 1, sizeof(*v))) == NULL) {
		ch_cli_err(c, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < have; i++)
		kver_read(c, found[i], &v[i]);
	*out = v;
	*count = have;
	v = NULL; /* transferred */
	ex = CH_EXIT_OK;
out:
	free(found);
	free(v);
	return ex;
}

/* The versions of family label, by version number: its secret and private
 * keys, else its public keys.  CH_EXIT_USAGE (printed) when there are none. */
static int family_read(ch_cli *c, const char *label, kver **out, size_t *n)
{
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {
		{ CKA_LABEL, (CK_VOID_PTR)label, (CK_ULONG)strlen(label) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
	};
	size_t all, keep = 0, pub = 0;
	kver *v;
	int ex;

	if ((ex = keys_find(c, t, 2, &v, &all)) != CH_EXIT_OK)
		return ex;
	for (size_t i = 0; i < all; i++)
		if (v[i].cls == CKO_PUBLIC_KEY)
			pub++;
	for (size_t i = 0; i < all; i++) {
		bool secret = v[i].cls == CKO_SECRET_KEY || v[i].cls == CKO_PRIVATE_KEY;

		if (secret || (v[i].cls == CKO_PUBLIC_KEY && pub == all))
			v[keep++] = v[i];
	}
	if (keep == 0) {
		ch_cli_err(c, "no key family '%s' that %s can see", label, c->as);
		free(v);
		return CH_EXIT_USAGE;
	}
	qsort(v, keep, sizeof(*v), kver_cmp);
	*out = v;
	*n = keep;
	return CH_EXIT_OK;
}

/* The family's primary (or its one plain key). */
static const kver *family_primary(ch_cli *c, const kver *v, size_t n, const char *label)
{
	const kver *p = NULL;
	size_t plain = 0;

	for (size_t i = 0; i < n; i++) {
		if (v[i].versioned && v[i].primary)
			return &v[i];
		if (!v[i].versioned) {
			p = &v[i];
			plain++;
		}
	}
	if (plain == 1)
		return p;
	ch_cli_err(c, "the label '%s' names %zu keys that are not versions of one family", label,
	           plain);
	return NULL;
}

static const char *state_name(CK_ULONG st)
{
	switch (st) {
	case CH_KEY_STATE_ACTIVE:
		return "active";
	case CH_KEY_STATE_DECRYPT_ONLY:
		return "decrypt-only";
	case CH_KEY_STATE_DISABLED:
		return "disabled";
	case CH_KEY_STATE_DESTROYED:
		return "destroyed";
	default:
		return "unknown";
	}
}

/* The 1.2 vendor function member, or NULL (printed) on an older module. */
#define key_fn(c, member)                                                                          \
	((c)->vendor != NULL && (c)->vendor->version.minor >= 2                                    \
	         ? ch_cli_vendor_fn(c, member)                                                     \
	         : (ch_cli_vendor_missing((c), #member), NULL))

/* Parses a version number (1, 2, ...). */
static bool version_parse(const ch_cli *c, const char *s, const char *what, CK_ULONG *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s == '\0' || *s == '-' || *s == '+' || errno != 0 || *end != '\0' || v == 0) {
		ch_cli_err(c, "%s '%s' is not a version number (1, 2, ...)", what, s);
		return false;
	}
	*out = v;
	return true;
}

/* ---- key versions ------------------------------------------------------- */

static void kver_print_json(const kver *k)
{
	char when[32];

	fputc('{', stdout);
	ch_cli_json_kv(stdout, "label", k->label);
	printf(",\"version\":%lu,\"versioned\":%s,", (unsigned long)k->version,
	       k->versioned ? "true" : "false");
	ch_cli_json_kv(stdout, "state", state_name(k->state));
	printf(",\"primary\":%s,\"min_decrypt_version\":%lu,\"rotation_period\":%lu,",
	       k->primary ? "true" : "false", (unsigned long)k->min, (unsigned long)k->period);
	printf("\"max_encryptions\":%lu,\"encryptions\":%lu,", (unsigned long)k->max_enc,
	       (unsigned long)k->encryptions);
	ch_cli_json_kv(stdout, "created", k->created ? ch_cli_time_str(k->created, when, 32) : "");
	fputc(',', stdout);
	ch_cli_json_kv(stdout, "unique_id", k->uid);
	printf("}\n");
}

int ch_cli_cmd_key_versions(ch_cli *c, char **args)
{
	kver *v = NULL;
	size_t n = 0;
	int ex;

	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_OPERATOR)) != CH_EXIT_OK ||
	    (ex = family_read(c, args[0], &v, &n)) != CH_EXIT_OK)
		return ex;
	if (!c->json)
		printf("%-8s %-13s %-8s %-21s %s\n", "VERSION", "STATE", "PRIMARY", "CREATED",
		       "UNIQUE-ID");
	for (size_t i = 0; i < n; i++) {
		char when[32];

		if (c->json) {
			kver_print_json(&v[i]);
			continue;
		}
		printf("%-8lu %-13s %-8s %-21s %s%s\n", (unsigned long)v[i].version,
		       state_name(v[i].state), v[i].primary ? "yes" : "no",
		       v[i].created ? ch_cli_time_str(v[i].created, when, sizeof(when)) : "-",
		       v[i].uid, v[i].versioned ? "" : "  (plain key: version 1 once rotated)");
	}
	if (!c->json && n > 0) {
		const kver *p = &v[n - 1];

		printf("minimum decryption version %lu, rotation period %lu s",
		       (unsigned long)p->min, (unsigned long)p->period);
		for (size_t i = 0; i < n; i++)
			if (v[i].primary)
				p = &v[i];
		if (p->max_enc != 0)
			printf(", %lu of %lu encryptions made with version %lu",
			       (unsigned long)p->encryptions, (unsigned long)p->max_enc,
			       (unsigned long)p->version);
		fputc('\n', stdout);
	}
	free(v);
	return CH_EXIT_OK;
}

/* ---- key rotate, rotate --due ------------------------------------------ */

/* Rotates family label from its primary p.  *lost is set when another
 * rotation committed first (nothing made; the message is the caller's).
 * Returns CH_EXIT_*. */
static int rotate_one(ch_cli *c, const kver *p, const char *label, bool *lost, CK_ULONG *version)
{
	CH_C_KeyRotate rotate;
	CK_OBJECT_HANDLE nk = CK_INVALID_HANDLE;
	CK_RV rv;

	*lost = false;
	if ((rotate = key_fn(c, CH_KeyRotate)) == NULL)
		return CH_EXIT_UNSUPPORTED;
	rv = rotate(c->session, p->h, &nk);
	if (rv == CKR_CH_KEY_NOT_PRIMARY) {
		*lost = true;
		return CH_EXIT_PKCS11;
	}
	if (rv != CKR_OK) {
		if (rv == CKR_KEY_TYPE_INCONSISTENT)
			ch_cli_err(c,
			           "'%s' cannot be rotated (a token secret key, or a private key "
			           "with its public half, can)",
			           label);
		return ch_cli_fail_rv(c, "CH_KeyRotate", rv, label);
	}
	*version = get_ulong(c, nk, CKA_CH_VERSION, 0, NULL);
	return CH_EXIT_OK;
}

int ch_cli_cmd_key_rotate(ch_cli *c, char **args)
{
	const kver *p;
	kver *v = NULL;
	size_t n = 0;
	CK_ULONG ver = 0;
	bool lost;
	int ex;

	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_OPERATOR)) != CH_EXIT_OK ||
	    (ex = family_read(c, args[0], &v, &n)) != CH_EXIT_OK)
		return ex;
	ex = CH_EXIT_USAGE;
	if ((p = family_primary(c, v, n, args[0])) == NULL)
		goto out;
	if ((ex = rotate_one(c, p, args[0], &lost, &ver)) != CH_EXIT_OK) {
		if (lost)
			ch_cli_err(c,
			           "another rotation of '%s' committed first; nothing was made "
			           "(CH_KeyRotate: CKR_CH_KEY_NOT_PRIMARY)",
			           args[0]);
		goto out;
	}
	if (c->json) {
		fputc('{', stdout);
		ch_cli_json_kv(stdout, "label", args[0]);
		printf(",\"version\":%lu,\"previous\":%lu}\n", (unsigned long)ver,
		       (unsigned long)p->version);
	} else {
		printf("rotated '%s': version %lu is the primary, version %lu decrypts only\n",
		       args[0], (unsigned long)ver, (unsigned long)p->version);
	}
out:
	free(v);
	return ex;
}

/* Is primary (or plain key) k due: past its rotation period, or at its
 * bound of encryptions (the module's count: what every process has written
 * so far, at least once a second while it uses the key, and at its logout
 * and C_Finalize)? */
static bool kver_due(const kver *k, CK_ULONG now)
{
	if (!k->primary)
		return false;
	return (k->period != 0 && now >= k->created + k->period) ||
	       (k->max_enc != 0 && k->encryptions >= k->max_enc);
}

/* Counts of one `rotate --due`. */
typedef struct due_run {
	size_t rotated, others;
	int worst;
} due_run;

/* Rotates every token key of class cls that is a primary (or a plain key)
 * past its period.  Returns CH_EXIT_* of the search; a failed rotation is
 * counted in r->worst. */
static int rotate_due_class(ch_cli *c, CK_OBJECT_CLASS cls, CK_ULONG now, due_run *r)
{
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_CLASS, &cls, sizeof(cls) },
	};
	kver *v = NULL;
	size_t n = 0;
	int ex;

	if ((ex = keys_find(c, t, 2, &v, &n)) != CH_EXIT_OK)
		return ex;
	for (size_t i = 0; i < n; i++) {
		const kver *k = &v[i];
		CK_ULONG ver = 0;
		bool lost;

		if (!kver_due(k, now))
			continue;
		if ((ex = rotate_one(c, k, k->label, &lost, &ver)) == CH_EXIT_OK) {
			r->rotated++;
			if (c->json) {
				fputc('{', stdout);
				ch_cli_json_kv(stdout, "label", k->label);
				printf(",\"version\":%lu,\"previous\":%lu}\n", (unsigned long)ver,
				       (unsigned long)k->version);
			} else {
				printf("rotated '%s': version %lu is the primary\n", k->label,
				       (unsigned long)ver);
			}
		} else if (lost) {
			r->others++;
			if (!c->json)
				printf("'%s' was rotated by another process first\n", k->label);
		} else if (r->worst == CH_EXIT_OK) {
			r->worst = ex;
		}
	}
	free(v);
	return CH_EXIT_OK;
}

int ch_cli_cmd_rotate_due(ch_cli *c, char **args)
{
	/* Secret-key families, and key pairs through their private half (which
	 * rotates the public one with it): public keys are not looked at. */
	static const CK_OBJECT_CLASS classes[] = { CKO_SECRET_KEY, CKO_PRIVATE_KEY };
	CK_ULONG now = (CK_ULONG)time(NULL);
	due_run r = { 0, 0, CH_EXIT_OK };
	int ex;

	(void)args;
	if (!c->due) {
		ch_cli_err(c, "'rotate' needs --due (to rotate one family: '%s key rotate LABEL')",
		           c->prog);
		return CH_EXIT_USAGE;
	}
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_OPERATOR)) != CH_EXIT_OK)
		return ex;
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if ((ex = rotate_due_class(c, classes[i], now, &r)) != CH_EXIT_OK)
			return ex;
	if (!c->json)
		printf("%zu famil%s rotated, %zu by another process\n", r.rotated,
		       r.rotated == 1 ? "y" : "ies", r.others);
	return r.worst;
}

/* ---- key period, key max-encryptions ----------------------------------- */

/* Sets the family policy attribute type (named name) of family args[0] to
 * the number args[1] (arg, what: how it is named and said in an error) on
 * every version.  Returns CH_EXIT_*; *value gets the number. */
static int policy_set(ch_cli *c, char **args, CK_ATTRIBUTE_TYPE type, const char *name,
                      const char *arg, const char *what, unsigned long *value)
{
	kver *v = NULL;
	size_t n = 0;
	unsigned long num;
	CK_ULONG val;
	CK_ATTRIBUTE t = { type, &val, sizeof(val) };
	char *end;
	CK_RV rv;
	int ex;

	errno = 0;
	num = strtoul(args[1], &end, 10);
	if (args[1][0] == '\0' || args[1][0] == '-' || args[1][0] == '+' || errno != 0 ||
	    *end != '\0') {
		ch_cli_err(c, "%s '%s' is not %s", arg, args[1], what);
		return CH_EXIT_USAGE;
	}
	val = num;
	*value = num;
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_OPERATOR)) != CH_EXIT_OK ||
	    (ex = family_read(c, args[0], &v, &n)) != CH_EXIT_OK)
		return ex;
	/* Every version agrees; the primary's is the one that counts.  A
	 * destroyed version keeps the policy it had. */
	for (size_t i = 0; i < n; i++) {
		char call[80];

		if (v[i].state == CH_KEY_STATE_DESTROYED)
			continue;
		if ((rv = c->p11->C_SetAttributeValue(c->session, v[i].h, &t, 1)) != CKR_OK) {
			snprintf(call, sizeof(call), "C_SetAttributeValue(%s)", name);
			ex = ch_cli_fail_rv(c, call, rv, args[0]);
			goto out;
		}
	}
	ex = CH_EXIT_OK;
out:
	free(v);
	return ex;
}

int ch_cli_cmd_key_period(ch_cli *c, char **args)
{
	unsigned long secs = 0;
	int ex = policy_set(c, args, CKA_CH_ROTATION_PERIOD, "CKA_CH_ROTATION_PERIOD", "SECONDS",
	                    "a number of seconds (0: no rotation)", &secs);

	if (ex == CH_EXIT_OK)
		printf("'%s': rotation period %lu s\n", args[0], secs);
	return ex;
}

int ch_cli_cmd_key_max_encryptions(ch_cli *c, char **args)
{
	unsigned long max = 0;
	int ex = policy_set(c, args, CKA_CH_MAX_ENCRYPTIONS, "CKA_CH_MAX_ENCRYPTIONS", "N",
	                    "a number of encryptions (0: no bound)", &max);

	if (ex != CH_EXIT_OK)
		return ex;
	if (max == 0)
		printf("'%s': no bound of encryptions\n", args[0]);
	else
		printf("'%s': due for rotation after %lu encryptions per version\n", args[0], max);
	return ex;
}

/* ---- key min-version, disable, enable, destroy ------------------------- */

int ch_cli_cmd_key_min_version(ch_cli *c, char **args)
{
	CH_C_KeySetMinVersion set;
	const kver *p;
	kver *v = NULL;
	size_t n = 0;
	CK_ULONG min;
	CK_RV rv;
	int ex;

	if (!version_parse(c, args[1], "N", &min))
		return CH_EXIT_USAGE;
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_OPERATOR)) != CH_EXIT_OK ||
	    (ex = family_read(c, args[0], &v, &n)) != CH_EXIT_OK)
		return ex;
	ex = CH_EXIT_USAGE;
	if ((p = family_primary(c, v, n, args[0])) == NULL)
		goto out;
	ex = CH_EXIT_UNSUPPORTED;
	if ((set = key_fn(c, CH_KeySetMinVersion)) == NULL)
		goto out;
	if ((rv = set(c->session, p->h, min)) != CKR_OK) {
		if (rv == CKR_ARGUMENTS_BAD && min > p->version)
			ch_cli_err(c,
			           "version %lu is above the primary of '%s' (version %lu); "
			           "nothing was changed",
			           (unsigned long)min, args[0], (unsigned long)p->version);
		ex = ch_cli_fail_rv(c, "CH_KeySetMinVersion", rv, args[0]);
		goto out;
	}
	printf("'%s': versions below %lu no longer decrypt\n", args[0], (unsigned long)min);
	ex = CH_EXIT_OK;
out:
	free(v);
	return ex;
}

static int set_state(ch_cli *c, char **args, CK_ULONG state, const char *done)
{
	CH_C_KeySetState set;
	const kver *k = NULL;
	kver *v = NULL;
	size_t n = 0;
	CK_ULONG want;
	CK_RV rv;
	int ex;

	if (!version_parse(c, args[1], "VERSION", &want))
		return CH_EXIT_USAGE;
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_OPERATOR)) != CH_EXIT_OK ||
	    (ex = family_read(c, args[0], &v, &n)) != CH_EXIT_OK)
		return ex;
	for (size_t i = 0; i < n && k == NULL; i++)
		if (v[i].version == want && (v[i].versioned || n == 1))
			k = &v[i];
	ex = CH_EXIT_USAGE;
	if (k == NULL) {
		ch_cli_err(c,
		           "'%s' has no version %lu (see '%s key versions %s'); nothing was "
		           "changed",
		           args[0], (unsigned long)want, c->prog, args[0]);
		goto out;
	}
	ex = CH_EXIT_UNSUPPORTED;
	if ((set = key_fn(c, CH_KeySetState)) == NULL)
		goto out;
	if ((rv = set(c->session, k->h, state)) != CKR_OK) {
		if (rv == CKR_ACTION_PROHIBITED && state == CH_KEY_STATE_DESTROYED && k->primary)
			ch_cli_err(c,
			           "version %lu is the primary of '%s' and cannot be destroyed: "
			           "rotate first; nothing was changed",
			           (unsigned long)want, args[0]);
		else if (rv == CKR_ACTION_PROHIBITED && k->state == CH_KEY_STATE_DESTROYED)
			ch_cli_err(c, "version %lu of '%s' is destroyed: its material is gone",
			           (unsigned long)want, args[0]);
		ex = ch_cli_fail_rv(c, "CH_KeySetState", rv, args[0]);
		goto out;
	}
	printf("'%s' version %lu %s\n", args[0], (unsigned long)want, done);
	ex = CH_EXIT_OK;
out:
	free(v);
	return ex;
}

int ch_cli_cmd_key_disable(ch_cli *c, char **args)
{
	return set_state(c, args, CH_KEY_STATE_DISABLED, "disabled");
}

int ch_cli_cmd_key_enable(ch_cli *c, char **args)
{
	return set_state(c, args, CH_KEY_STATE_ACTIVE, "enabled");
}

int ch_cli_cmd_key_destroy(ch_cli *c, char **args)
{
	return set_state(c, args, CH_KEY_STATE_DESTROYED, "destroyed (its key material is gone)");
}
