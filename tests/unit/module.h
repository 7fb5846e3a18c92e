/*
 * Shared helper of the tests that drive the built module the way an
 * application does: through the PKCS#11 3.0 function table of
 * $CH_TEST_MODULE, loaded with dlopen and found with C_GetInterface.
 *
 * Each test gets a fresh temporary directory holding its own store
 * (CIPHERHUB_STORE), a configuration whose PIN KDF is cheap
 * (CIPHERHUB_CONF: 1000 PBKDF2 iterations, so logins take microseconds) and
 * whose log goes to a file the test can read, and usually a token labelled
 * "t" with a known SO PIN and user PIN.  Tests never depend on each other:
 * each one initializes the module, works, and finalizes it again.
 *
 * Header-only because every test is one executable built from one .c file;
 * the functions are static inline so a test that does not use one gets no
 * warning.  Failures go through check.h (CHECK, CHECK_RV, ch_test_done); the
 * REQUIRE_* macros below add "stop this test here": they print the call, the
 * expected and the actual value, count a failure and jump to the test
 * function's "out:" label, where it cleans up.
 */
#ifndef CH_TESTS_MODULE_H
#define CH_TESTS_MODULE_H

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cipherhub/pkcs11.h"
#include "cipherhub/vendor.h"
#include "check.h"

extern char **environ;

#define CH_T_SO_PIN   "so-pin-8172-kestrel"
#define CH_T_USER_PIN "user-pin-3945-heron"
#define CH_T_LABEL    "t"

#define CH_T_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A template entry; the casts let tests point at constants. */
/* clang-format off */
#define CH_T_ATTR(type, ptr, len) {(type), (CK_VOID_PTR)(ptr), (CK_ULONG)(len)}
#define CH_T_BOOL(type, b)        {(type), (CK_VOID_PTR)((b) ? &ch_t_true : &ch_t_false), 1}
#define CH_T_ULONG(type, v)       {(type), (CK_VOID_PTR)(v), sizeof(CK_ULONG)}
#define CH_T_STR(type, s)         {(type), (CK_VOID_PTR)(s), (CK_ULONG)strlen(s)}
/* clang-format on */

static CK_BBOOL ch_t_true __attribute__((unused)) = CK_TRUE;
static CK_BBOOL ch_t_false __attribute__((unused)) = CK_FALSE;

/* The CKA_EC_PARAMS of P-256: the DER of OID 1.2.840.10045.3.1.7. */
static const CK_BYTE ch_t_p256_params[]
        __attribute__((unused)) = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };

/* The module's 3.0 function table, set by ch_t_load(). */
static CK_FUNCTION_LIST_3_0_PTR ch_p11;
#define P11 ch_p11

/* One test's world: its directory and the files in it, and the slot of its
 * token "t" once ch_t_setup() or ch_t_make_token() made it. */
typedef struct ch_t_env {
	char dir[200];
	char store[256];
	char conf[256];
	char log[256];
	CK_SLOT_ID slot;
} ch_t_env;

/* A row of a test file's table: the test's name says what it proves. */
typedef struct ch_t_case {
	const char *name;
	void (*fn)(void);
} ch_t_case;

/* clang-format off */
#define CH_T_CASE(fn) {#fn, fn}
/* clang-format on */

/* Like CHECK_RV, and ends the test (goto out) when the call fails: for steps
 * the rest of the test depends on. */
#define REQUIRE_RV(call, want)                                                                     \
	do {                                                                                       \
		if (!CHECK_RV(call, want))                                                         \
			goto out;                                                                  \
	} while (0)

/* Like CHECK, and ends the test (goto out) when cond is false. */
#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!CHECK(cond))                                                                  \
			goto out;                                                                  \
	} while (0)

