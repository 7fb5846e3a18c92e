/*
 * tools/chbench.c: the speed benchmark of issue 6, for any PKCS#11 module.
 *
 * chbench loads a module with dlopen (or, with --raw, calls OpenSSL's EVP
 * API directly), makes its own fixtures, and runs each operation for a set
 * time on 1..N threads, one session per thread.  For each run it prints
 * ops/s, MB/s, p50 and p99 latency; at the end the process's peak RSS.
 * Every operation's result is checked once per run against OpenSSL
 * (signatures verified with the public key, ciphertexts decrypted back, MACs
 * recomputed), so a fast wrong answer fails the run (exit status 3).
 *
 * The keys are made by OpenSSL and imported with C_CreateObject, so the
 * module and the raw mode use the same keys and the checks need nothing
 * from the module but its outputs.  Raw mode is "the same operation with
 * the key already parsed and a fresh init per operation".
 *
 * Fixtures: with --init a fresh token is initialised on the first slot with
 * no token (label --token, SO PIN --so-pin, user PIN --pin); without it the
 * token labelled --token is used with --pin.  --objects N adds N public
 * token data objects (timed: the creation rate), then measures HMAC again
 * with them in the token (beside a run just before they went in) and a find
 * by label.  --cold measures, in a fresh
 * process, C_Initialize + open session + the first find (no login) and the
 * process's peak RSS.
 *
 * Output: human lines, and for tools/bench one machine line per result:
 *   R <op> <threads> <ops/s> <MB/s> <p50 us> <p99 us>
 *
 * The process is not a test: it asserts no timing, only correctness.
 */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cipherhub/pkcs11.h"

#define MAX_THREADS 16
#define BIG_LEN     (1024 * 1024)
#define SMALL_LEN   64
#define HIST_SUB    32 /* histogram buckets per power of two */
#define HIST_N      (64 * HIST_SUB)

/* ---- options and global state ------------------------------------------ */

static struct {
	const char *module;
	const char *token;
	const char *pin;
	const char *so_pin;
	double secs;
	int threads;
	long objects;
	bool raw, init, cold, quiet;
	const char *only; /* comma-separated operation names, or NULL for all */
} opt = { NULL, "chbench", "12345678", "87654321", 0.5, 2, 0, false, false, false, false, NULL };

static CK_FUNCTION_LIST *p11;
static CK_SLOT_ID slot;
static int failures;

/* The keys: OpenSSL's copy, and the module's handles. */
static EVP_PKEY *k_rsa, *k_ec, *k_ed;
static uint8_t k_hmac[32], k_aes[32];
static CK_OBJECT_HANDLE h_rsa, h_ec, h_ed, h_hmac, h_aes;

static uint8_t *big_in; /* BIG_LEN bytes of input */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what, CK_RV rv)
{
	fprintf(stderr, "chbench: %s failed: CKR 0x%lx\n", what, (unsigned long)rv);
	exit(2);
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "chbench: CHECK FAILED: %s\n", what);
		failures++;
	}
}

static long peak_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* ---- module loading and fixtures --------------------------------------- */

static void module_load(void)
{
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	CK_C_INITIALIZE_ARGS args = { 0 };
	void *dl = dlopen(opt.module, RTLD_NOW | RTLD_LOCAL);
	CK_RV rv;

	if (dl == NULL) {
		fprintf(stderr, "chbench: %s\n", dlerror());
		exit(2);
	}
	*(void **)&get = dlsym(dl, "C_GetFunctionList");
	if (get == NULL || get(&p11) != CKR_OK) {
		fprintf(stderr, "chbench: %s has no C_GetFunctionList\n", opt.module);
		exit(2);
	}
	args.flags = CKF_OS_LOCKING_OK;
	if ((rv = p11->C_Initialize(&args)) != CKR_OK)
		fail("C_Initialize", rv);
}

/* The slot of the token labelled opt.token, or with want_free the first
 * slot with no initialised token.  False when there is none. */
static bool slot_find(bool want_free)
{
	CK_SLOT_ID list[256];
	CK_ULONG n = 256;
	char label[33];
	size_t len = strlen(opt.token);
	CK_RV rv;

	if ((rv = p11->C_GetSlotList(CK_FALSE, list, &n)) != CKR_OK)
		fail("C_GetSlotList", rv);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;

		if (p11->C_GetTokenInfo(list[i], &ti) != CKR_OK)
			continue;
		if (want_free) {
			if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
				slot = list[i];
				return true;
			}
			continue;
		}
		memcpy(label, ti.label, 32);
		label[32] = 0;
		for (int j = 31; j >= 0 && label[j] == ' '; j--)
			label[j] = 0;
		if ((ti.flags & CKF_TOKEN_INITIALIZED) && strlen(label) == len &&
		    memcmp(label, opt.token, len) == 0) {
			slot = list[i];
			return true;
		}
	}
	return false;
}

