/*
 * No secret reaches the store's files or the log in clear.
 *
 * Token objects with known secret values (an AES key, an EC private key, a
 * public AES key whose value is still key material, a generated key whose
 * value we read back, a private data object and its label) are created
 * through the module, and the PINs are set and changed; then the raw bytes
 * of store.db, store.db-wal and store.db-shm are searched for each secret,
 * in binary and in hex (both cases), while the module still has the store
 * open (the WAL holds the newest pages then) and again after C_Finalize.
 * The log (level debug) is searched too.
 */
#include "module.h"

static const char new_user_pin[] = "second-user-pin-6021";

/* 32 bytes that occur nowhere by chance. */
static const CK_BYTE aes_private_key[32] = { 0xa3, 0x5c, 0x11, 0xe8, 0x7f, 0x02, 0x9d, 0x46,
	                                     0xbb, 0x31, 0xc0, 0x6e, 0x58, 0xf4, 0x27, 0x9a,
	                                     0x13, 0xd7, 0x6b, 0x80, 0x4e, 0xe2, 0x35, 0xaf,
	                                     0x0c, 0x91, 0x7a, 0xd8, 0x66, 0x1f, 0xb4, 0x49 };
static const CK_BYTE aes_public_key[32] = { 0x5e, 0x07, 0xc2, 0x9b, 0x34, 0xf1, 0x88, 0x2d,
	                                    0x6a, 0xe5, 0x13, 0x7c, 0xd0, 0x49, 0xb6, 0x25,
	                                    0x8f, 0x3a, 0xe7, 0x10, 0x94, 0x6d, 0xcb, 0x02,
	                                    0x7e, 0xa1, 0x58, 0x36, 0xf9, 0x4c, 0x83, 0x1b };
/* RFC 6979 A.2.5 P-256 private key. */
static const char ec_d_hex[] = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
static const char data_value[] = "wire transfer approval code 7734-QX-1990";
static const char data_label[] = "payroll-secret-label-4471";

#define MAX_NEEDLES 24

/* What must not be found, with a name for the message. */
typedef struct needle {
	const char *what;
	CK_BYTE v[80];
	size_t n;
} needle;

typedef struct needles {
	needle v[MAX_NEEDLES];
	size_t n;
} needles;

static void add(needles *ns, const char *what, const void *p, size_t n)
{
	if (ns->n < MAX_NEEDLES && n <= sizeof(ns->v[0].v)) {
		ns->v[ns->n].what = what;
		memcpy(ns->v[ns->n].v, p, n);
		ns->v[ns->n].n = n;
		ns->n++;
	}
}

/* Searches one file for every needle, raw and as hex; a missing file is
 * clean.  Counts one check per needle and form. */
static void scan_file(const char *path, const needles *ns)
{
	size_t len = 0;
	unsigned char *buf = ch_t_read_file(path, &len);
	char hex[2 * 80 + 1];

	if (buf == NULL)
		return;
	for (size_t i = 0; i < ns->n; i++) {
		const needle *nd = &ns->v[i];
		/* A 16-byte prefix is as telling as the whole and catches a
		 * value stored in parts. */
		size_t part = nd->n < 16 ? nd->n : 16;

		if (!CHECK(!ch_t_contains(buf, len, nd->v, part)))
			fprintf(stderr, "\t%s found in clear in %s\n", nd->what, path);
		ch_t_hex(nd->v, part, hex, false);
		if (!CHECK(!ch_t_contains(buf, len, hex, 2 * part)))
			fprintf(stderr, "\t%s found as hex in %s\n", nd->what, path);
		ch_t_hex(nd->v, part, hex, true);
		if (!CHECK(!ch_t_contains(buf, len, hex, 2 * part)))
			fprintf(stderr, "\t%s found as HEX in %s\n", nd->what, path);
	}
	free(buf);
}

static void scan_store(const ch_t_env *e, const needles *ns)
{
	char path[300];

	scan_file(e->store, ns);
	snprintf(path, sizeof(path), "%s-wal", e->store);
	scan_file(path, ns);
	snprintf(path, sizeof(path), "%s-shm", e->store);
	scan_file(path, ns);
}

static CK_RV create_ec_private(CK_SESSION_HANDLE h, const CK_BYTE *d, CK_ULONG dlen,
                               CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_PRIVATE, true),
		CH_T_BOOL(CKA_SENSITIVE, true),
		CH_T_BOOL(CKA_SIGN, true),
		CH_T_STR(CKA_LABEL, "secrecy-ec"),
		CH_T_ATTR(CKA_EC_PARAMS, ch_t_p256_params, sizeof(ch_t_p256_params)),
		CH_T_ATTR(CKA_VALUE, d, dlen),
	};

	return P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), o);
}

/* A generated AES key we may read: its value becomes a needle too. */
static CK_RV generate_readable_key(CK_SESSION_HANDLE h, CK_BYTE value[32], CK_OBJECT_HANDLE *o)
{
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG len = 32, vlen = 32;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &len),
		CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_PRIVATE, true),
		CH_T_BOOL(CKA_SENSITIVE, false),
		CH_T_BOOL(CKA_EXTRACTABLE, true),
		CH_T_BOOL(CKA_ENCRYPT, true),
		CH_T_STR(CKA_LABEL, "secrecy-generated"),
	};
	CK_RV rv = P11->C_GenerateKey(h, &m, t, CH_T_ARRAY_LEN(t), o);

	if (rv == CKR_OK)
		rv = ch_t_get(h, *o, CKA_VALUE, value, &vlen);
	if (rv == CKR_OK && vlen != 32)
		rv = CKR_GENERAL_ERROR;
	return rv;
}

