/*
 * An HSM as the root of trust of a software registration ([root:NAME],
 * token/soft_root.c), with Debian's SoftHSMv2 as the HSM: its own
 * SOFTHSM2_CONF and token directory under the test's directory.  The HSM's
 * token and its AES keys are made (and destroyed) by child processes of this
 * executable that call SoftHSM's PKCS#11 API directly, so the test process
 * itself only ever reaches SoftHSM through the built module.
 *
 * What it proves: a registration created under [root:NAME] keeps working
 * across C_Finalize / C_Initialize; it refuses to open (CKR_DEVICE_ERROR, not
 * a wrong PIN, the failure count unchanged) when the HSM key is gone, is the
 * wrong key, or the module is missing; with the section removed the store
 * file plus a PIN give a registration key that opens none of its objects,
 * while that key with the HSM's secret (the documented HKDF) opens them all;
 * a registration without a root beside it keeps working throughout; SO
 * re-initialization goes through the HSM too; a registration is not created
 * when its HSM cannot be reached; a section added later, or naming a
 * forwarded registration, binds nothing; the HSM's token going and coming
 * back needs no restart; and a schema-2 store migrates.
 */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sqlite3.h>

#include "module.h"
#include "objstore.h"
#include "store.h"

#define SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define HSM_TOKEN      "ch-root-hsm"
#define HSM_SO_PIN     "hsm-so-pin-4711"
#define HSM_USER_PIN   "hsm-user-pin-0815"
#define HSM_KEY        "ch-root"
#define HSM_OTHER_KEY  "ch-other"
#define ROOTED         "rooted"
#define PLAIN          "plain"

/* SoftHSM keeps some allocations of its own until the process ends. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libsofthsm2.so\n";
}

/* ---- SoftHSM, directly (child processes only) ---- */

static CK_FUNCTION_LIST *hsm_fn(void)
{
	CK_C_GetFunctionList get;
	CK_FUNCTION_LIST *fn = NULL;
	void *dl = dlopen(SOFTHSM_MODULE, RTLD_NOW | RTLD_LOCAL);

	if (dl == NULL) {
		fprintf(stderr, "dlopen %s: %s\n", SOFTHSM_MODULE, dlerror());
		return NULL;
	}
	*(void **)&get = dlsym(dl, "C_GetFunctionList");
	if (get == NULL || get(&fn) != CKR_OK || fn->C_Initialize(NULL) != CKR_OK)
		return NULL;
	return fn;
}

/* The slot of the initialized token HSM_TOKEN, or (uninitialized) the
 * first slot with an uninitialized token. */
static bool hsm_slot(CK_FUNCTION_LIST *fn, bool initialized, CK_SLOT_ID *out)
{
	CK_SLOT_ID list[16];
	CK_ULONG n = 16;

	if (fn->C_GetSlotList(CK_TRUE, list, &n) != CKR_OK)
		return false;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;

		if (fn->C_GetTokenInfo(list[i], &ti) != CKR_OK)
			continue;
		if (!initialized && !(ti.flags & CKF_TOKEN_INITIALIZED)) {
			*out = list[i];
			return true;
		}
		if (initialized && (ti.flags & CKF_TOKEN_INITIALIZED) &&
		    ch_t_padded_is(ti.label, sizeof(ti.label), HSM_TOKEN)) {
			*out = list[i];
			return true;
		}
	}
	return false;
}

/* A user session on the HSM's token. */
static bool hsm_user_session(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE *s)
{
	CK_SLOT_ID slot;

	return hsm_slot(fn, true, &slot) &&
	       fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s) ==
	               CKR_OK &&
	       fn->C_Login(*s, CKU_USER, (CK_UTF8CHAR_PTR)HSM_USER_PIN, strlen(HSM_USER_PIN)) ==
	               CKR_OK;
}

static bool hsm_gen_aes(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE s, const char *label)
{
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG len = 32;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &len),   CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_PRIVATE, true),      CH_T_BOOL(CKA_SENSITIVE, true),
		CH_T_BOOL(CKA_EXTRACTABLE, false), CH_T_BOOL(CKA_ENCRYPT, true),
		CH_T_BOOL(CKA_DECRYPT, true),      CH_T_STR(CKA_LABEL, label),
	};
	CK_OBJECT_HANDLE k;

	return fn->C_GenerateKey(s, &m, t, CH_T_ARRAY_LEN(t), &k) == CKR_OK;
}

static bool hsm_find(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE s, const char *label,
                     CK_OBJECT_HANDLE *k)
{
	CK_ATTRIBUTE t[] = { CH_T_STR(CKA_LABEL, label) };
	CK_ULONG n = 0;

	if (fn->C_FindObjectsInit(s, t, 1) != CKR_OK)
		return false;
	(void)fn->C_FindObjects(s, k, 1, &n);
	(void)fn->C_FindObjectsFinal(s);
	return n == 1;
}