static CK_SESSION_HANDLE session_open(void)
{
	CK_SESSION_HANDLE s;
	CK_RV rv;

	rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK)
		fail("C_OpenSession", rv);
	return s;
}

static void token_init(void)
{
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE s;
	CK_RV rv;

	if (!slot_find(true)) {
		fprintf(stderr, "chbench: no free slot to initialise a token on\n");
		exit(2);
	}
	memset(label, ' ', sizeof label);
	memcpy(label, opt.token, strlen(opt.token) < 32 ? strlen(opt.token) : 32);
	rv = p11->C_InitToken(slot, (CK_UTF8CHAR *)opt.so_pin, strlen(opt.so_pin), label);
	if (rv != CKR_OK)
		fail("C_InitToken", rv);
	/* Cipher Hub moves the new registration to a stable slot ID: find it
	 * again by label. */
	if (!slot_find(false)) {
		fprintf(stderr, "chbench: the new token is not in the slot list\n");
		exit(2);
	}
	s = session_open();
	if ((rv = p11->C_Login(s, CKU_SO, (CK_UTF8CHAR *)opt.so_pin, strlen(opt.so_pin))) != CKR_OK)
		fail("C_Login(SO)", rv);
	if ((rv = p11->C_InitPIN(s, (CK_UTF8CHAR *)opt.pin, strlen(opt.pin))) != CKR_OK)
		fail("C_InitPIN", rv);
	p11->C_Logout(s);
	p11->C_CloseSession(s);
}

/* The big-endian bytes of OpenSSL's BN parameter name of k, in buf. */
static CK_ULONG bn_param(const EVP_PKEY *k, const char *name, uint8_t *buf, size_t pad)
{
	BIGNUM *bn = NULL;
	int len;

	if (!EVP_PKEY_get_bn_param(k, name, &bn)) {
		fprintf(stderr, "chbench: no %s in key\n", name);
		exit(2);
	}
	len = pad ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
	BN_clear_free(bn);
	return (CK_ULONG)len;
}

static CK_OBJECT_HANDLE create(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n, const char *what)
{
	CK_OBJECT_HANDLE h;
	CK_RV rv;

	if ((rv = p11->C_CreateObject(s, t, n, &h)) != CKR_OK)
		fail(what, rv);
	return h;
}

static void keys_make(void)
{
	k_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	k_ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	k_ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k_rsa == NULL || k_ec == NULL || k_ed == NULL || RAND_bytes(k_hmac, 32) != 1 ||
	    RAND_bytes(k_aes, 32) != 1) {
		fprintf(stderr, "chbench: OpenSSL key generation failed\n");
		exit(2);
	}
}