/* CHECK_RV for calls where the specification allows either of two codes. */
#define CHECK_RV2(call, want1, want2)                                                              \
	do {                                                                                       \
		CK_RV chk2_rv_ = (call);                                                           \
		if (chk2_rv_ != (want1) && chk2_rv_ != (want2)) {                                  \
			fprintf(stderr, "%s:%d: %s\n    expected %s or %s, got %s\n", __FILE__,    \
			        __LINE__, #call, ch_test_rv_name(want1), ch_test_rv_name(want2),   \
			        ch_test_rv_name(chk2_rv_));                                        \
			CHECK(!"return value as expected");                                        \
		}                                                                                  \
	} while (0)

/* Loads $CH_TEST_MODULE and sets ch_p11 from C_GetInterface("PKCS 11", 3.0).
 * The library stays loaded for the life of the process.  Returns true on
 * success, else prints why. */
static inline bool ch_t_load(void)
{
	const char *path = getenv("CH_TEST_MODULE");
	CK_VERSION v3 = { 3, 0 };
	CK_INTERFACE_PTR iface = NULL;
	CK_C_GetInterface get;
	void *lib;
	CK_RV rv;

	if (ch_p11 != NULL)
		return true;
	if (path == NULL || *path == '\0') {
		fprintf(stderr, "CH_TEST_MODULE is not set (run the tests with ctest)\n");
		return false;
	}
	if ((lib = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		return false;
	}
	if ((get = (CK_C_GetInterface)dlsym(lib, "C_GetInterface")) == NULL) {
		fprintf(stderr, "%s exports no C_GetInterface\n", path);
		return false;
	}
	rv = get((CK_UTF8CHAR_PTR) "PKCS 11", &v3, &iface, 0);
	if (rv != CKR_OK || iface == NULL || iface->pFunctionList == NULL) {
		fprintf(stderr, "C_GetInterface(\"PKCS 11\", 3.0): %s\n", ch_test_rv_name(rv));
		return false;
	}
	ch_p11 = (CK_FUNCTION_LIST_3_0_PTR)iface->pFunctionList;
	if (ch_p11->version.major != 3) {
		fprintf(stderr, "C_GetInterface returned a %u.%u table\n", ch_p11->version.major,
		        ch_p11->version.minor);
		ch_p11 = NULL;
		return false;
	}
	return true;
}

/* Fills a blank-padded PKCS#11 text field (labels, PIN-less strings). */
static inline void ch_t_pad(CK_UTF8CHAR *field, size_t size, const char *s)
{
	size_t n = strlen(s);

	memset(field, ' ', size);
	memcpy(field, s, n < size ? n : size);
}

/* True when the blank-padded field holds exactly s. */
static inline bool ch_t_padded_is(const CK_UTF8CHAR *field, size_t size, const char *s)
{
	CK_UTF8CHAR want[64];

	if (size > sizeof(want))
		return false;
	ch_t_pad(want, size, s);
	return memcmp(field, want, size) == 0;
}

static inline int ch_t_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes a directory tree; a missing one is fine. */
static inline void ch_t_rm_rf(const char *dir)
{
	if (dir[0] != '\0')
		(void)nftw(dir, ch_t_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes a whole file (mode 0600).  Returns true on success. */
static inline bool ch_t_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, data, len) == (ssize_t)len;

	if (fd >= 0 && close(fd) != 0)
		ok = false;
	return ok;
}

/* Reads a whole file into a NUL-terminated buffer the caller frees; *len
 * gets its size.  NULL when it cannot be read (a missing file included). */
static inline unsigned char *ch_t_read_file(const char *path, size_t *len)
{
	unsigned char *buf = NULL, *nb;
	size_t n = 0, cap = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	for (;;) {
		if (cap - n < 4097) {
			cap = cap ? cap * 2 : 65536;
			if ((nb = realloc(buf, cap)) == NULL)
				goto fail;
			buf = nb;
		}
		if ((r = read(fd, buf + n, cap - n - 1)) < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (buf == NULL && (buf = malloc(1)) == NULL)
		return NULL;
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

/* True when needle occurs in hay (binary-safe). */
static inline bool ch_t_contains(const void *hay, size_t hlen, const void *needle, size_t nlen)
{
	return nlen != 0 && memmem(hay, hlen, needle, nlen) != NULL;
}

/* Hex of in (2n characters plus NUL in out), lower or upper case. */
static inline void ch_t_hex(const void *in, size_t n, char *out, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	const unsigned char *p = in;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Decodes a hex string (whitespace ignored) into out; returns the byte
 * count, or 0 when it is malformed or longer than max. */
static inline size_t ch_t_unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = 0;
	int hi = -1;

	for (; *s != '\0'; s++) {
		int v;

		if (*s == ' ' || *s == '\n' || *s == '\t')
			continue;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			return 0;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == max)
			return 0;
		out[n++] = (unsigned char)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 ? n : 0;
}

/* Makes a fresh directory and configuration and points the module at them
 * (setenv CIPHERHUB_STORE and CIPHERHUB_CONF).  The configuration holds the
 * cheap KDF, logging at level info to e->log, then extra (may be NULL).
 * Returns true on success. */
static inline bool ch_t_env_new_with(ch_t_env *e, const char *extra)
{
	const char *tmp = getenv("TMPDIR");
	char text[1024];
	int n;

	memset(e, 0, sizeof(*e));
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 120)
		tmp = "/tmp";
	snprintf(e->dir, sizeof(e->dir), "%s/ch-test-XXXXXX", tmp);
	if (mkdtemp(e->dir) == NULL) {
		fprintf(stderr, "mkdtemp %s: %s\n", e->dir, strerror(errno));
		e->dir[0] = '\0';
		return false;
	}
	snprintf(e->store, sizeof(e->store), "%s/store.db", e->dir);
	snprintf(e->conf, sizeof(e->conf), "%s/cipherhub.conf", e->dir);
	snprintf(e->log, sizeof(e->log), "%s/module.log", e->dir);
	n = snprintf(text, sizeof(text),
	             "[pin]\npbkdf2_iterations = 1000\n[log]\nlevel = info\nfile = %s\n%s", e->log,
	             extra != NULL ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(text) || !ch_t_write_file(e->conf, text, (size_t)n)) {
		fprintf(stderr, "cannot write %s\n", e->conf);
		return false;
	}
	setenv("CIPHERHUB_STORE", e->store, 1);
	setenv("CIPHERHUB_CONF", e->conf, 1);
	return true;
}

static inline bool ch_t_env_new(ch_t_env *e)
{
	return ch_t_env_new_with(e, NULL);
}

/* C_Initialize asking for OS locking, as a threaded application would. */
static inline CK_RV ch_t_initialize(void)
{
	CK_C_INITIALIZE_ARGS args;

	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	return P11->C_Initialize(&args);
}

/* Finalizes the module (if it is initialized), removes the directory and
 * the environment variables.  Accepts an env that was never set up. */
static inline void ch_t_env_free(ch_t_env *e)
{
	if (ch_p11 != NULL)
		(void)P11->C_Finalize(NULL);
	ch_t_rm_rf(e->dir);
	unsetenv("CIPHERHUB_STORE");
	unsetenv("CIPHERHUB_CONF");
	e->dir[0] = '\0';
}

/* The slot list (at most max entries) into ids; returns the count, or -1
 * when C_GetSlotList fails (printed). */
static inline long ch_t_slots(CK_SLOT_ID *ids, CK_ULONG max)
{
	CK_ULONG n = max;
	CK_RV rv = P11->C_GetSlotList(CK_FALSE, ids, &n);

	if (rv != CKR_OK) {
		fprintf(stderr, "C_GetSlotList: %s\n", ch_test_rv_name(rv));
		return -1;
	}
	return (long)n;
}

/* The first slot whose token is not initialized (the free slot).  CKR_OK,
 * CKR_SLOT_ID_INVALID when there is none, or the failing call's code. */
static inline CK_RV ch_t_free_slot(CK_SLOT_ID *out)
{
	CK_SLOT_ID ids[64];
	CK_TOKEN_INFO ti;
	long n = ch_t_slots(ids, 64);
	CK_RV rv;

	if (n < 0)
		return CKR_GENERAL_ERROR;
	for (long i = 0; i < n; i++) {
		if ((rv = P11->C_GetTokenInfo(ids[i], &ti)) != CKR_OK)
			return rv;
		if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
			*out = ids[i];
			return CKR_OK;
		}
	}
	return CKR_SLOT_ID_INVALID;
}

/* The slot whose initialized token has that label. */
static inline CK_RV ch_t_slot_by_label(const char *label, CK_SLOT_ID *out)
{
	CK_SLOT_ID ids[64];
	CK_TOKEN_INFO ti;
	long n = ch_t_slots(ids, 64);
	CK_RV rv;

	if (n < 0)
		return CKR_GENERAL_ERROR;
	for (long i = 0; i < n; i++) {
		if ((rv = P11->C_GetTokenInfo(ids[i], &ti)) != CKR_OK)
			return rv;
		if ((ti.flags & CKF_TOKEN_INITIALIZED) &&
		    ch_t_padded_is(ti.label, sizeof(ti.label), label)) {
			*out = ids[i];
			return CKR_OK;
		}
	}
	return CKR_SLOT_ID_INVALID;
}

/* Opens a session (read-write when rw). */
static inline CK_RV ch_t_open(CK_SLOT_ID slot, bool rw, CK_SESSION_HANDLE *h)
{
	CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);

	return P11->C_OpenSession(slot, flags, NULL, NULL, h);
}

static inline CK_RV ch_t_login(CK_SESSION_HANDLE h, CK_USER_TYPE who, const char *pin)
{
	return P11->C_Login(h, who, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
}

static inline CK_RV ch_t_login_user(CK_SESSION_HANDLE h)
{
	return ch_t_login(h, CKU_USER, CH_T_USER_PIN);
}

/* For a child process of a multi-process test: opens a read-write session
 * on the token CH_T_LABEL, logs the user in, then waits (at most about 5
 * seconds) for the file go, which the parent writes to start every child at
 * once.  False (printed) when the session or the login failed. */
static inline bool ch_t_child_session(const char *go, CK_SESSION_HANDLE *h)
{
	CK_SLOT_ID slot;
	struct stat sb;
	CK_RV rv;

	if ((rv = ch_t_slot_by_label(CH_T_LABEL, &slot)) != CKR_OK ||
	    (rv = ch_t_open(slot, true, h)) != CKR_OK || (rv = ch_t_login_user(*h)) != CKR_OK) {
		fprintf(stderr, "child %ld: session: %s\n", (long)getpid(), ch_test_rv_name(rv));
		return false;
	}
	for (int i = 0; i < 5000 && stat(go, &sb) != 0; i++)
		usleep(1000);
	return true;
}

/* Creates a registration on the free slot: C_InitToken with the SO PIN and
 * label, then (when with_user_pin) C_InitPIN with the user PIN from an SO
 * session, closed again.  *slot gets the token's slot.  The module must be
 * initialized.  Returns CKR_OK or the first failing call's code (printed). */
static inline CK_RV ch_t_make_token(const char *label, bool with_user_pin, CK_SLOT_ID *slot)
{
	CK_UTF8CHAR lab[32];
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_SLOT_ID free_slot;
	const char *step;
	CK_RV rv;

	ch_t_pad(lab, sizeof(lab), label);
	step = "free slot";
	if ((rv = ch_t_free_slot(&free_slot)) != CKR_OK)
		goto out;
	step = "C_InitToken";
	if ((rv = P11->C_InitToken(free_slot, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN),
	                           lab)) != CKR_OK)
		goto out;
	step = "slot by label";
	if ((rv = ch_t_slot_by_label(label, slot)) != CKR_OK)
		goto out;
	if (!with_user_pin)
		goto out;
	step = "C_OpenSession";
	if ((rv = ch_t_open(*slot, true, &h)) != CKR_OK)
		goto out;
	step = "C_Login(CKU_SO)";
	if ((rv = ch_t_login(h, CKU_SO, CH_T_SO_PIN)) != CKR_OK)
		goto out;
	step = "C_InitPIN";
	if ((rv = P11->C_InitPIN(h, (CK_UTF8CHAR_PTR)CH_T_USER_PIN, strlen(CH_T_USER_PIN))) !=
	    CKR_OK)
		goto out;
	step = "C_Logout";
	rv = P11->C_Logout(h);
out:
	if (h != CK_INVALID_HANDLE)
		(void)P11->C_CloseSession(h);
	if (rv != CKR_OK)
		fprintf(stderr, "making token \"%s\": %s: %s\n", label, step, ch_test_rv_name(rv));
	return rv;
}

/* The usual start of a test: fresh env (with extra configuration, may be
 * NULL), C_Initialize, token "t" with both PINs in e->slot.  Returns true on
 * success; on failure the caller still calls ch_t_env_free(). */
static inline bool ch_t_setup_with(ch_t_env *e, const char *extra)
{
	CK_RV rv;

	if (!ch_t_load() || !ch_t_env_new_with(e, extra))
		return false;
	if ((rv = ch_t_initialize()) != CKR_OK) {
		fprintf(stderr, "C_Initialize: %s\n", ch_test_rv_name(rv));
		return false;
	}
	return ch_t_make_token(CH_T_LABEL, true, &e->slot) == CKR_OK;
}

static inline bool ch_t_setup(ch_t_env *e)
{
	return ch_t_setup_with(e, NULL);
}

/* Opens a session on e's token and logs the user in. */
static inline CK_RV ch_t_user_session(const ch_t_env *e, bool rw, CK_SESSION_HANDLE *h)
{
	CK_RV rv = ch_t_open(e->slot, rw, h);

	if (rv == CKR_OK && (rv = ch_t_login_user(*h)) == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	return rv;
}

/* A whole search: C_FindObjectsInit, C_FindObjects until done (at most max
 * handles kept in out, which may be NULL when max is 0), C_FindObjectsFinal.
 * *count gets the number of objects found (all of them, kept or not). */
static inline CK_RV ch_t_find(CK_SESSION_HANDLE h, CK_ATTRIBUTE *t, CK_ULONG n,
                              CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count)
{
	CK_OBJECT_HANDLE chunk[16];
	CK_ULONG got;
	CK_RV rv;

	*count = 0;
	if ((rv = P11->C_FindObjectsInit(h, t, n)) != CKR_OK)
		return rv;
	do {
		if ((rv = P11->C_FindObjects(h, chunk, CH_T_ARRAY_LEN(chunk), &got)) != CKR_OK)
			break;
		for (CK_ULONG i = 0; i < got; i++, (*count)++)
			if (*count < max)
				out[*count] = chunk[i];
	} while (got != 0);
	if (rv == CKR_OK)
		rv = P11->C_FindObjectsFinal(h);
	else
		(void)P11->C_FindObjectsFinal(h);
	return rv;
}

/* Number of objects matching the template, or -1 when the search fails
 * (printed). */
static inline long ch_t_count(CK_SESSION_HANDLE h, CK_ATTRIBUTE *t, CK_ULONG n)
{
	CK_ULONG count;
	CK_RV rv = ch_t_find(h, t, n, NULL, 0, &count);

	if (rv != CKR_OK) {
		fprintf(stderr, "search: %s\n", ch_test_rv_name(rv));
		return -1;
	}
	return (long)count;
}

/* Number of objects with that label. */
static inline long ch_t_count_label(CK_SESSION_HANDLE h, const char *label)
{
	CK_ATTRIBUTE t[] = { CH_T_STR(CKA_LABEL, label) };

	return ch_t_count(h, t, 1);
}

/* Reads one attribute into buf (size *len in, value length out). */
static inline CK_RV ch_t_get(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
                             void *buf, CK_ULONG *len)
{
	CK_ATTRIBUTE a = { type, buf, *len };
	CK_RV rv = P11->C_GetAttributeValue(h, o, &a, 1);

	*len = a.ulValueLen;
	return rv;
}

/* Reads a CK_BBOOL attribute: 0 or 1, or -1 when it cannot be read. */
static inline int ch_t_get_bool(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL b = 0xAA;
	CK_ULONG len = sizeof(b);

	if (ch_t_get(h, o, type, &b, &len) != CKR_OK || len != 1 || b > 1)
		return -1;
	return b;
}

/* Creates a data object. */
static inline CK_RV ch_t_create_data(CK_SESSION_HANDLE h, bool token, bool priv, const char *label,
                                     const void *value, size_t vlen, CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_BOOL(CKA_TOKEN, token),
		CH_T_BOOL(CKA_PRIVATE, priv),
		CH_T_STR(CKA_LABEL, label),
		CH_T_STR(CKA_APPLICATION, "cipherhub-tests"),
		CH_T_ATTR(CKA_VALUE, value, vlen),
	};

	return P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), o);
}