/* Child: the token HSM_TOKEN with its two AES keys. */
static int child_setup(void)
{
	CK_FUNCTION_LIST *fn = hsm_fn();
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE s;
	CK_SLOT_ID slot;

	ch_t_pad(label, sizeof(label), HSM_TOKEN);
	if (fn == NULL || !hsm_slot(fn, false, &slot) ||
	    fn->C_InitToken(slot, (CK_UTF8CHAR_PTR)HSM_SO_PIN, strlen(HSM_SO_PIN), label) !=
	            CKR_OK ||
	    !hsm_slot(fn, true, &slot) ||
	    fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) !=
	            CKR_OK ||
	    fn->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)HSM_SO_PIN, strlen(HSM_SO_PIN)) != CKR_OK ||
	    fn->C_InitPIN(s, (CK_UTF8CHAR_PTR)HSM_USER_PIN, strlen(HSM_USER_PIN)) != CKR_OK ||
	    fn->C_Logout(s) != CKR_OK || fn->C_CloseSession(s) != CKR_OK ||
	    !hsm_user_session(fn, &s) || !hsm_gen_aes(fn, s, HSM_KEY) ||
	    !hsm_gen_aes(fn, s, HSM_OTHER_KEY))
		return 1;
	fn->C_CloseSession(s);
	fn->C_Finalize(NULL);
	return 0;
}

/* Child: destroys the root key. */
static int child_destroy(void)
{
	CK_FUNCTION_LIST *fn = hsm_fn();
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE k;

	if (fn == NULL || !hsm_user_session(fn, &s) || !hsm_find(fn, s, HSM_KEY, &k) ||
	    fn->C_DestroyObject(s, k) != CKR_OK || hsm_find(fn, s, HSM_KEY, &k))
		return 1;
	fn->C_CloseSession(s);
	fn->C_Finalize(NULL);
	return 0;
}

/* Child: decrypts a stored root (hex IV||ct||tag, hex UUID) as the HSM's
 * holder can, writing the secret's hex to file out. */
static int child_decrypt(const char *blob_hex, const char *uuid_hex, const char *out)
{
	CK_FUNCTION_LIST *fn = hsm_fn();
	uint8_t blob[CH_ROOT_BLOB_LEN], uuid[CH_UUID_LEN], secret[64];
	CK_ULONG len = sizeof(secret);
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE k;
	char hex[2 * sizeof(secret) + 1];

	if (fn == NULL || ch_t_unhex(blob_hex, blob, sizeof(blob)) != sizeof(blob) ||
	    ch_t_unhex(uuid_hex, uuid, sizeof(uuid)) != sizeof(uuid))
		return 1;
	ch_t_gcm(&m, &p, blob, uuid, sizeof(uuid));
	if (!hsm_user_session(fn, &s) || !hsm_find(fn, s, HSM_KEY, &k) ||
	    fn->C_DecryptInit(s, &m, k) != CKR_OK ||
	    fn->C_Decrypt(s, blob + 12, sizeof(blob) - 12, secret, &len) != CKR_OK || len != 32)
		return 1;
	ch_t_hex(secret, len, hex, false);
	fn->C_CloseSession(s);
	fn->C_Finalize(NULL);
	return ch_t_write_file(out, hex, strlen(hex)) ? 0 : 1;
}

/* Runs a child step; true when it exits 0. */
static bool run_child(char *const args[])
{
	pid_t pid = ch_t_spawn_self(args);

	return pid > 0 && ch_t_wait(pid) == 0;
}

/* ---- the test's world ---- */

typedef struct root_env {
	ch_t_env e;
	char hsm_dir[256];
	char hsm_conf[300];
	char tokens[300]; /* SoftHSM's token directory */
	char pin_file[256];
} root_env;

typedef enum root_mode {
	ROOT_NONE,      /* no [root:] section */
	ROOT_OK,        /* [root:rooted] with the right key */
	ROOT_OTHER_KEY, /* ... naming another AES key of the token */
	ROOT_NO_KEY,    /* ... naming a label no key has */
	ROOT_NO_MODULE, /* ... naming a module that does not exist */
	ROOT_FORWARDED, /* [root:rooted] and [forward:rooted] on the same token */
} root_mode;

/* Writes the configuration of e (as ch_t_env_new_with does) with the
 * [root:rooted] section of mode, for the next C_Initialize. */
static bool write_conf(const root_env *r, root_mode mode)
{
	char text[2048];
	const char *module = mode == ROOT_NO_MODULE ? "/nonexistent/libnohsm.so" : SOFTHSM_MODULE;
	const char *key = mode == ROOT_OTHER_KEY ? HSM_OTHER_KEY
	                  : mode == ROOT_NO_KEY  ? "no-such-key"
	                                         : HSM_KEY;
	int n = snprintf(text, sizeof(text),
	                 "[pin]\npbkdf2_iterations = 1000\n[log]\nlevel = info\nfile = %s\n",
	                 r->e.log);

	if (mode != ROOT_NONE)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
		              "[root:" ROOTED "]\nmodule = %s\ntoken = pkcs11:token=" HSM_TOKEN
		              "\npin_file = %s\nkey = %s\n",
		              module, r->pin_file, key);
	if (mode == ROOT_FORWARDED)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
		              "[forward:" ROOTED "]\nmodule = %s\ntoken = pkcs11:token=" HSM_TOKEN
		              "\npin_file = %s\n",
		              module, r->pin_file);
	return n > 0 && (size_t)n < sizeof(text) && ch_t_write_file(r->e.conf, text, (size_t)n);
}