/* Imports the keys into the token through session s (logged in). */
static void keys_import(CK_SESSION_HANDLE s)
{
	static CK_BBOOL yes = CK_TRUE;
	static CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY, secret = CKO_SECRET_KEY;
	static CK_KEY_TYPE rsa = CKK_RSA, ec = CKK_EC, ed = CKK_EC_EDWARDS,
	                   gen = CKK_GENERIC_SECRET, aes = CKK_AES;
	static const uint8_t p256[] = {
		0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
	};
	static const uint8_t ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
	uint8_t n[256], e[8], d[256], p[128], q[128], dp[128], dq[128], qi[128], v[32];
	size_t vlen = 32;

	CK_ATTRIBUTE rt[] = {
		{ CKA_CLASS, &priv, sizeof priv },
		{ CKA_KEY_TYPE, &rsa, sizeof rsa },
		{ CKA_TOKEN, &yes, 1 },
		{ CKA_PRIVATE, &yes, 1 },
		{ CKA_SENSITIVE, &yes, 1 },
		{ CKA_SIGN, &yes, 1 },
		{ CKA_LABEL, "bench-rsa", 9 },
		{ CKA_MODULUS, n, bn_param(k_rsa, OSSL_PKEY_PARAM_RSA_N, n, 0) },
		{ CKA_PUBLIC_EXPONENT, e, bn_param(k_rsa, OSSL_PKEY_PARAM_RSA_E, e, 0) },
		{ CKA_PRIVATE_EXPONENT, d, bn_param(k_rsa, OSSL_PKEY_PARAM_RSA_D, d, 256) },
		{ CKA_PRIME_1, p, bn_param(k_rsa, OSSL_PKEY_PARAM_RSA_FACTOR1, p, 0) },
		{ CKA_PRIME_2, q, bn_param(k_rsa, OSSL_PKEY_PARAM_RSA_FACTOR2, q, 0) },
		{ CKA_EXPONENT_1, dp, bn_param(k_rsa, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp, 0) },
		{ CKA_EXPONENT_2, dq, bn_param(k_rsa, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq, 0) },
		{ CKA_COEFFICIENT, qi, bn_param(k_rsa, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qi, 0) },
	};
	h_rsa = create(s, rt, sizeof rt / sizeof rt[0], "C_CreateObject(RSA)");
	OPENSSL_cleanse(d, sizeof d);

	CK_ATTRIBUTE et[] = {
		{ CKA_CLASS, &priv, sizeof priv },
		{ CKA_KEY_TYPE, &ec, sizeof ec },
		{ CKA_TOKEN, &yes, 1 },
		{ CKA_PRIVATE, &yes, 1 },
		{ CKA_SENSITIVE, &yes, 1 },
		{ CKA_SIGN, &yes, 1 },
		{ CKA_LABEL, "bench-ec", 8 },
		{ CKA_EC_PARAMS, (void *)p256, sizeof p256 },
		{ CKA_VALUE, v, bn_param(k_ec, OSSL_PKEY_PARAM_PRIV_KEY, v, 32) },
	};
	h_ec = create(s, et, sizeof et / sizeof et[0], "C_CreateObject(EC)");

	EVP_PKEY_get_raw_private_key(k_ed, v, &vlen);
	CK_ATTRIBUTE dt[] = {
		{ CKA_CLASS, &priv, sizeof priv },
		{ CKA_KEY_TYPE, &ed, sizeof ed },
		{ CKA_TOKEN, &yes, 1 },
		{ CKA_PRIVATE, &yes, 1 },
		{ CKA_SENSITIVE, &yes, 1 },
		{ CKA_SIGN, &yes, 1 },
		{ CKA_LABEL, "bench-ed25519", 13 },
		{ CKA_EC_PARAMS, (void *)ed25519, sizeof ed25519 },
		{ CKA_VALUE, v, vlen },
	};
	h_ed = create(s, dt, sizeof dt / sizeof dt[0], "C_CreateObject(Ed25519)");
	OPENSSL_cleanse(v, sizeof v);

	CK_ATTRIBUTE ht[] = {
		{ CKA_CLASS, &secret, sizeof secret },
		{ CKA_KEY_TYPE, &gen, sizeof gen },
		{ CKA_TOKEN, &yes, 1 },
		{ CKA_PRIVATE, &yes, 1 },
		{ CKA_SENSITIVE, &yes, 1 },
		{ CKA_SIGN, &yes, 1 },
		{ CKA_LABEL, "bench-hmac", 10 },
		{ CKA_VALUE, k_hmac, 32 },
	};
	h_hmac = create(s, ht, sizeof ht / sizeof ht[0], "C_CreateObject(HMAC)");

	CK_ATTRIBUTE at[] = {
		{ CKA_CLASS, &secret, sizeof secret },
		{ CKA_KEY_TYPE, &aes, sizeof aes },
		{ CKA_TOKEN, &yes, 1 },
		{ CKA_PRIVATE, &yes, 1 },
		{ CKA_SENSITIVE, &yes, 1 },
		{ CKA_ENCRYPT, &yes, 1 },
		{ CKA_LABEL, "bench-aes", 9 },
		{ CKA_VALUE, k_aes, 32 },
	};
	h_aes = create(s, at, sizeof at / sizeof at[0], "C_CreateObject(AES)");
}

static void object_label(long i, char *buf, size_t len)
{
	snprintf(buf, len, "bench-obj-%08ld", i);
}

/* Adds opt.objects public token data objects; reports the creation rate
 * over the first and last tenth, and overall. */
