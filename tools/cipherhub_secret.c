/*
 * tools/cipherhub_secret.c: the admin tool's secret commands (issue 8,
 * point 6): put, get, list, rotate and delete named, versioned secrets.
 *
 * A secret is what the module calls one (cipherhub/vendor.h,
 * CH_SECRET_APPLICATION): token data objects, private, with that
 * CKA_APPLICATION, the secret's name as CKA_LABEL and its bytes as
 * CKA_VALUE, one object per version.  The tool uses only standard calls for
 * them (C_CreateObject, with CKA_CH_NEW_VERSION for a new version;
 * C_FindObjects; C_GetAttributeValue of CKA_VALUE, which the module allows
 * and audits; C_DestroyObject) and CH_KeySetState to destroy one version's
 * value, so every rule is the module's: who may read (the creator and READ
 * grantees), the transaction that numbers versions, the audit records.
 *
 * Values are bytes, taken as they are (no newline is added or removed) from
 * standard input or --file, at most CH_CLI_SECRET_MAX of them, and written
 * to standard output by `secret get` with nothing else; every buffer that
 * held one is wiped before it is freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cipherhub.h"

/* The largest value the tool reads (API keys and credentials are small). */
#define CH_CLI_SECRET_MAX (64 * 1024)

/* The most versions (or secrets) one search gathers. */
#define SECRET_FIND_MAX 4096

typedef struct sver {
	CK_OBJECT_HANDLE h;
	CK_ULONG version, state, created;
	bool primary;
	char name[129];
} sver;

/* ---- reading and wiping values ---- */

static void wipe_free(void *p, size_t n)
{
	if (p != NULL) {
		explicit_bzero(p, n);
		free(p);
	}
}

/* Reads the new value from --file or standard input into *out (caller
 * wipes CH_CLI_SECRET_MAX + 1 bytes and frees).  Returns CH_EXIT_*. */
static int value_read(const ch_cli *c, unsigned char **out, size_t *len)
{
	FILE *f = stdin;
	unsigned char *buf;
	size_t n = 0, got;
	int ex = CH_EXIT_USAGE;

	*out = NULL;
	*len = 0;
	if ((buf = malloc(CH_CLI_SECRET_MAX + 1)) == NULL) {
		ch_cli_err(c, "out of memory");
		return CH_EXIT_PKCS11;
	}
	if (c->file != NULL && (f = fopen(c->file, "rb")) == NULL) {
		ch_cli_err(c, "--file %s: %s", c->file, strerror(errno));
		goto out;
	}
	/* Unbuffered: no copy of the value is left in stdio's buffer. */
	setvbuf(f, NULL, _IONBF, 0);
	while (n <= CH_CLI_SECRET_MAX &&
	       (got = fread(buf + n, 1, CH_CLI_SECRET_MAX + 1 - n, f)) > 0)
		n += got;
	if (ferror(f)) {
		ch_cli_err(c, "cannot read the value from %s",
		           c->file ? c->file : "standard input");
		goto out;
	}
	if (n > CH_CLI_SECRET_MAX) {
		ch_cli_err(c, "the value is longer than %d bytes", CH_CLI_SECRET_MAX);
		goto out;
	}
	if (n == 0) {
		ch_cli_err(c, "the value is empty (give it on standard input or with --file FILE)");
		goto out;
	}
	*out = buf;
	*len = n;
	buf = NULL; /* transferred */
	ex = CH_EXIT_OK;
out:
	if (f != stdin && f != NULL)
		fclose(f);
	wipe_free(buf, CH_CLI_SECRET_MAX + 1);
	return ex;
}

/* ---- finding secrets ---- */

static CK_ULONG get_ulong(ch_cli *c, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_ULONG def)
{
	CK_ULONG v = def;
	CK_ATTRIBUTE a = { type, &v, sizeof(v) };

	if (c->p11->C_GetAttributeValue(c->session, h, &a, 1) != CKR_OK ||
	    a.ulValueLen != sizeof(v))
		return def;
	return v;
}

static void sver_read(ch_cli *c, CK_OBJECT_HANDLE h, sver *s)
{
	CK_BBOOL prim = CK_FALSE;
	CK_ATTRIBUTE a = { CKA_CH_PRIMARY, &prim, sizeof(prim) };
	CK_ATTRIBUTE l = { CKA_LABEL, s->name, sizeof(s->name) - 1 };

	memset(s, 0, sizeof(*s));
	s->h = h;
	s->version = get_ulong(c, h, CKA_CH_VERSION, 0);
	s->state = get_ulong(c, h, CKA_CH_STATE, 0);
	s->created = get_ulong(c, h, CKA_CH_CREATED, 0);
	if (c->p11->C_GetAttributeValue(c->session, h, &a, 1) == CKR_OK)
		s->primary = prim != CK_FALSE;
	if (c->p11->C_GetAttributeValue(c->session, h, &l, 1) == CKR_OK &&
	    l.ulValueLen < sizeof(s->name))
		s->name[l.ulValueLen] = '\0';
}