/* Creates an AES key from a known value (16, 24 or 32 bytes), usable for
 * encryption and decryption. */
static inline CK_RV ch_t_create_aes(CK_SESSION_HANDLE h, bool token, bool priv, bool sensitive,
                                    bool extractable, const char *label, const CK_BYTE *key,
                                    CK_ULONG klen, CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),         CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, token),         CH_T_BOOL(CKA_PRIVATE, priv),
		CH_T_BOOL(CKA_SENSITIVE, sensitive), CH_T_BOOL(CKA_EXTRACTABLE, extractable),
		CH_T_BOOL(CKA_ENCRYPT, true),        CH_T_BOOL(CKA_DECRYPT, true),
		CH_T_STR(CKA_LABEL, label),          CH_T_ATTR(CKA_VALUE, key, klen),
	};

	return P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), o);
}

/* Generates a 256-bit AES key for encryption and decryption. */
static inline CK_RV ch_t_gen_aes(CK_SESSION_HANDLE h, bool token, const char *label,
                                 CK_OBJECT_HANDLE *o)
{
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG len = 32;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_BOOL(CKA_TOKEN, token),
		CH_T_BOOL(CKA_ENCRYPT, true),    CH_T_BOOL(CKA_DECRYPT, true),
		CH_T_STR(CKA_LABEL, label),
	};

	return P11->C_GenerateKey(h, &m, t, CH_T_ARRAY_LEN(t), o);
}