static void objects_add(CK_SESSION_HANDLE s)
{
	static CK_OBJECT_CLASS data = CKO_DATA;
	static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	long n = opt.objects, tenth = n / 10 > 0 ? n / 10 : 1;
	double t0 = now(), tt = t0, first = 0;
	char label[32], value[16] = "bench-value";

	for (long i = 0; i < n; i++) {
		CK_ATTRIBUTE t[] = {
			{ CKA_CLASS, &data, sizeof data },
			{ CKA_TOKEN, &yes, 1 },
			{ CKA_PRIVATE, &no, 1 },
			{ CKA_LABEL, label, 0 },
			{ CKA_VALUE, value, sizeof value },
		};
		object_label(i, label, sizeof label);
		t[3].ulValueLen = strlen(label);
		create(s, t, 5, "C_CreateObject(data)");
		if (i + 1 == tenth)
			first = tenth / (now() - t0);
		if (i + 1 == n - tenth)
			tt = now();
	}
	double all = now() - t0;
	double last = n > 1 ? tenth / (now() - tt) : first;

	printf("create %ld token objects: %.0f/s overall, first tenth %.0f/s, last tenth %.0f/s\n",
	       n, n / all, first, last);
	printf("R create 1 %.1f 0 0 0\n", n / all);
	printf("R create_last 1 %.1f 0 0 0\n", last);
}

/* ---- the operations ----------------------------------------------------- */

typedef struct worker {
	CK_SESSION_HANDLE s;
	const struct op *op;
	double until;
	uint64_t count;
	uint32_t hist[HIST_N];
	uint8_t out[BIG_LEN + 64];
	long idx; /* for find: which label next */
	bool checked;
	int bad;
} worker;

typedef struct op {
	const char *name;
	size_t bytes; /* processed per operation, for MB/s */
	bool sign;    /* runs on 1..N threads */
	/* One operation; check set: verify the result too. */
	bool (*p11)(worker *w, bool check);
	bool (*raw)(worker *w, bool check);
} op;

static const uint8_t msg64[SMALL_LEN] =
        "chbench: sixty-four bytes of message to sign, mac or encrypt..";
static const uint8_t iv12[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static bool verify_sig(EVP_PKEY *k, const EVP_MD *md, const uint8_t *m, size_t mlen,
                       const uint8_t *sig, size_t slen, bool prehashed)
{
	bool ok = false;

	if (prehashed) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
		uint8_t der[80];
		unsigned char *pp = der;
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *r, *s;
		int dlen;

		/* CKM_ECDSA gives r || s; OpenSSL verifies DER. */
		r = BN_bin2bn(sig, (int)slen / 2, NULL);
		s = BN_bin2bn(sig + slen / 2, (int)slen / 2, NULL);
		ECDSA_SIG_set0(es, r, s);
		dlen = i2d_ECDSA_SIG(es, &pp);
		ok = c != NULL && EVP_PKEY_verify_init(c) == 1 &&
		     EVP_PKEY_verify(c, der, (size_t)dlen, m, mlen) == 1;
		ECDSA_SIG_free(es);
		EVP_PKEY_CTX_free(c);
		return ok;
	}
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	ok = c != NULL && EVP_DigestVerifyInit(c, NULL, md, NULL, k) == 1 &&
	     EVP_DigestVerify(c, sig, slen, m, mlen) == 1;
	EVP_MD_CTX_free(c);
	return ok;
}

static bool p11_sign(worker *w, CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key, const uint8_t *m,
                     size_t mlen, CK_ULONG *slen)
{
	CK_MECHANISM mm = { mech, NULL, 0 };
	CK_RV rv;

	*slen = sizeof w->out;
	if ((rv = p11->C_SignInit(w->s, &mm, key)) != CKR_OK ||
	    (rv = p11->C_Sign(w->s, (CK_BYTE *)m, mlen, w->out, slen)) != CKR_OK) {
		fprintf(stderr, "chbench: sign 0x%lx: CKR 0x%lx\n", (unsigned long)mech,
		        (unsigned long)rv);
		return false;
	}
	return true;
}

static bool p11_rsa(worker *w, bool chk)
{
	CK_ULONG n;

	if (!p11_sign(w, CKM_SHA256_RSA_PKCS, h_rsa, msg64, SMALL_LEN, &n))
		return false;
	return !chk || verify_sig(k_rsa, EVP_sha256(), msg64, SMALL_LEN, w->out, n, false);
}

static bool p11_ecdsa(worker *w, bool chk)
{
	CK_ULONG n;

	if (!p11_sign(w, CKM_ECDSA, h_ec, msg64, 32, &n))
		return false;
	return !chk || verify_sig(k_ec, NULL, msg64, 32, w->out, n, true);
}