/* A fresh directory with a SoftHSM token and its keys, and a configuration
 * with [root:rooted]; the module is not initialized yet. */
static bool root_env_new(root_env *r)
{
	char *args[] = { "hsm-setup", NULL };
	char text[600];
	int n;

	memset(r, 0, sizeof(*r));
	if (access(SOFTHSM_MODULE, R_OK) != 0) {
		fprintf(stderr, "%s is missing (install softhsm2)\n", SOFTHSM_MODULE);
		return false;
	}
	if (!ch_t_load() || !ch_t_env_new(&r->e))
		return false;
	snprintf(r->hsm_dir, sizeof(r->hsm_dir), "%s/softhsm", r->e.dir);
	snprintf(r->hsm_conf, sizeof(r->hsm_conf), "%s/softhsm2.conf", r->hsm_dir);
	snprintf(r->pin_file, sizeof(r->pin_file), "%s/hsm.pin", r->e.dir);
	snprintf(r->tokens, sizeof(r->tokens), "%s/tokens", r->hsm_dir);
	if (mkdir(r->hsm_dir, 0700) != 0 || mkdir(r->tokens, 0700) != 0)
		return false;
	n = snprintf(text, sizeof(text),
	             "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
	             r->tokens);
	if (n < 0 || (size_t)n >= sizeof(text) || !ch_t_write_file(r->hsm_conf, text, (size_t)n) ||
	    !ch_t_write_file(r->pin_file, HSM_USER_PIN "\n", strlen(HSM_USER_PIN) + 1))
		return false;
	setenv("SOFTHSM2_CONF", r->hsm_conf, 1);
	if (!run_child(args)) {
		fprintf(stderr, "could not make the SoftHSM token\n");
		return false;
	}
	return write_conf(r, ROOT_OK);
}

static void root_env_free(root_env *r)
{
	ch_t_env_free(&r->e);
	unsetenv("SOFTHSM2_CONF");
}

/* C_Finalize, a configuration of mode, C_Initialize. */
static CK_RV restart(const root_env *r, root_mode mode)
{
	(void)P11->C_Finalize(NULL);
	if (!write_conf(r, mode))
		return CKR_GENERAL_ERROR;
	return ch_t_initialize();
}

/* ---- the store, read directly ---- */

/* The failure count of the default user of registration reg, or -1. */
static long user_failures(const root_env *r, CK_SLOT_ID reg)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long n = -1;

	if (sqlite3_open_v2(r->e.store, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db,
	                       "SELECT failures FROM credentials WHERE reg = ?1 AND user_type = 1 "
	                       "AND name = ''",
	                       -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)reg);
		if (sqlite3_step(s) == SQLITE_ROW)
			n = (long)sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