static int sver_cmp(const void *a, const void *b)
{
	const sver *x = a, *y = b;
	int by_name = strcmp(x->name, y->name);

	if (by_name != 0)
		return by_name;
	return x->version < y->version ? -1 : x->version > y->version;
}

/* The secrets named name (NULL: every secret) that the acting participant
 * sees, sorted by name and version, into *out (caller frees).  Returns
 * CH_EXIT_*. */
static int secrets_find(ch_cli *c, const char *name, sver **out, size_t *count)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_APPLICATION, CH_SECRET_APPLICATION, sizeof(CH_SECRET_APPLICATION) - 1 },
		{ CKA_LABEL, (CK_VOID_PTR)name, name ? (CK_ULONG)strlen(name) : 0 },
	};
	CK_OBJECT_HANDLE *found = NULL;
	CK_ULONG n = 0;
	sver *v = NULL;
	CK_RV rv;
	int ex = CH_EXIT_PKCS11;

	*out = NULL;
	*count = 0;
	if ((found = calloc(SECRET_FIND_MAX, sizeof(*found))) == NULL) {
		ch_cli_err(c, "out of memory");
		goto out;
	}
	if ((rv = c->p11->C_FindObjectsInit(c->session, t, name ? 4 : 3)) != CKR_OK) {
		ex = ch_cli_fail_rv(c, "C_FindObjectsInit", rv, c->label);
		goto out;
	}
	rv = c->p11->C_FindObjects(c->session, found, SECRET_FIND_MAX, &n);
	(void)c->p11->C_FindObjectsFinal(c->session);
	if (rv != CKR_OK) {
		ex = ch_cli_fail_rv(c, "C_FindObjects", rv, c->label);
		goto out;
	}
	if ((v = calloc(n ? n : 1, sizeof(*v))) == NULL) {
		ch_cli_err(c, "out of memory");
		goto out;
	}
	for (CK_ULONG i = 0; i < n; i++)
		sver_read(c, found[i], &v[i]);
	qsort(v, n, sizeof(*v), sver_cmp);
	*out = v;
	*count = n;
	v = NULL; /* transferred */
	ex = CH_EXIT_OK;
out:
	free(found);
	free(v);
	return ex;
}

/* The versions of secret name, or CH_EXIT_USAGE (printed) when it has
 * none the acting participant sees. */
static int versions_of(ch_cli *c, const char *name, sver **v, size_t *n)
{
	int ex = secrets_find(c, name, v, n);

	if (ex == CH_EXIT_OK && *n == 0) {
		ch_cli_err(c, "no secret '%s' that %s can see", name, c->as);
		free(*v);
		*v = NULL;
		ex = CH_EXIT_USAGE;
	}
	return ex;
}

/* The version to act on: --version N, else the primary.  NULL (printed)
 * when there is none. */
static const sver *version_pick(const ch_cli *c, const sver *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (c->version_n != 0 ? v[i].version == c->version_n : v[i].primary)
			return &v[i];
	if (c->version_n != 0)
		ch_cli_err(c, "'%s' has no version %lu (see '%s secret list')", name,
		           (unsigned long)c->version_n, c->prog);
	else
		ch_cli_err(c, "'%s' has no current version", name);
	return NULL;
}

static int prepare(ch_cli *c, const char *name)
{
	if (name != NULL && (name[0] == '\0' || strlen(name) > 128)) {
		ch_cli_err(c, "NAME must be 1 to 128 bytes");
		return CH_EXIT_USAGE;
	}
	return ch_cli_prepare(c, CH_CLI_LOGIN_OPERATOR);
}

static const char *state_name(CK_ULONG st)
{
	switch (st) {
	case CH_KEY_STATE_ACTIVE:
		return "current";
	case CH_KEY_STATE_DECRYPT_ONLY:
		return "previous";
	case CH_KEY_STATE_DISABLED:
		return "disabled";
	case CH_KEY_STATE_DESTROYED:
		return "destroyed";
	default:
		return "unknown";
	}
}

/* ---- put, rotate ------------------------------------------------------- */

/* Stores the value read from stdin/--file as secret name: its first
 * version, or (new_version) its next one.  Returns CH_EXIT_*. */