static bool p11_ed(worker *w, bool chk)
{
	CK_ULONG n;

	if (!p11_sign(w, CKM_EDDSA, h_ed, msg64, SMALL_LEN, &n))
		return false;
	return !chk || verify_sig(k_ed, NULL, msg64, SMALL_LEN, w->out, n, false);
}

static bool hmac_ok(const uint8_t *tag, size_t len)
{
	uint8_t want[32];
	size_t wl = 0;

	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k_hmac, 32, msg64, SMALL_LEN, want,
	              sizeof want, &wl) == NULL)
		return false;
	return len == wl && memcmp(tag, want, wl) == 0;
}

static bool p11_hmac(worker *w, bool chk)
{
	CK_ULONG n;

	if (!p11_sign(w, CKM_SHA256_HMAC, h_hmac, msg64, SMALL_LEN, &n))
		return false;
	return !chk || hmac_ok(w->out, n);
}

/* True when ct||tag (len bytes with the tag) decrypts back to in under
 * k_aes and iv12. */
static bool gcm_ok(const uint8_t *in, size_t inlen, const uint8_t *ct, size_t len)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t *pt = malloc(inlen + 16);
	int n = 0, f = 0;
	bool ok;

	ok = c != NULL && pt != NULL && len == inlen + 16 &&
	     EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, k_aes, iv12) == 1 &&
	     EVP_DecryptUpdate(c, pt, &n, ct, (int)inlen) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(ct + inlen)) == 1 &&
	     EVP_DecryptFinal_ex(c, pt + n, &f) == 1 && (size_t)(n + f) == inlen &&
	     memcmp(pt, in, inlen) == 0;
	EVP_CIPHER_CTX_free(c);
	free(pt);
	return ok;
}

static bool p11_gcm(worker *w, const uint8_t *in, size_t len, bool chk)
{
	CK_GCM_PARAMS gp = { (CK_BYTE *)iv12, 12, 96, NULL, 0, 128 };
	CK_MECHANISM mm = { CKM_AES_GCM, &gp, sizeof gp };
	CK_ULONG n = sizeof w->out;
	CK_RV rv;

	if ((rv = p11->C_EncryptInit(w->s, &mm, h_aes)) != CKR_OK ||
	    (rv = p11->C_Encrypt(w->s, (CK_BYTE *)in, len, w->out, &n)) != CKR_OK) {
		fprintf(stderr, "chbench: AES-GCM encrypt: CKR 0x%lx\n", (unsigned long)rv);
		return false;
	}
	return !chk || gcm_ok(in, len, w->out, n);
}

static bool p11_gcm64(worker *w, bool chk)
{
	return p11_gcm(w, msg64, SMALL_LEN, chk);
}

static bool p11_gcm1m(worker *w, bool chk)
{
	return p11_gcm(w, big_in, BIG_LEN, chk);
}

static bool p11_find(worker *w, bool chk)
{
	static CK_OBJECT_CLASS data = CKO_DATA;
	char label[32];
	CK_OBJECT_HANDLE h[2];
	CK_ULONG n = 0;
	CK_RV rv;

	/* A different object each time, spread over the whole range. */
	w->idx = (w->idx + 7919) % opt.objects;
	object_label(w->idx, label, sizeof label);
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &data, sizeof data },
		             { CKA_LABEL, label, strlen(label) } };
	if ((rv = p11->C_FindObjectsInit(w->s, t, 2)) != CKR_OK ||
	    (rv = p11->C_FindObjects(w->s, h, 2, &n)) != CKR_OK ||
	    (rv = p11->C_FindObjectsFinal(w->s)) != CKR_OK) {
		fprintf(stderr, "chbench: find: CKR 0x%lx\n", (unsigned long)rv);
		return false;
	}
	if (chk) {
		char got[32] = { 0 };
		CK_ATTRIBUTE g = { CKA_LABEL, got, sizeof got - 1 };

		return n == 1 && p11->C_GetAttributeValue(w->s, h[0], &g, 1) == CKR_OK &&
		       g.ulValueLen == strlen(label) && memcmp(got, label, g.ulValueLen) == 0;
	}
	return n == 1;
}

/* Raw: the same operations on EVP with the parsed key, fresh init each. */
static bool raw_digest_sign(worker *w, EVP_PKEY *k, const EVP_MD *md, size_t *slen)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	bool ok;

	*slen = sizeof w->out;
	ok = c != NULL && EVP_DigestSignInit(c, NULL, md, NULL, k) == 1 &&
	     EVP_DigestSign(c, w->out, slen, msg64, SMALL_LEN) == 1;
	EVP_MD_CTX_free(c);
	return ok;
}