/* The number of reg_root rows of registration reg (-1: cannot read). */
static long root_rows(const root_env *r, CK_SLOT_ID reg, char *label, size_t label_size,
                      long *blob_len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long n = -1;

	if (sqlite3_open_v2(r->e.store, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT key_label, length(blob) FROM reg_root WHERE reg = ?1",
	                       -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)reg);
		n = 0;
		while (sqlite3_step(s) == SQLITE_ROW) {
			n++;
			snprintf(label, label_size, "%s", (const char *)sqlite3_column_text(s, 0));
			*blob_len = (long)sqlite3_column_int64(s, 1);
		}
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

/* ---- steps through the module ---- */

static const CK_BYTE msg[] = "root of trust: sign and encrypt me";

/* Logs the user into slot on session *h (opened here). */
static CK_RV user_login(CK_SLOT_ID slot, CK_SESSION_HANDLE *h)
{
	CK_RV rv = ch_t_open(slot, true, h);

	return rv == CKR_OK ? ch_t_login_user(*h) : rv;
}

/* The one object labelled label of class cls. */
static CK_RV find_one(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, const char *label,
                      CK_OBJECT_HANDLE *o)
{
	CK_ATTRIBUTE t[] = { CH_T_ULONG(CKA_CLASS, &cls), CH_T_STR(CKA_LABEL, label) };
	CK_ULONG n = 0;
	CK_RV rv = ch_t_find(h, t, 2, o, 1, &n);

	return rv != CKR_OK ? rv : n == 1 ? CKR_OK : CKR_OBJECT_HANDLE_INVALID;
}

static CK_RV ec_sign(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k, CK_BYTE *sig, CK_ULONG *len)
{
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_RV rv = P11->C_SignInit(h, &m, k);

	return rv == CKR_OK ? P11->C_Sign(h, (CK_BYTE_PTR)msg, sizeof(msg), sig, len) : rv;
}

static CK_RV ec_verify(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k, CK_BYTE *sig, CK_ULONG len)
{
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_RV rv = P11->C_VerifyInit(h, &m, k);

	return rv == CKR_OK ? P11->C_Verify(h, (CK_BYTE_PTR)msg, sizeof(msg), sig, len) : rv;
}

static CK_BYTE gcm_iv[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static CK_RV aes_crypt(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k, bool enc, const CK_BYTE *in,
                       CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_MECHANISM m;
	CK_GCM_PARAMS p;
	CK_RV rv;

	ch_t_gcm(&m, &p, gcm_iv, NULL, 0);
	if (enc) {
		if ((rv = P11->C_EncryptInit(h, &m, k)) != CKR_OK)
			return rv;
		return P11->C_Encrypt(h, (CK_BYTE_PTR)in, in_len, out, out_len);
	}
	if ((rv = P11->C_DecryptInit(h, &m, k)) != CKR_OK)
		return rv;
	return P11->C_Decrypt(h, (CK_BYTE_PTR)in, in_len, out, out_len);
}

/* Creates registrations "rooted" (under [root:rooted]) and "plain" (no
 * root) with both PINs; in each, an EC key pair and an AES key labelled
 * "k", a signature and a ciphertext of msg (into sig/ct). */
static bool make_both(CK_SLOT_ID *rooted, CK_SLOT_ID *plain, CK_BYTE *ct, CK_ULONG *ct_len)
{
	CK_SLOT_ID slots[2];
	bool ok = true;

	if (ch_t_make_token(ROOTED, true, &slots[0]) != CKR_OK ||
	    ch_t_make_token(PLAIN, true, &slots[1]) != CKR_OK)
		return false;
	for (int i = 0; i < 2 && ok; i++) {
		CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
		CK_OBJECT_HANDLE pub, priv, aes;
		CK_BYTE sig[128];
		CK_ULONG sig_len = sizeof(sig), len = 128;

		ok = CHECK_RV(user_login(slots[i], &h), CKR_OK) &&
		     CHECK_RV(ch_t_gen_ec(h, true, "k", &pub, &priv), CKR_OK) &&
		     CHECK_RV(ch_t_gen_aes(h, true, "k", &aes), CKR_OK) &&
		     CHECK_RV(ec_sign(h, priv, sig, &sig_len), CKR_OK) &&
		     CHECK_RV(ec_verify(h, pub, sig, sig_len), CKR_OK) &&
		     CHECK_RV(aes_crypt(h, aes, true, msg, sizeof(msg), ct + 128 * i, &len),
		              CKR_OK);
		ct_len[i] = len;
		if (h != CK_INVALID_HANDLE) {
			(void)P11->C_Logout(h);
			(void)P11->C_CloseSession(h);
		}
	}
	*rooted = slots[0];
	*plain = slots[1];
	return ok;
}

/* Logs in to slot and uses its keys again: a new signature that verifies,
 * and ct (from before) decrypts to msg. */
static bool use_again(CK_SLOT_ID slot, const CK_BYTE *ct, CK_ULONG ct_len)
{
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE pub, priv, aes;
	CK_BYTE sig[128], pt[128];
	CK_ULONG sig_len = sizeof(sig), pt_len = sizeof(pt);
	bool ok;

	ok = CHECK_RV(user_login(slot, &h), CKR_OK) &&
	     CHECK_RV(find_one(h, CKO_PRIVATE_KEY, "k", &priv), CKR_OK) &&
	     CHECK_RV(find_one(h, CKO_PUBLIC_KEY, "k", &pub), CKR_OK) &&
	     CHECK_RV(find_one(h, CKO_SECRET_KEY, "k", &aes), CKR_OK) &&
	     CHECK_RV(ec_sign(h, priv, sig, &sig_len), CKR_OK) &&
	     CHECK_RV(ec_verify(h, pub, sig, sig_len), CKR_OK) &&
	     CHECK_RV(aes_crypt(h, aes, false, ct, ct_len, pt, &pt_len), CKR_OK) &&
	     CHECK(pt_len == sizeof(msg) && memcmp(pt, msg, sizeof(msg)) == 0);
	if (h != CK_INVALID_HANDLE) {
		(void)P11->C_Logout(h);
		(void)P11->C_CloseSession(h);
	}
	return ok;
}

/* A user login to slot that must give want; the session is closed again. */
static void login_is(CK_SLOT_ID slot, CK_RV want)
{
	CK_SESSION_HANDLE h;

	if (!CHECK_RV(ch_t_open(slot, true, &h), CKR_OK))
		return;
	CHECK_RV(ch_t_login_user(h), want);
	(void)P11->C_CloseSession(h);
}

/* ---- offline: the store file and a PIN ---- */

static CK_RV hkdf_root(const uint8_t regkey[32], const uint8_t s[32], const uint8_t uuid[16],
                       uint8_t out[32])
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	uint8_t ikm[64];
	OSSL_PARAM p[5];
	int ok = 0;

	memcpy(ikm, regkey, 32);
	memcpy(ikm + 32, s, 32);
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm, 64);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)uuid, 16);
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, "cipherhub registration root",
	                                         27);
	p[4] = OSSL_PARAM_construct_end();
	if (ctx != NULL)
		ok = EVP_KDF_derive(ctx, out, 32, p) == 1;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	OPENSSL_cleanse(ikm, sizeof(ikm));
	return ok ? CKR_OK : CKR_FUNCTION_FAILED;
}

typedef struct ids {
	int64_t v[32];
	size_t n;
} ids;

static int collect(void *arg, int64_t id)
{
	ids *l = arg;

	if (l->n < CH_T_ARRAY_LEN(l->v))
		l->v[l->n++] = id;
	return 0;
}