/* Generates a P-256 key pair for signing and verifying. */
static inline CK_RV ch_t_gen_ec(CK_SESSION_HANDLE h, bool token, const char *label,
                                CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt[] = {
		CH_T_ATTR(CKA_EC_PARAMS, ch_t_p256_params, sizeof(ch_t_p256_params)),
		CH_T_BOOL(CKA_TOKEN, token),
		CH_T_BOOL(CKA_VERIFY, true),
		CH_T_STR(CKA_LABEL, label),
	};
	CK_ATTRIBUTE st[] = {
		CH_T_BOOL(CKA_TOKEN, token),    CH_T_BOOL(CKA_PRIVATE, true),
		CH_T_BOOL(CKA_SENSITIVE, true), CH_T_BOOL(CKA_SIGN, true),
		CH_T_STR(CKA_LABEL, label),
	};

	return P11->C_GenerateKeyPair(h, &m, pt, CH_T_ARRAY_LEN(pt), st, CH_T_ARRAY_LEN(st), pub,
	                              priv);
}

/* AES-GCM with a 12-byte IV and a 128-bit tag; params must outlive the
 * operation's init call. */
static inline void ch_t_gcm(CK_MECHANISM *m, CK_GCM_PARAMS *p, CK_BYTE *iv, CK_BYTE *aad,
                            CK_ULONG aad_len)
{
	memset(p, 0, sizeof(*p));
	p->pIv = iv;
	p->ulIvLen = 12;
	p->ulIvBits = 96;
	p->pAAD = aad;
	p->ulAADLen = aad_len;
	p->ulTagBits = 128;
	m->mechanism = CKM_AES_GCM;
	m->pParameter = p;
	m->ulParameterLen = sizeof(*p);
}