static bool raw_rsa(worker *w, bool chk)
{
	size_t n;

	if (!raw_digest_sign(w, k_rsa, EVP_sha256(), &n))
		return false;
	return !chk || verify_sig(k_rsa, EVP_sha256(), msg64, SMALL_LEN, w->out, n, false);
}

static bool raw_ed(worker *w, bool chk)
{
	size_t n;

	if (!raw_digest_sign(w, k_ed, NULL, &n))
		return false;
	return !chk || verify_sig(k_ed, NULL, msg64, SMALL_LEN, w->out, n, false);
}

static bool raw_ecdsa(worker *w, bool chk)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k_ec, NULL);
	size_t n = sizeof w->out;
	bool ok;

	ok = c != NULL && EVP_PKEY_sign_init(c) == 1 &&
	     EVP_PKEY_sign(c, w->out, &n, msg64, 32) == 1;
	EVP_PKEY_CTX_free(c);
	if (ok && chk) {
		EVP_PKEY_CTX *v = EVP_PKEY_CTX_new(k_ec, NULL);

		ok = v != NULL && EVP_PKEY_verify_init(v) == 1 &&
		     EVP_PKEY_verify(v, w->out, n, msg64, 32) == 1;
		EVP_PKEY_CTX_free(v);
	}
	return ok;
}

static EVP_MAC *hmac_alg;

static bool raw_hmac(worker *w, bool chk)
{
	EVP_MAC_CTX *c = EVP_MAC_CTX_new(hmac_alg);
	OSSL_PARAM p[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		           OSSL_PARAM_construct_end() };
	size_t n = 0;
	bool ok;

	ok = c != NULL && EVP_MAC_init(c, k_hmac, 32, p) == 1 &&
	     EVP_MAC_update(c, msg64, SMALL_LEN) == 1 && EVP_MAC_final(c, w->out, &n, 32) == 1;
	EVP_MAC_CTX_free(c);
	return ok && (!chk || hmac_ok(w->out, n));
}

static bool raw_gcm(worker *w, const uint8_t *in, size_t len, bool chk)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, f = 0;
	bool ok;

	ok = c != NULL && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, k_aes, iv12) == 1 &&
	     EVP_EncryptUpdate(c, w->out, &n, in, (int)len) == 1 &&
	     EVP_EncryptFinal_ex(c, w->out + n, &f) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, w->out + n + f) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok && (!chk || gcm_ok(in, len, w->out, (size_t)(n + f) + 16));
}

static bool raw_gcm64(worker *w, bool chk)
{
	return raw_gcm(w, msg64, SMALL_LEN, chk);
}

static bool raw_gcm1m(worker *w, bool chk)
{
	return raw_gcm(w, big_in, BIG_LEN, chk);
}

static const op ops[] = {
	{ "rsa2048_sign", SMALL_LEN, true, p11_rsa, raw_rsa },
	{ "ecdsa_p256_sign", 32, true, p11_ecdsa, raw_ecdsa },
	{ "ed25519_sign", SMALL_LEN, true, p11_ed, raw_ed },
	{ "hmac_sha256_64", SMALL_LEN, false, p11_hmac, raw_hmac },
	{ "aes_gcm_64", SMALL_LEN, false, p11_gcm64, raw_gcm64 },
	{ "aes_gcm_1m", BIG_LEN, false, p11_gcm1m, raw_gcm1m },
};
static const op op_find = { "find_label", 0, false, p11_find, NULL };

/* ---- the runner ---------------------------------------------------------- */

static void hist_add(worker *w, double secs)
{
	double ns = secs * 1e9;
	int b = ns < 1 ? 0 : (int)(log2(ns) * HIST_SUB);

	w->hist[b < HIST_N ? b : HIST_N - 1]++;
}

/* The latency (us) below which a fraction q of the samples fall. */
static double hist_q(const uint32_t *h, uint64_t total, double q)
{
	uint64_t want = (uint64_t)ceil(q * (double)total), seen = 0;

	for (int b = 0; b < HIST_N; b++) {
		seen += h[b];
		if (seen >= want && want > 0)
			return pow(2.0, (b + 0.5) / HIST_SUB) / 1e3;
	}
	return 0;
}