/* How many of reg's objects open under seal. */
static size_t objects_opening(ch_store *st, const ch_seal *seal, int64_t reg, const ids *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++) {
		ch_attrs *a = NULL;

		if (ch_objstore_load(st, seal, reg, l->v[i], &a, NULL) == CKR_OK)
			n++;
		ch_attrs_free(a);
	}
	return n;
}

/* What an attacker with the store file and the user PIN gets: the plain
 * registration key, whose seal opens none of reg's objects (plain_opens
 * gets the count), while the HSM's secret (decrypted by a child as the HSM
 * holder) with the documented HKDF opens all of them (root_opens).  *total
 * gets the object count. */
static bool offline(root_env *r, CK_SLOT_ID reg, size_t *plain_opens, size_t *root_opens,
                    size_t *total)
{
	ch_store *st = NULL;
	ch_reg_row row;
	ch_root_row root;
	ch_cred cred;
	ids l = { .n = 0 };
	uint8_t regkey[32], secret[32], k[32];
	char blob_hex[2 * CH_ROOT_BLOB_LEN + 1], uuid_hex[33], out[300];
	unsigned char *hex = NULL;
	size_t hex_len;
	ch_seal *seal = NULL;
	bool ok = false;

	snprintf(out, sizeof(out), "%s/secret.hex", r->e.dir);
	if (!CHECK_RV(ch_store_open(r->e.store, &st), CKR_OK) ||
	    !CHECK_RV(ch_store_reg_get(st, (int64_t)reg, &row), CKR_OK) ||
	    !CHECK_RV(ch_store_cred_get(st, (int64_t)reg, CKU_USER, "", &cred), CKR_OK) ||
	    !CHECK_RV(ch_pin_unwrap(&cred.w, (CK_UTF8CHAR_PTR)CH_T_USER_PIN, strlen(CH_T_USER_PIN),
	                            row.uuid, CKU_USER, "", regkey),
	              CKR_OK) ||
	    !CHECK_RV(ch_store_root_get(st, (int64_t)reg, &root), CKR_OK) || !CHECK(root.present) ||
	    !CHECK_RV(ch_store_find(st, (int64_t)reg, true, NULL, 0, collect, &l), CKR_OK))
		goto out;
	*total = l.n;
	/* The registration key alone. */
	if (!CHECK((seal = ch_seal_new(regkey, row.uuid)) != NULL))
		goto out;
	*plain_opens = objects_opening(st, seal, (int64_t)reg, &l);
	ch_seal_free(seal);
	seal = NULL;
	/* With the HSM's secret. */
	ch_t_hex(root.blob, CH_ROOT_BLOB_LEN, blob_hex, false);
	ch_t_hex(row.uuid, CH_UUID_LEN, uuid_hex, false);
	{
		char *args[] = { "hsm-decrypt", blob_hex, uuid_hex, out, NULL };

		if (!CHECK(run_child(args)))
			goto out;
	}
	if (!CHECK((hex = ch_t_read_file(out, &hex_len)) != NULL) ||
	    !CHECK(ch_t_unhex((const char *)hex, secret, sizeof(secret)) == 32) ||
	    !CHECK_RV(hkdf_root(regkey, secret, row.uuid, k), CKR_OK) ||
	    !CHECK((seal = ch_seal_new(k, row.uuid)) != NULL))
		goto out;
	*root_opens = objects_opening(st, seal, (int64_t)reg, &l);
	ok = true;
out:
	ch_seal_free(seal);
	free(hex);
	ch_store_close(st);
	OPENSSL_cleanse(regkey, sizeof(regkey));
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(k, sizeof(k));
	return ok;
}

/* ---- the tests ---- */

/* Created under [root:rooted]: a reg_root row (the key's label, 60 bytes of
 * IV||ciphertext||tag), the keys work, and again after C_Finalize and
 * C_Initialize; removing the section closes the registration
 * (CKR_DEVICE_ERROR, logged, not a wrong PIN), and the store file plus the
 * PIN open none of its objects while the HSM's secret opens all; putting
 * the section back opens it again.  "plain" works throughout. */