static void test_no_secret_in_store_files_or_log(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o, gen;
	CK_BYTE d[32], generated[32];
	needles ns = { .n = 0 };
	size_t len = 0;
	unsigned char *log = NULL;

	REQUIRE(ch_t_unhex(ec_d_hex, d, sizeof(d)) == 32);
	REQUIRE(ch_t_setup_with(&e, "[log]\nlevel = debug\n"));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(
	        ch_t_create_aes(h, true, true, true, false, "secrecy-aes", aes_private_key, 32, &o),
	        CKR_OK);
	/* A public secret key: the object is public, its value still secret. */
	REQUIRE_RV(ch_t_create_aes(h, true, false, true, false, "secrecy-aes-pub", aes_public_key,
	                           32, &o),
	           CKR_OK);
	REQUIRE_RV(create_ec_private(h, d, 32, &o), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, true, data_label, data_value, strlen(data_value), &o),
	           CKR_OK);
	REQUIRE_RV(generate_readable_key(h, generated, &gen), CKR_OK);
	/* Use the keys, so that any cache or log of an operation is exercised. */
	{
		CK_MECHANISM m;
		CK_GCM_PARAMS gp;
		CK_BYTE iv[12] = { 9 }, ct[64];
		CK_ULONG ct_len = sizeof(ct);

		ch_t_gcm(&m, &gp, iv, NULL, 0);
		CHECK_RV(P11->C_EncryptInit(h, &m, gen), CKR_OK);
		CHECK_RV(P11->C_Encrypt(h, (CK_BYTE_PTR) "some plaintext!!", 16, ct, &ct_len),
		         CKR_OK);
	}
	REQUIRE_RV(P11->C_SetPIN(h, (CK_UTF8CHAR_PTR)CH_T_USER_PIN, strlen(CH_T_USER_PIN),
	                         (CK_UTF8CHAR_PTR)new_user_pin, strlen(new_user_pin)),
	           CKR_OK);
	/* A wrong PIN is a secret too (it may be a near miss of the right one). */
	CHECK_RV(P11->C_Logout(h), CKR_OK);
	CHECK_RV(ch_t_login(h, CKU_USER, "near-miss-pin-6022"), CKR_PIN_INCORRECT);
	CHECK_RV(ch_t_login(h, CKU_USER, new_user_pin), CKR_OK);

	add(&ns, "private AES key", aes_private_key, 32);
	add(&ns, "public object's AES key", aes_public_key, 32);
	add(&ns, "EC private key", d, 32);
	add(&ns, "generated AES key", generated, 32);
	add(&ns, "private data value", data_value, strlen(data_value));
	add(&ns, "private object's label", data_label, strlen(data_label));
	add(&ns, "SO PIN", CH_T_SO_PIN, strlen(CH_T_SO_PIN));
	add(&ns, "first user PIN", CH_T_USER_PIN, strlen(CH_T_USER_PIN));
	add(&ns, "second user PIN", new_user_pin, strlen(new_user_pin));
	add(&ns, "wrong PIN", "near-miss-pin-6022", 18);

	/* While the module holds the store open... */
	scan_store(&e, &ns);
	/* ...and after it closed it. */
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	scan_store(&e, &ns);
	scan_file(e.log, &ns);

	/* The scan is not vacuous: the store was read (an SQLite file with
	 * pages in it), and the log says something. */
	{
		unsigned char *db = ch_t_read_file(e.store, &len);
		CHECK(db != NULL && len >= 4096 && memcmp(db, "SQLite format 3", 16) == 0);
		free(db);
	}
	log = ch_t_read_file(e.log, &len);
	CHECK(log != NULL && len > 0);

	/* The keys still work from the sealed store. */
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_open(e.slot, false, &h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_USER, new_user_pin), CKR_OK);
	{
		CK_BYTE v[64];
		CK_ULONG vlen = sizeof(v);
		CHECK_RV(ch_t_get(h, gen, CKA_VALUE, v, &vlen), CKR_OK);
		CHECK(vlen == 32 && memcmp(v, generated, 32) == 0);
	}
out:
	free(log);
	ch_t_env_free(&e);
}

static void test_destroyed_and_reinitialized_secrets_leave_no_trace(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;
	CK_UTF8CHAR label[32];
	needles ns = { .n = 0 };

	ch_t_pad(label, sizeof(label), CH_T_LABEL);
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_aes(h, true, true, true, false, "gone", aes_private_key, 32, &o),
	           CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, true, data_label, data_value, strlen(data_value), &o),
	           CKR_OK);
	CHECK_RV(P11->C_DestroyObject(h, o), CKR_OK);
	CHECK_RV(P11->C_CloseSession(h), CKR_OK);
	/* Re-initializing erases the rest. */
	CHECK_RV(P11->C_InitToken(e.slot, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN), label),
	         CKR_OK);
	add(&ns, "AES key", aes_private_key, 32);
	add(&ns, "data value", data_value, strlen(data_value));
	add(&ns, "data label", data_label, strlen(data_label));
	add(&ns, "SO PIN", CH_T_SO_PIN, strlen(CH_T_SO_PIN));
	add(&ns, "user PIN", CH_T_USER_PIN, strlen(CH_T_USER_PIN));
	scan_store(&e, &ns);
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	scan_store(&e, &ns);
	scan_file(e.log, &ns);
out:
	ch_t_env_free(&e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_no_secret_in_store_files_or_log),
	CH_T_CASE(test_destroyed_and_reinitialized_secrets_leave_no_trace),
};

int main(void)
{
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