static void *worker_run(void *arg)
{
	worker *w = arg;
	bool (*fn)(worker *, bool) = opt.raw ? w->op->raw : w->op->p11;

	/* The result check first, untimed. */
	if (!fn(w, true))
		w->bad++;
	while (!w->bad) {
		double t0 = now(), t1;

		if (!fn(w, false)) {
			w->bad++;
			break;
		}
		t1 = now();
		hist_add(w, t1 - t0);
		w->count++;
		if (t1 >= w->until)
			break;
	}
	return NULL;
}

static bool selected(const char *name)
{
	const char *p = opt.only;
	size_t len = strlen(name);

	if (p == NULL)
		return true;
	while (p != NULL && *p) {
		if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == 0))
			return true;
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	return false;
}

/* Runs o on nthreads threads for opt.secs; suffix names the run. */
static void run(const op *o, int nthreads, const char *suffix)
{
	static worker *w[MAX_THREADS];
	static uint32_t hist[HIST_N];
	pthread_t th[MAX_THREADS];
	uint64_t total = 0;
	double t0, el;
	int bad = 0;

	for (int i = 0; i < nthreads; i++) {
		if (w[i] == NULL && (w[i] = malloc(sizeof *w[i])) == NULL)
			exit(2);
		memset(w[i]->hist, 0, sizeof w[i]->hist);
		w[i]->op = o;
		w[i]->count = 0;
		w[i]->bad = 0;
		w[i]->idx = i * 104729L;
		w[i]->s = opt.raw ? 0 : session_open();
	}
	t0 = now();
	for (int i = 0; i < nthreads; i++) {
		w[i]->until = t0 + opt.secs;
		pthread_create(&th[i], NULL, worker_run, w[i]);
	}
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	el = now() - t0;
	memset(hist, 0, sizeof hist);
	for (int i = 0; i < nthreads; i++) {
		total += w[i]->count;
		bad += w[i]->bad;
		for (int b = 0; b < HIST_N; b++)
			hist[b] += w[i]->hist[b];
		if (!opt.raw)
			p11->C_CloseSession(w[i]->s);
	}
	char name[64];

	snprintf(name, sizeof name, "%s%s", o->name, suffix);
	check(bad == 0, name);
	double rate = total / el;
	printf("%-22s threads %2d  %10.1f ops/s  %9.2f MB/s  p50 %9.1f us  p99 %9.1f us%s\n", name,
	       nthreads, rate, rate * o->bytes / 1e6, hist_q(hist, total, 0.5),
	       hist_q(hist, total, 0.99), bad ? "  RESULT CHECK FAILED" : "");
	printf("R %s %d %.1f %.3f %.2f %.2f\n", name, nthreads, rate, rate * o->bytes / 1e6,
	       hist_q(hist, total, 0.5), hist_q(hist, total, 0.99));
	fflush(stdout);
}

static void run_ops(const char *suffix, bool threads)
{
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		if (!selected(ops[i].name))
			continue;
		run(&ops[i], 1, suffix);
		if (threads && ops[i].sign)
			for (int t = 2; t <= opt.threads; t++)
				run(&ops[i], t, suffix);
	}
}

/* --cold: C_Initialize, open a session, find one object by label, no
 * login; the time of all three and the peak RSS. */