static void test_root_survives_restart_and_store_plus_pin_is_not_enough(void)
{
	root_env r;
	CK_SLOT_ID rooted = 0, plain = 0;
	CK_BYTE ct[256];
	CK_ULONG ct_len[2];
	char label[300] = "";
	long blob_len = 0;
	size_t plain_opens = 99, root_opens = 0, total = 0;

	REQUIRE(root_env_new(&r));
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE(make_both(&rooted, &plain, ct, ct_len));
	CHECK(ch_t_log_has(&r.e, "registration \"" ROOTED "\" (slot"));
	CHECK(ch_t_log_has(&r.e, "created (HSM root)"));
	CHECK(root_rows(&r, rooted, label, sizeof(label), &blob_len) == 1);
	CHECK(strcmp(label, HSM_KEY) == 0);
	CHECK(blob_len == CH_ROOT_BLOB_LEN);
	CHECK(root_rows(&r, plain, label, sizeof(label), &blob_len) == 0);

	/* A new module state: everything comes from the store and the HSM. */
	REQUIRE_RV(restart(&r, ROOT_OK), CKR_OK);
	CHECK(use_again(rooted, ct, ct_len[0]));
	CHECK(use_again(plain, ct + 128, ct_len[1]));

	/* The section removed: the registration does not open. */
	REQUIRE_RV(restart(&r, ROOT_NONE), CKR_OK);
	login_is(rooted, CKR_DEVICE_ERROR);
	CHECK(ch_t_log_has(&r.e, "has an HSM root (key \"" HSM_KEY "\") but no [root:" ROOTED
	                         "] section"));
	CHECK(user_failures(&r, rooted) == 0);
	CHECK(!(ch_t_token_flags(rooted) & CKF_USER_PIN_COUNT_LOW));
	CHECK(use_again(plain, ct + 128, ct_len[1]));
	(void)P11->C_Finalize(NULL);

	/* Offline, with the file and the PIN. */
	REQUIRE(offline(&r, rooted, &plain_opens, &root_opens, &total));
	CHECK(total == 3);
	CHECK(plain_opens == 0);
	CHECK(root_opens == total);

	/* Back in place: it opens again. */
	REQUIRE_RV(restart(&r, ROOT_OK), CKR_OK);
	CHECK(use_again(rooted, ct, ct_len[0]));
out:
	root_env_free(&r);
}

/* The HSM cannot give the secret: another key of the token, no key of that
 * label, no such module, the key destroyed.  Each time the login fails with
 * CKR_DEVICE_ERROR and an error line, the failure count does not move (a
 * wrong PIN does move it), nothing is written, "plain" keeps working, and
 * an SO re-initialization is refused the same way, objects untouched. */
static void test_root_missing_hsm_key_fails_login_without_counting(void)
{
	root_env r;
	CK_SLOT_ID rooted = 0, plain = 0;
	CK_BYTE ct[256];
	CK_ULONG ct_len[2];
	CK_UTF8CHAR lab[32];
	char *destroy[] = { "hsm-destroy", NULL };
	const root_mode modes[] = { ROOT_OTHER_KEY, ROOT_NO_KEY, ROOT_NO_MODULE };
	const char *why[] = { "C_Decrypt (the stored root does not open)",
		              "no AES secret key labelled \"no-such-key\"", "cannot load it" };

	ch_t_pad(lab, sizeof(lab), ROOTED);
	REQUIRE(root_env_new(&r));
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE(make_both(&rooted, &plain, ct, ct_len));

	for (size_t i = 0; i < CH_T_ARRAY_LEN(modes); i++) {
		fprintf(stderr, "  mode %zu\n", i);
		REQUIRE_RV(restart(&r, modes[i]), CKR_OK);
		login_is(rooted, CKR_DEVICE_ERROR);
		CHECK(ch_t_log_has(&r.e, why[i]));
		CHECK(user_failures(&r, rooted) == 0);
		CHECK_RV(P11->C_InitToken(rooted, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN),
		                          lab),
		         CKR_DEVICE_ERROR);
		CHECK(use_again(plain, ct + 128, ct_len[1]));
	}

	/* The right key again: the failed re-inits erased nothing. */
	REQUIRE_RV(restart(&r, ROOT_OK), CKR_OK);
	CHECK(use_again(rooted, ct, ct_len[0]));

	/* The key destroyed in the HSM. */
	(void)P11->C_Finalize(NULL);
	REQUIRE(run_child(destroy));
	REQUIRE_RV(restart(&r, ROOT_OK), CKR_OK);
	login_is(rooted, CKR_DEVICE_ERROR);
	CHECK(ch_t_log_has(&r.e, "no AES secret key labelled \"" HSM_KEY "\""));
	CHECK(user_failures(&r, rooted) == 0);
	CHECK(!(ch_t_token_flags(rooted) & CKF_USER_PIN_COUNT_LOW));
	/* The count is live: a wrong PIN moves it (before the HSM is asked). */
	{
		CK_SESSION_HANDLE h;

		REQUIRE_RV(ch_t_open(rooted, true, &h), CKR_OK);
		CHECK_RV(ch_t_login(h, CKU_USER, "wrong-pin-1234"), CKR_PIN_INCORRECT);
		(void)P11->C_CloseSession(h);
	}
	CHECK(user_failures(&r, rooted) == 1);
	CHECK(use_again(plain, ct + 128, ct_len[1]));
out:
	root_env_free(&r);
}

/* SO re-initialization of a registration with a root goes through the HSM
 * and keeps the root; under a new name it needs that name's [root:]
 * section. */