static int store(ch_cli *c, const char *name, bool new_version)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	unsigned char *value = NULL;
	size_t len = 0;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_ULONG ver;
	CK_RV rv;
	int ex;

	if ((ex = prepare(c, name)) != CH_EXIT_OK ||
	    (ex = value_read(c, &value, &len)) != CH_EXIT_OK)
		goto out;
	{
		CK_ATTRIBUTE t[] = {
			{ CKA_CLASS, &cls, sizeof(cls) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &yes, sizeof(yes) },
			{ CKA_LABEL, (CK_VOID_PTR)name, (CK_ULONG)strlen(name) },
			{ CKA_APPLICATION, CH_SECRET_APPLICATION,
			  sizeof(CH_SECRET_APPLICATION) - 1 },
			{ CKA_VALUE, value, (CK_ULONG)len },
			{ CKA_CH_NEW_VERSION, &yes, sizeof(yes) },
		};

		rv = c->p11->C_CreateObject(c->session, t, new_version ? 7 : 6, &h);
	}
	if (rv != CKR_OK) {
		if (rv == CKR_ACTION_PROHIBITED && !new_version)
			ch_cli_err(c,
			           "a secret '%s' exists (or %s may not store secrets: an operator "
			           "may); to give it a new value: %s secret rotate %s",
			           name, c->as, c->prog, name);
		else if (rv == CKR_TEMPLATE_INCONSISTENT && new_version)
			ch_cli_err(c, "no secret '%s' to rotate; store it first: %s secret put %s",
			           name, c->prog, name);
		else if (rv == CKR_FUNCTION_NOT_SUPPORTED)
			ch_cli_err(c, "'%s' is a forwarded registration, which holds no secrets",
			           c->label);
		ex = ch_cli_fail_rv(c, "C_CreateObject", rv, name);
		goto out;
	}
	ver = get_ulong(c, h, CKA_CH_VERSION, 1);
	if (c->json) {
		fputc('{', stdout);
		ch_cli_json_kv(stdout, "name", name);
		printf(",\"version\":%lu}\n", (unsigned long)ver);
	} else if (new_version) {
		printf("rotated '%s': version %lu is current, version %lu previous\n", name,
		       (unsigned long)ver, (unsigned long)ver - 1);
	} else {
		printf("stored '%s' as version 1\n", name);
	}
	ex = CH_EXIT_OK;
out:
	wipe_free(value, CH_CLI_SECRET_MAX + 1);
	return ex;
}

int ch_cli_cmd_secret_put(ch_cli *c, char **args)
{
	return store(c, args[0], false);
}

int ch_cli_cmd_secret_rotate(ch_cli *c, char **args)
{
	return store(c, args[0], true);
}

/* ---- get --------------------------------------------------------------- */

int ch_cli_cmd_secret_get(ch_cli *c, char **args)
{
	const sver *s;
	sver *v = NULL;
	size_t n = 0;
	unsigned char *buf = NULL;
	CK_ATTRIBUTE a = { CKA_VALUE, NULL, 0 };
	CK_ULONG cap = 0;
	CK_RV rv;
	int ex;

	if ((ex = prepare(c, args[0])) != CH_EXIT_OK ||
	    (ex = versions_of(c, args[0], &v, &n)) != CH_EXIT_OK)
		goto out;
	ex = CH_EXIT_USAGE;
	if ((s = version_pick(c, v, n, args[0])) == NULL)
		goto out;
	if ((rv = c->p11->C_GetAttributeValue(c->session, s->h, &a, 1)) == CKR_OK) {
		cap = a.ulValueLen;
		ex = CH_EXIT_PKCS11;
		if ((buf = malloc(cap ? cap : 1)) == NULL) {
			ch_cli_err(c, "out of memory");
			goto out;
		}
		a.pValue = buf;
		rv = c->p11->C_GetAttributeValue(c->session, s->h, &a, 1);
	}
	if (rv != CKR_OK) {
		if (rv == CKR_ATTRIBUTE_SENSITIVE &&
		    (s->state == CH_KEY_STATE_DISABLED || s->state == CH_KEY_STATE_DESTROYED))
			ch_cli_err(c, "'%s' version %lu is %s: its value cannot be read", args[0],
			           (unsigned long)s->version, state_name(s->state));
		else if (rv == CKR_ATTRIBUTE_SENSITIVE)
			ch_cli_err(c,
			           "%s may not read '%s' version %lu: the secret's creator and "
			           "participants with a read grant read versions not below the "
			           "minimum",
			           c->as, args[0], (unsigned long)s->version);
		ex = ch_cli_fail_rv(c, "C_GetAttributeValue(CKA_VALUE)", rv, args[0]);
		goto out;
	}
	/* Straight to the descriptor: no copy left in stdio's buffer. */
	ex = CH_EXIT_OK;
	(void)fflush(stdout);
	for (CK_ULONG done = 0; done < a.ulValueLen;) {
		ssize_t w = write(STDOUT_FILENO, buf + done, a.ulValueLen - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ch_cli_err(c, "cannot write the value: %s", strerror(errno));
			ex = CH_EXIT_PKCS11;
			break;
		}
		done += (CK_ULONG)w;
	}
out:
	wipe_free(buf, cap);
	free(v);
	return ex;
}