static int cold(void)
{
	worker *w = calloc(1, sizeof *w);
	double t0 = now();

	module_load();
	if (!slot_find(false)) {
		fprintf(stderr, "chbench: no token labelled %s\n", opt.token);
		return 2;
	}
	w->s = session_open();
	w->idx = opt.objects / 2 - 7919;
	bool ok = p11_find(w, false);
	double el = now() - t0;

	check(ok, "cold find");
	printf("cold start (C_Initialize + C_OpenSession + first find, %ld objects): %.2f ms, "
	       "peak RSS %ld KiB\n",
	       opt.objects, el * 1e3, peak_rss_kib());
	printf("R cold_start 1 0 0 %.2f %.2f\n", el * 1e6, el * 1e6);
	printf("R rss_cold 1 %ld 0 0 0\n", peak_rss_kib());
	p11->C_CloseSession(w->s);
	p11->C_Finalize(NULL);
	free(w);
	return failures ? 3 : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: chbench (--module PATH | --raw) [options]\n"
	           "  --module PATH   the PKCS#11 module to load\n"
	           "  --raw           run the operations on OpenSSL directly\n"
	           "  --init          initialise a fresh token on a free slot\n"
	           "  --token LABEL   token label (default chbench)\n"
	           "  --pin PIN       user PIN (default 12345678)\n"
	           "  --so-pin PIN    SO PIN for --init (default 87654321)\n"
	           "  --time SECS     seconds per run (default 0.5)\n"
	           "  --threads N     sign operations also on 2..N threads (default 2)\n"
	           "  --objects N     add N token objects, then find by label and HMAC again\n"
	           "  --cold          with --objects N of an existing token: cold start and RSS\n"
	           "  --ops A,B       only these operations (names as printed)\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "module", required_argument, NULL, 'm' },
		                            { "raw", no_argument, NULL, 'r' },
		                            { "init", no_argument, NULL, 'i' },
		                            { "token", required_argument, NULL, 't' },
		                            { "pin", required_argument, NULL, 'p' },
		                            { "so-pin", required_argument, NULL, 's' },
		                            { "time", required_argument, NULL, 'T' },
		                            { "threads", required_argument, NULL, 'n' },
		                            { "objects", required_argument, NULL, 'o' },
		                            { "cold", no_argument, NULL, 'c' },
		                            { "ops", required_argument, NULL, 'O' },
		                            { "help", no_argument, NULL, 'h' },
		                            { NULL, 0, NULL, 0 } };
	CK_SESSION_HANDLE s = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			opt.module = optarg;
			break;
		case 'r':
			opt.raw = true;
			break;
		case 'i':
			opt.init = true;
			break;
		case 't':
			opt.token = optarg;
			break;
		case 'p':
			opt.pin = optarg;
			break;
		case 's':
			opt.so_pin = optarg;
			break;
		case 'T':
			opt.secs = atof(optarg);
			break;
		case 'n':
			opt.threads = atoi(optarg);
			break;
		case 'o':
			opt.objects = atol(optarg);
			break;
		case 'c':
			opt.cold = true;
			break;
		case 'O':
			opt.only = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if ((opt.module == NULL) == !opt.raw || opt.threads < 1 || opt.threads > MAX_THREADS ||
	    opt.secs <= 0 || opt.objects < 0 || (opt.cold && (opt.raw || opt.objects < 1))) {
		usage(stderr);
		return 1;
	}
	if (opt.cold)
		return cold();
	if ((big_in = malloc(BIG_LEN)) == NULL || RAND_bytes(big_in, BIG_LEN) != 1)
		return 2;
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	keys_make();
	printf("chbench: %s, %.2f s per run, up to %d threads\n",
	       opt.raw ? "raw OpenSSL" : opt.module, opt.secs, opt.threads);
	if (!opt.raw) {
		module_load();
		if (opt.init)
			token_init();
		else if (!slot_find(false)) {
			fprintf(stderr, "chbench: no token labelled %s\n", opt.token);
			return 2;
		}
		s = session_open();
		double t0 = now();
		CK_RV rv = p11->C_Login(s, CKU_USER, (CK_UTF8CHAR *)opt.pin, strlen(opt.pin));

		if (rv != CKR_OK)
			fail("C_Login", rv);
		printf("login (PIN KDF): %.1f ms\n", (now() - t0) * 1e3);
		printf("R login 1 0 0 %.1f %.1f\n", (now() - t0) * 1e6, (now() - t0) * 1e6);
		keys_import(s);
	}
	run_ops("", true);
	if (!opt.raw && opt.objects > 0) {
		/* HMAC just before and just after the objects go in (as
		 * hmac_sha256_64@0 and @N), so that the two runs compared are as
		 * close in time, and so in machine load, as they can be. */
		bool hmac = selected("hmac_sha256_64");
		char suffix[32];

		if (hmac)
			run(&ops[3], 1, "@0");
		objects_add(s);
		if (hmac) {
			snprintf(suffix, sizeof suffix, "@%ld", opt.objects);
			run(&ops[3], 1, suffix);
		}
		run(&op_find, 1, "");
	}
	printf("peak RSS: %ld KiB\n", peak_rss_kib());
	printf("R rss 1 %ld 0 0 0\n", peak_rss_kib());
	if (!opt.raw) {
		p11->C_Logout(s);
		p11->C_CloseSession(s);
		p11->C_Finalize(NULL);
	}
	EVP_PKEY_free(k_rsa);
	EVP_PKEY_free(k_ec);
	EVP_PKEY_free(k_ed);
	EVP_MAC_free(hmac_alg);
	OPENSSL_cleanse(k_hmac, sizeof k_hmac);
	OPENSSL_cleanse(k_aes, sizeof k_aes);
	free(big_in);
	if (failures) {
		fprintf(stderr, "chbench: %d result check(s) failed\n", failures);
		return 3;
	}
	return 0;
}