static void test_root_reinit_keeps_root(void)
{
	root_env r;
	CK_SLOT_ID rooted = 0, plain = 0, again = 0;
	CK_BYTE ct[256];
	CK_ULONG ct_len[2];
	CK_UTF8CHAR lab[32];
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	char label[300] = "";
	long blob_len = 0;

	REQUIRE(root_env_new(&r));
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE(make_both(&rooted, &plain, ct, ct_len));
	/* Renaming it to a name without a [root:] section is refused. */
	ch_t_pad(lab, sizeof(lab), "renamed");
	CHECK_RV(P11->C_InitToken(rooted, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN), lab),
	         CKR_DEVICE_ERROR);
	CHECK(ch_t_log_has(&r.e, "renaming it \"renamed\" needs a [root:renamed] section"));
	CHECK(use_again(rooted, ct, ct_len[0]));
	/* Same name: re-initialized, still rooted, and it opens after a restart. */
	ch_t_pad(lab, sizeof(lab), ROOTED);
	REQUIRE_RV(P11->C_InitToken(rooted, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN), lab),
	           CKR_OK);
	CHECK(root_rows(&r, rooted, label, sizeof(label), &blob_len) == 1);
	REQUIRE_RV(restart(&r, ROOT_OK), CKR_OK);
	REQUIRE_RV(ch_t_slot_by_label(ROOTED, &again), CKR_OK);
	CHECK(again == rooted);
	REQUIRE_RV(ch_t_open(rooted, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(P11->C_InitPIN(h, (CK_UTF8CHAR_PTR)CH_T_USER_PIN, strlen(CH_T_USER_PIN)), CKR_OK);
	CHECK_RV(P11->C_Logout(h), CKR_OK);
	CHECK_RV(ch_t_login_user(h), CKR_OK);
	CHECK(ch_t_count_label(h, "k") == 0); /* the re-init erased the keys */
	CHECK_RV(P11->C_Logout(h), CKR_OK);
out:
	if (h != CK_INVALID_HANDLE)
		(void)P11->C_CloseSession(h);
	root_env_free(&r);
}

/* A [root:NAME] whose HSM cannot be reached: registration NAME is not
 * created at all (CKR_DEVICE_ERROR); others are. */
static void test_root_creation_needs_the_hsm(void)
{
	root_env r;
	CK_SLOT_ID slot;
	CK_UTF8CHAR lab[32];

	REQUIRE(root_env_new(&r));
	REQUIRE(write_conf(&r, ROOT_NO_MODULE));
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_free_slot(&slot), CKR_OK);
	ch_t_pad(lab, sizeof(lab), ROOTED);
	CHECK_RV(P11->C_InitToken(slot, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN), lab),
	         CKR_DEVICE_ERROR);
	CHECK(!(ch_t_token_flags(slot) & CKF_TOKEN_INITIALIZED));
	CHECK_RV(ch_t_slot_by_label(ROOTED, &slot), CKR_SLOT_ID_INVALID);
	CHECK_RV(ch_t_make_token(PLAIN, true, &slot), CKR_OK);
out:
	root_env_free(&r);
}

/* A registration made before [root:NAME] was configured is unaffected by it
 * (a warning says so, once) and gets no root. */
static void test_root_added_later_does_not_apply(void)
{
	root_env r;
	CK_SLOT_ID rooted = 0;
	CK_BYTE ct[256];
	CK_ULONG len = 128;
	char label[300] = "";
	long blob_len = 0;

	REQUIRE(root_env_new(&r));
	REQUIRE(write_conf(&r, ROOT_NONE));
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_make_token(ROOTED, true, &rooted), CKR_OK);
	{
		CK_SESSION_HANDLE h;
		CK_OBJECT_HANDLE aes;

		REQUIRE_RV(user_login(rooted, &h), CKR_OK);
		REQUIRE_RV(ch_t_gen_aes(h, true, "k", &aes), CKR_OK);
		REQUIRE_RV(aes_crypt(h, aes, true, msg, sizeof(msg), ct, &len), CKR_OK);
		(void)P11->C_Logout(h);
		(void)P11->C_CloseSession(h);
	}
	REQUIRE_RV(restart(&r, ROOT_OK), CKR_OK);
	{
		CK_SESSION_HANDLE h;
		CK_OBJECT_HANDLE aes;
		CK_BYTE pt[128];
		CK_ULONG pt_len = sizeof(pt);

		REQUIRE_RV(user_login(rooted, &h), CKR_OK);
		REQUIRE_RV(find_one(h, CKO_SECRET_KEY, "k", &aes), CKR_OK);
		CHECK_RV(aes_crypt(h, aes, false, ct, len, pt, &pt_len), CKR_OK);
		(void)P11->C_Logout(h);
		CHECK_RV(ch_t_login_user(h), CKR_OK);
		(void)P11->C_Logout(h);
		(void)P11->C_CloseSession(h);
	}
	CHECK(ch_t_log_has(&r.e, "applies only to registrations created while it is configured"));
	CHECK(root_rows(&r, rooted, label, sizeof(label), &blob_len) == 0);
	{
		/* Once: two logins, one line. */
		size_t n = 0, count = 0;
		unsigned char *log = ch_t_read_file(r.e.log, &n);
		const char *p = (const char *)log;

		while (p != NULL && (p = strstr(p, "applies only to registrations")) != NULL) {
			count++;
			p++;
		}
		free(log);
		CHECK(count == 1);
	}
out:
	root_env_free(&r);
}

/* A [root:NAME] naming a forwarded registration is ignored (its keys are
 * the HSM's already), with a warning: the registration gets no root. */