/* One AES-GCM encryption (enc) or decryption of in into out under key, with
 * a fixed IV (1, 2, ... 12) and no AAD: the same IV decrypts what it
 * encrypted.  Returns the init's code when it fails, else the call's. */
static inline CK_RV ch_t_gcm_crypt(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, bool enc,
                                   const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                                   CK_ULONG *out_len)
{
	CK_BYTE iv[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	CK_RV rv;

	ch_t_gcm(&m, &p, iv, NULL, 0);
	rv = enc ? P11->C_EncryptInit(h, &m, key) : P11->C_DecryptInit(h, &m, key);
	if (rv != CKR_OK)
		return rv;
	return enc ? P11->C_Encrypt(h, (CK_BYTE_PTR)in, in_len, out, out_len)
	           : P11->C_Decrypt(h, (CK_BYTE_PTR)in, in_len, out, out_len);
}

/* True when e's store files (database and write-ahead log) hold the n
 * bytes of needle: what a test looks for to prove a secret is not stored in
 * the clear. */
static inline bool ch_t_store_holds(const ch_t_env *e, const void *needle, size_t n)
{
	const char *suffix[] = { "", "-wal" };
	bool found = false;

	for (size_t i = 0; i < 2; i++) {
		char path[300];
		size_t len = 0;
		unsigned char *raw;

		snprintf(path, sizeof(path), "%s%s", e->store, suffix[i]);
		if ((raw = ch_t_read_file(path, &len)) == NULL)
			continue;
		found = found || ch_t_contains(raw, len, needle, n);
		free(raw);
	}
	return found;
}

/* True when the log file holds needle. */
static inline bool ch_t_log_has(const ch_t_env *e, const char *needle)
{
	size_t len = 0;
	unsigned char *log = ch_t_read_file(e->log, &len);
	bool has = log != NULL && ch_t_contains(log, len, needle, strlen(needle));

	free(log);
	return has;
}

/* True when one line of text contains the word "error" and, as separate
 * numbers, both a and b (an object ID and its registration, say). */
static inline bool ch_t_text_has_error_line(const char *text, long a, long b)
{
	const char *line = text;

	while (line != NULL && *line != '\0') {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
		bool has_a = false, has_b = false;

		if (memmem(line, len, "error", 5) != NULL) {
			for (size_t i = 0; i < len; i++) {
				if (line[i] < '0' || line[i] > '9' ||
				    (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9'))
					continue;
				long v = strtol(line + i, NULL, 10);
				has_a = has_a || v == a;
				has_b = has_b || v == b;
			}
			if (has_a && has_b)
				return true;
		}
		line = end != NULL ? end + 1 : NULL;
	}
	return false;
}

/* The path of this test executable (for re-running itself as a child). */
static inline const char *ch_t_self(void)
{
	static char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	if (n <= 0)
		return NULL;
	path[n] = '\0';
	return path;
}

/* Starts this executable again with the given arguments (argv[0] is set
 * here; args ends with NULL) and the current environment.  Returns the
 * child's PID, or -1. */
static inline pid_t ch_t_spawn_self(char *const args[])
{
	const char *self = ch_t_self();
	char *argv[16];
	size_t n = 0;
	pid_t pid;

	if (self == NULL)
		return -1;
	argv[n++] = (char *)self;
	for (size_t i = 0; args[i] != NULL && n < CH_T_ARRAY_LEN(argv) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (posix_spawn(&pid, self, NULL, NULL, argv, environ) != 0)
		return -1;
	return pid;
}

/* Waits for a child; returns its exit status, or -1 when it did not exit
 * normally (a crash: reported with the signal). */
static inline int ch_t_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		fprintf(stderr, "child %ld killed by signal %d\n", (long)pid, WTERMSIG(st));
	return -1;
}

/* Runs a test file's table: loads the module, runs each test in order,
 * naming it first.  Returns ch_test_done()'s exit status. */
static inline int ch_t_run(const ch_t_case *cases, size_t n)
{
	if (!ch_t_load()) {
		CHECK(!"the module could not be loaded");
		return ch_test_done();
	}
	for (size_t i = 0; i < n; i++) {
		fprintf(stderr, "--- %s\n", cases[i].name);
		cases[i].fn();
	}
	return ch_test_done();
}

/* ---- Participants and roles (issue 3) ---------------------------------- */

/* The module's vendor table (C_GetInterface "Cipher Hub"), or NULL (printed).
 * Loads the module first when needed; the table lives as long as the process. */
static inline CH_FUNCTION_LIST_PTR ch_t_vendor(void)
{
	static CH_FUNCTION_LIST_PTR v;
	const char *path = getenv("CH_TEST_MODULE");
	CK_INTERFACE_PTR iface = NULL;
	CK_C_GetInterface get;
	void *lib;
	CK_RV rv;

	if (v != NULL)
		return v;
	if (!ch_t_load())
		return NULL;
	/* Already loaded by ch_t_load: this only takes another reference. */
	if ((lib = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    (get = (CK_C_GetInterface)dlsym(lib, "C_GetInterface")) == NULL) {
		fprintf(stderr, "no C_GetInterface in %s\n", path);
		return NULL;
	}
	rv = get((CK_UTF8CHAR_PTR)CH_INTERFACE_NAME, NULL, &iface, 0);
	if (rv != CKR_OK || iface == NULL || iface->pFunctionList == NULL) {
		fprintf(stderr, "C_GetInterface(\"%s\"): %s\n", CH_INTERFACE_NAME,
		        ch_test_rv_name(rv));
		return NULL;
	}
	v = (CH_FUNCTION_LIST_PTR)iface->pFunctionList;
	return v;
}

/* CH_ParticipantAdd with C strings (the vendor table must be available). */
static inline CK_RV ch_t_participant_add(CK_SESSION_HANDLE h, const char *name, CK_FLAGS roles,
                                         const char *pin)
{
	return ch_t_vendor()->CH_ParticipantAdd(h, (CK_UTF8CHAR_PTR)name, (CK_ULONG)strlen(name),
	                                        roles, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
}

/* C_LoginUser as participant name (NULL: C_Login with the bare PIN). */
static inline CK_RV ch_t_login_as(CK_SESSION_HANDLE h, CK_USER_TYPE who, const char *name,
                                  const char *pin)
{
	if (name == NULL)
		return ch_t_login(h, who, pin);
	return P11->C_LoginUser(h, who, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin),
	                        (CK_UTF8CHAR_PTR)name, (CK_ULONG)strlen(name));
}

/* The whole participant list of h's registration into list (at most max
 * entries); *n gets the count.  CKR_BUFFER_TOO_SMALL when there are more. */
static inline CK_RV ch_t_participants(CK_SESSION_HANDLE h, CH_PARTICIPANT_INFO *list, CK_ULONG max,
                                      CK_ULONG *n)
{
	*n = max;
	return ch_t_vendor()->CH_ParticipantList(h, list, n);
}

/* Finds name in h's participant list; *out gets its entry.  CKR_OK,
 * CKR_ARGUMENTS_BAD when it is not listed, or the list call's error. */
static inline CK_RV ch_t_participant_get(CK_SESSION_HANDLE h, const char *name,
                                         CH_PARTICIPANT_INFO *out)
{
	CH_PARTICIPANT_INFO list[64];
	CK_ULONG n;
	CK_RV rv = ch_t_participants(h, list, CH_T_ARRAY_LEN(list), &n);

	if (rv != CKR_OK)
		return rv;
	for (CK_ULONG i = 0; i < n; i++) {
		if (ch_t_padded_is(list[i].name, sizeof(list[i].name), name)) {
			*out = list[i];
			return CKR_OK;
		}
	}
	return CKR_ARGUMENTS_BAD;
}

/* The token flags of slot, or 0 when C_GetTokenInfo fails (printed). */
static inline CK_FLAGS ch_t_token_flags(CK_SLOT_ID slot)
{
	CK_TOKEN_INFO ti;
	CK_RV rv = P11->C_GetTokenInfo(slot, &ti);

	if (rv != CKR_OK) {
		fprintf(stderr, "C_GetTokenInfo(%lu): %s\n", (unsigned long)slot,
		        ch_test_rv_name(rv));
		return 0;
	}
	return ti.flags;
}

#endif