/* ---- list -------------------------------------------------------------- */

int ch_cli_cmd_secret_list(ch_cli *c, char **args)
{
	sver *v = NULL;
	size_t n = 0;
	int ex;

	(void)args;
	if ((ex = prepare(c, NULL)) != CH_EXIT_OK ||
	    (ex = secrets_find(c, NULL, &v, &n)) != CH_EXIT_OK)
		return ex;
	if (!c->json)
		printf("%-32s %-8s %-8s %-21s %s\n", "NAME", "VERSIONS", "PRIMARY", "CREATED",
		       "UPDATED");
	for (size_t i = 0; i < n;) {
		size_t j = i, count = 0;
		CK_ULONG primary = 0, created = 0, updated = 0;
		char c1[32], c2[32];

		/* Sorted by version: the first is the oldest left. */
		created = v[i].created;
		for (; j < n && strcmp(v[j].name, v[i].name) == 0; j++) {
			count++;
			if (v[j].primary) {
				primary = v[j].version;
				updated = v[j].created;
			}
		}
		ch_cli_time_str(created, c1, sizeof(c1));
		ch_cli_time_str(updated, c2, sizeof(c2));
		if (c->json) {
			fputc('{', stdout);
			ch_cli_json_kv(stdout, "name", v[i].name);
			printf(",\"versions\":%zu,\"primary\":%lu,", count, (unsigned long)primary);
			ch_cli_json_kv(stdout, "created", created ? c1 : "");
			fputc(',', stdout);
			ch_cli_json_kv(stdout, "updated", updated ? c2 : "");
			printf("}\n");
		} else {
			ch_cli_text_safe(stdout, v[i].name);
			printf("%*s %-8zu %-8lu %-21s %s\n",
			       32 - (int)strlen(v[i].name) > 0 ? 32 - (int)strlen(v[i].name) : 0,
			       "", count, (unsigned long)primary, created ? c1 : "-",
			       updated ? c2 : "-");
		}
		i = j;
	}
	free(v);
	return CH_EXIT_OK;
}

/* ---- delete ------------------------------------------------------------ */

int ch_cli_cmd_secret_delete(ch_cli *c, char **args)
{
	CH_C_KeySetState set;
	const sver *s = NULL;
	sver *v = NULL;
	size_t n = 0;
	CK_RV rv;
	int ex;

	if ((ex = prepare(c, args[0])) != CH_EXIT_OK ||
	    (ex = versions_of(c, args[0], &v, &n)) != CH_EXIT_OK)
		goto out;
	if (c->version_n != 0) {
		/* One version: its value goes, its metadata stays. */
		ex = CH_EXIT_USAGE;
		if ((s = version_pick(c, v, n, args[0])) == NULL)
			goto out;
		ex = CH_EXIT_UNSUPPORTED;
		if (c->vendor != NULL && c->vendor->version.minor < 2) {
			ch_cli_vendor_missing(c, "CH_KeySetState");
			goto out;
		}
		if ((set = ch_cli_vendor_fn(c, CH_KeySetState)) == NULL)
			goto out;
		if ((rv = set(c->session, s->h, CH_KEY_STATE_DESTROYED)) != CKR_OK) {
			if (rv == CKR_ACTION_PROHIBITED && s->primary)
				ch_cli_err(
				        c,
				        "version %lu is the current version of '%s': rotate first, "
				        "or delete the whole secret; nothing was changed",
				        (unsigned long)s->version, args[0]);
			ex = ch_cli_fail_rv(c, "CH_KeySetState", rv, args[0]);
			goto out;
		}
		printf("'%s' version %lu destroyed (its value is gone)\n", args[0],
		       (unsigned long)s->version);
		ex = CH_EXIT_OK;
		goto out;
	}
	/* The whole secret: the other versions first, the current one last
	 * (the module keeps a family's primary while others are left). */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			if (v[i].primary != (pass == 1))
				continue;
			if ((rv = c->p11->C_DestroyObject(c->session, v[i].h)) != CKR_OK) {
				ex = ch_cli_fail_rv(c, "C_DestroyObject", rv, args[0]);
				goto out;
			}
		}
	}
	printf("deleted '%s' (%zu version%s)\n", args[0], n, n == 1 ? "" : "s");
	ex = CH_EXIT_OK;
out:
	free(v);
	return ex;
}