static void test_root_ignored_for_forwarded_registration(void)
{
	root_env r;
	CK_UTF8CHAR lab[32];
	CK_SLOT_ID fw = 0;
	char label[300] = "";
	long blob_len = 0;

	REQUIRE(root_env_new(&r));
	REQUIRE(write_conf(&r, ROOT_FORWARDED));
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	CHECK(ch_t_log_has(&r.e, "[root:" ROOTED "] ignored: \"" ROOTED "\" is a forwarded"));
	ch_t_pad(lab, sizeof(lab), ROOTED);
	REQUIRE_RV(P11->C_InitToken(65536, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN), lab),
	           CKR_OK);
	REQUIRE_RV(ch_t_slot_by_label(ROOTED, &fw), CKR_OK);
	CHECK(fw == 65536);
	CHECK(root_rows(&r, fw, label, sizeof(label), &blob_len) == 0);
	{
		CK_SESSION_HANDLE h;

		REQUIRE_RV(ch_t_open(fw, true, &h), CKR_OK);
		CHECK_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
		(void)P11->C_CloseSession(h);
	}
out:
	root_env_free(&r);
}

/* The HSM's token directory goes while the module runs (its connection to
 * SoftHSM open since the first login): the login fails with
 * CKR_DEVICE_ERROR, not counted; once the directory is back, the next login
 * works without C_Finalize, since no HSM session outlives a login. */
static void test_root_hsm_token_gone_and_back(void)
{
	root_env r;
	CK_SLOT_ID rooted = 0, plain = 0;
	CK_BYTE ct[256];
	CK_ULONG ct_len[2];
	char away[320];

	REQUIRE(root_env_new(&r));
	snprintf(away, sizeof(away), "%s.away", r.tokens);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE(make_both(&rooted, &plain, ct, ct_len));
	CHECK(use_again(rooted, ct, ct_len[0]));
	REQUIRE(rename(r.tokens, away) == 0);
	login_is(rooted, CKR_DEVICE_ERROR);
	CHECK(user_failures(&r, rooted) == 0);
	CHECK(use_again(plain, ct + 128, ct_len[1]));
	REQUIRE(rename(away, r.tokens) == 0);
	CHECK(use_again(rooted, ct, ct_len[0]));
	CHECK(user_failures(&r, rooted) == 0);
out:
	root_env_free(&r);
}

/* A schema-2 store (made by turning a new store back: versions 3 and 4 only
 * add reg_root and key_use) migrates to the current version on open; its registration keeps working
 * and a rooted registration can be created in it. */
static void test_root_migrates_schema_2_store(void)
{
	root_env r;
	CK_SLOT_ID plain = 0, rooted = 0;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long version = -1;
	char label[300] = "";
	long blob_len = 0;

	REQUIRE(root_env_new(&r));
	REQUIRE(write_conf(&r, ROOT_NONE));
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_make_token(PLAIN, true, &plain), CKR_OK);
	(void)P11->C_Finalize(NULL);
	REQUIRE(sqlite3_open(r.e.store, &db) == SQLITE_OK);
	REQUIRE(sqlite3_exec(db,
	                     "DROP TABLE reg_root; DROP TABLE key_use;"
	                     "UPDATE meta SET value = 2 WHERE key = 'schema_version'",
	                     NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	db = NULL;
	CHECK(root_rows(&r, plain, label, sizeof(label), &blob_len) == -1); /* no table */

	REQUIRE_RV(restart(&r, ROOT_OK), CKR_OK);
	CHECK(ch_t_log_has(&r.e, "schema migrated to version 3"));
	REQUIRE_RV(ch_t_make_token(ROOTED, true, &rooted), CKR_OK);
	CHECK(root_rows(&r, rooted, label, sizeof(label), &blob_len) == 1);
	CHECK(root_rows(&r, plain, label, sizeof(label), &blob_len) == 0);
	login_is(plain, CKR_OK);
	login_is(rooted, CKR_OK);
	REQUIRE(sqlite3_open(r.e.store, &db) == SQLITE_OK);
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &s,
	                       NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		version = (long)sqlite3_column_int64(s, 0);
	CHECK(version == CH_STORE_SCHEMA_VERSION);
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	root_env_free(&r);
}

int main(int argc, char **argv)
{
	static const ch_t_case cases[] = {
		CH_T_CASE(test_root_survives_restart_and_store_plus_pin_is_not_enough),
		CH_T_CASE(test_root_missing_hsm_key_fails_login_without_counting),
		CH_T_CASE(test_root_reinit_keeps_root),
		CH_T_CASE(test_root_creation_needs_the_hsm),
		CH_T_CASE(test_root_added_later_does_not_apply),
		CH_T_CASE(test_root_hsm_token_gone_and_back),
		CH_T_CASE(test_root_ignored_for_forwarded_registration),
		CH_T_CASE(test_root_migrates_schema_2_store),
	};

	if (argc >= 2 && strcmp(argv[1], "hsm-setup") == 0)
		return child_setup();
	if (argc >= 2 && strcmp(argv[1], "hsm-destroy") == 0)
		return child_destroy();
	if (argc >= 5 && strcmp(argv[1], "hsm-decrypt") == 0)
		return child_decrypt(argv[2], argv[3], argv[4]);
	return ch_t_run(cases, CH_T_ARRAY_LEN(cases));
}
