/*
 * Bad input at the function table's edge: NULL pointers (CKR_ARGUMENTS_BAD
 * for every function that takes one), handles of sessions, objects and keys
 * that do not exist or are not ours (CKR_SESSION_HANDLE_INVALID,
 * CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID), slots that do not exist
 * (CKR_SLOT_ID_INVALID) and attribute types nobody defined
 * (CKR_ATTRIBUTE_TYPE_INVALID) -- and after all of it the store is exactly
 * as it was: every group of bad calls runs between two snapshots of the
 * finalized store file, and the objects are counted through the module.
 */
#include <stdint.h>

#include <sqlite3.h>

#include "module.h"

#define UNKNOWN_ATTRIBUTE 0x7ffffff0UL

/* The objects every group of bad calls works on. */
typedef struct fixture {
	ch_t_env e;
	CK_SLOT_ID other_slot; /* a second registration */
	CK_OBJECT_HANDLE data, aes, pub, priv;
	CK_OBJECT_HANDLE other_data; /* an object of the other registration */
	CK_OBJECT_HANDLE destroyed;  /* a handle that was valid once */
	CK_SESSION_HANDLE h;         /* RW, user logged in */
	CK_SESSION_HANDLE closed;    /* a session handle that was valid once */
	long objects;                /* token objects of "t" the user sees */
} fixture;

static const CK_BYTE some_key[32] = { 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
	                              12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
	                              23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

/* A new RW session of the user (the login is the slot's). */
static CK_SESSION_HANDLE fresh(const fixture *f)
{
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;

	CHECK_RV(ch_t_open(f->e.slot, true, &h), CKR_OK);
	return h;
}

/* ---- snapshots of the store ---- */

static void fnv(uint64_t *hash, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++) {
		*hash ^= b[i];
		*hash *= 0x100000001b3ULL;
	}
}

/* FNV-1a over every row of every table of the (finalized) store but the
 * audit log, which rightly grows with every login and failed call, and
 * key_use, its running sum of encryptions (keyuse.h): what must not change
 * is the registrations, participants, objects and grants. */
static uint64_t store_hash(const ch_t_env *e)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *tables = NULL, *rows = NULL;
	uint64_t hash = 0xcbf29ce484222325ULL;

	if (sqlite3_open_v2(e->store, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       "SELECT name FROM sqlite_master WHERE type = 'table' AND "
	                       "name NOT IN ('audit', 'key_use', 'sqlite_sequence') ORDER BY name",
	                       -1, &tables, NULL) != SQLITE_OK) {
		hash = 0;
		goto out;
	}
	while (sqlite3_step(tables) == SQLITE_ROW) {
		char sql[200];
		const char *name = (const char *)sqlite3_column_text(tables, 0);

		fnv(&hash, name, strlen(name));
		snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY 1, 2", name);
		if (sqlite3_prepare_v2(db, sql, -1, &rows, NULL) != SQLITE_OK) {
			hash = 0;
			goto out;
		}
		while (sqlite3_step(rows) == SQLITE_ROW) {
			for (int c = 0; c < sqlite3_column_count(rows); c++) {
				const void *v = sqlite3_column_blob(rows, c);
				int n = sqlite3_column_bytes(rows, c);

				fnv(&hash, &n, sizeof(n));
				if (v != NULL)
					fnv(&hash, v, (size_t)n);
			}
		}
		sqlite3_finalize(rows);
		rows = NULL;
	}
out:
	sqlite3_finalize(rows);
	sqlite3_finalize(tables);
	sqlite3_close(db);
	return hash;
}

/* Token objects of "t" as the user sees them, or -1. */
static long count_objects(const fixture *f)
{
	CK_SESSION_HANDLE h;
	long n = -1;
	CK_RV rv;

	if (ch_t_open(f->e.slot, false, &h) != CKR_OK)
		return -1;
	rv = ch_t_login_user(h);
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		n = ch_t_count(h, NULL, 0);
	(void)P11->C_CloseSession(h);
	return n;
}

/* Builds the fixture: token "t" with objects, a second registration with an
 * object, then a finalize/initialize/login cycle so that the snapshot taken
 * after it is what an idle run leaves.  Leaves the module initialized with
 * f->h logged in. */
static bool fixture_setup(fixture *f, uint64_t *hash)
{
	CK_SESSION_HANDLE h, oh;
	CK_OBJECT_HANDLE gone;
	bool ok = false;

	memset(f, 0, sizeof(*f));
	if (!ch_t_setup(&f->e))
		return false;
	if (!CHECK_RV(ch_t_user_session(&f->e, true, &h), CKR_OK) ||
	    !CHECK_RV(ch_t_create_data(h, true, true, "bad-data", "v", 1, &f->data), CKR_OK) ||
	    !CHECK_RV(ch_t_create_aes(h, true, true, true, false, "bad-aes", some_key, 32, &f->aes),
	              CKR_OK) ||
	    !CHECK_RV(ch_t_gen_ec(h, true, "bad-ec", &f->pub, &f->priv), CKR_OK) ||
	    !CHECK_RV(ch_t_create_data(h, true, false, "gone", "g", 1, &gone), CKR_OK) ||
	    !CHECK_RV(P11->C_DestroyObject(h, gone), CKR_OK))
		goto out;
	f->destroyed = gone;
	if (!CHECK_RV(ch_t_make_token("other", true, &f->other_slot), CKR_OK) ||
	    !CHECK_RV(ch_t_open(f->other_slot, true, &oh), CKR_OK) ||
	    !CHECK_RV(ch_t_login_user(oh), CKR_OK) ||
	    !CHECK_RV(ch_t_create_data(oh, true, false, "other-data", "o", 1, &f->other_data),
	              CKR_OK))
		goto out;
	if (!CHECK_RV(P11->C_Finalize(NULL), CKR_OK) || !CHECK_RV(ch_t_initialize(), CKR_OK))
		goto out;
	f->objects = count_objects(f);
	if (!CHECK_RV(P11->C_Finalize(NULL), CKR_OK))
		goto out;
	*hash = store_hash(&f->e);
	if (!CHECK_RV(ch_t_initialize(), CKR_OK) ||
	    !CHECK_RV(ch_t_user_session(&f->e, true, &f->closed), CKR_OK) ||
	    !CHECK_RV(ch_t_open(f->e.slot, true, &f->h), CKR_OK) ||
	    !CHECK_RV(P11->C_CloseSession(f->closed), CKR_OK))
		goto out;
	ok = f->objects == 4 && *hash != 0;
	CHECK(ok);
out:
	return ok;
}

/* Runs one group of bad calls between two snapshots. */
static void run_group(void (*group)(fixture *f))
{
	fixture f;
	uint64_t before = 0, after;

	if (!fixture_setup(&f, &before))
		goto out;
	group(&f);
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	after = store_hash(&f.e);
	if (!CHECK(after == before))
		fprintf(stderr, "\tthe store file changed\n");
	CHECK_RV(ch_t_initialize(), CKR_OK);
	CHECK(count_objects(&f) == f.objects);
out:
	ch_t_env_free(&f.e);
}

/* ---- NULL pointers ---- */

static void null_general_and_slot(fixture *f)
{
	CK_SLOT_ID ids[8], free_slot;
	CK_ULONG n = 8;
	CK_UTF8CHAR label[32];
	CK_VERSION v3 = { 3, 0 };

	ch_t_pad(label, sizeof(label), "never");
	CHECK_RV(P11->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GetFunctionList(NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GetInterfaceList(NULL, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v3, NULL, 0), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GetSlotList(CK_FALSE, NULL, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GetSlotList(CK_FALSE, ids, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GetSlotInfo(f->e.slot, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GetTokenInfo(f->e.slot, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GetMechanismList(f->e.slot, NULL, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GetMechanismList(f->e.slot, (CK_MECHANISM_TYPE[8]){ 0 }, NULL),
	         CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GetMechanismInfo(f->e.slot, CKM_AES_GCM, NULL), CKR_ARGUMENTS_BAD);
	if (CHECK_RV(ch_t_free_slot(&free_slot), CKR_OK)) {
		/* No protected authentication path: a PIN must be given. */
		CHECK_RV(P11->C_InitToken(free_slot, NULL, 8, label), CKR_ARGUMENTS_BAD);
		CHECK_RV(P11->C_InitToken(free_slot, (CK_UTF8CHAR_PTR)CH_T_SO_PIN,
		                          strlen(CH_T_SO_PIN), NULL),
		         CKR_ARGUMENTS_BAD);
	}
	CHECK_RV(P11->C_OpenSession(f->e.slot, CKF_SERIAL_SESSION, NULL, NULL, NULL),
	         CKR_ARGUMENTS_BAD);
	n = 8;
	CHECK_RV(P11->C_GetSlotList(CK_FALSE, ids, &n), CKR_OK);
	CHECK_UL(n, 3);
}

static void null_session_and_login(fixture *f)
{
	CK_SESSION_HANDLE h = f->h;
	const CK_UTF8CHAR_PTR pin = (CK_UTF8CHAR_PTR)CH_T_USER_PIN;
	CK_ULONG pin_len = strlen(CH_T_USER_PIN);

	CHECK_RV(P11->C_GetSessionInfo(h, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_SetPIN(h, NULL, pin_len, pin, pin_len), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_SetPIN(h, pin, pin_len, NULL, pin_len), CKR_ARGUMENTS_BAD);
	/* C_Login and C_InitPIN with no PIN, in states where they could run. */
	CHECK_RV(P11->C_Logout(h), CKR_OK);
	CHECK_RV(P11->C_Login(h, CKU_USER, NULL, pin_len), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_Login(h, CKU_SO, NULL, pin_len), CKR_ARGUMENTS_BAD);
	if (CHECK_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK)) {
		CHECK_RV(P11->C_InitPIN(h, NULL, pin_len), CKR_ARGUMENTS_BAD);
		CHECK_RV(P11->C_Logout(h), CKR_OK);
	}
	CHECK_RV(ch_t_login_user(h), CKR_OK);
}

static void null_objects(fixture *f)
{
	CK_SESSION_HANDLE h = f->h;
	CK_OBJECT_HANDLE o, got[4];
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = { CH_T_ULONG(CKA_CLASS, &cls), CH_T_BOOL(CKA_TOKEN, true) };
	CK_ULONG n;

	CHECK_RV(P11->C_CreateObject(h, NULL, 2, &o), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_CreateObject(h, t, 2, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_CopyObject(h, f->data, NULL, 1, &o), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_CopyObject(h, f->data, NULL, 0, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GetObjectSize(h, f->data, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GetAttributeValue(h, f->data, NULL, 1), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_SetAttributeValue(h, f->data, NULL, 1), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_FindObjectsInit(h, NULL, 1), CKR_ARGUMENTS_BAD);
	if (CHECK_RV(P11->C_FindObjectsInit(h, NULL, 0), CKR_OK)) {
		CHECK_RV(P11->C_FindObjects(h, NULL, 4, &n), CKR_ARGUMENTS_BAD);
		CHECK_RV(P11->C_FindObjects(h, got, 4, NULL), CKR_ARGUMENTS_BAD);
		CHECK_RV(P11->C_FindObjectsFinal(h), CKR_OK);
	}
}

static void null_crypto(fixture *f)
{
	CK_MECHANISM gcm, ecdsa = { CKM_ECDSA, NULL, 0 }, gen = { CKM_AES_KEY_GEN, NULL, 0 },
	                  pair = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_GCM_PARAMS gp;
	CK_BYTE iv[12] = { 0 }, data[32] = { 0 }, out[128];
	CK_ULONG len = sizeof(out), vlen = 32;
	CK_OBJECT_HANDLE k, k2;
	CK_ATTRIBUTE kt[] = { CH_T_ULONG(CKA_VALUE_LEN, &vlen) };
	CK_ATTRIBUTE pt[] = { CH_T_ATTR(CKA_EC_PARAMS, ch_t_p256_params,
		                        sizeof(ch_t_p256_params)) };
	CK_SESSION_HANDLE h;

	ch_t_gcm(&gcm, &gp, iv, NULL, 0);
	h = fresh(f);
	CHECK_RV(P11->C_EncryptInit(h, NULL, f->aes), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_DecryptInit(h, NULL, f->aes), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_SignInit(h, NULL, f->priv), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_VerifyInit(h, NULL, f->pub), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_DigestInit(h, NULL), CKR_ARGUMENTS_BAD);

	/* Each of these may end the operation (5.2): a session each. */
	h = fresh(f);
	if (CHECK_RV(P11->C_EncryptInit(h, &gcm, f->aes), CKR_OK))
		CHECK_RV(P11->C_Encrypt(h, NULL, 16, out, &len), CKR_ARGUMENTS_BAD);
	h = fresh(f);
	if (CHECK_RV(P11->C_EncryptInit(h, &gcm, f->aes), CKR_OK))
		CHECK_RV(P11->C_Encrypt(h, data, 16, out, NULL), CKR_ARGUMENTS_BAD);
	h = fresh(f);
	if (CHECK_RV(P11->C_DecryptInit(h, &gcm, f->aes), CKR_OK))
		CHECK_RV(P11->C_Decrypt(h, NULL, 32, out, &len), CKR_ARGUMENTS_BAD);
	h = fresh(f);
	if (CHECK_RV(P11->C_SignInit(h, &ecdsa, f->priv), CKR_OK))
		CHECK_RV(P11->C_Sign(h, data, 32, out, NULL), CKR_ARGUMENTS_BAD);
	h = fresh(f);
	if (CHECK_RV(P11->C_SignInit(h, &ecdsa, f->priv), CKR_OK))
		CHECK_RV(P11->C_Sign(h, NULL, 32, out, &len), CKR_ARGUMENTS_BAD);
	h = fresh(f);
	if (CHECK_RV(P11->C_VerifyInit(h, &ecdsa, f->pub), CKR_OK))
		CHECK_RV(P11->C_Verify(h, data, 32, NULL, 64), CKR_ARGUMENTS_BAD);
	h = fresh(f);
	if (CHECK_RV(P11->C_VerifyInit(h, &ecdsa, f->pub), CKR_OK))
		CHECK_RV(P11->C_Verify(h, NULL, 32, out, 64), CKR_ARGUMENTS_BAD);

	h = fresh(f);
	CHECK_RV(P11->C_GenerateKey(h, NULL, kt, 1, &k), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GenerateKey(h, &gen, NULL, 1, &k), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GenerateKey(h, &gen, kt, 1, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GenerateKeyPair(h, NULL, pt, 1, NULL, 0, &k, &k2), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GenerateKeyPair(h, &pair, NULL, 1, NULL, 0, &k, &k2), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GenerateKeyPair(h, &pair, pt, 1, NULL, 3, &k, &k2), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GenerateKeyPair(h, &pair, pt, 1, NULL, 0, NULL, &k2), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GenerateKeyPair(h, &pair, pt, 1, NULL, 0, &k, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_GenerateRandom(h, NULL, 16), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_SeedRandom(h, NULL, 16), CKR_ARGUMENTS_BAD);
}

static void test_null_pointers_are_arguments_bad(void)
{
	run_group(null_general_and_slot);
	run_group(null_session_and_login);
	run_group(null_objects);
	run_group(null_crypto);
}

/* ---- handles ---- */

/* Every session function, with good arguments but session handle bad. */
static void session_calls(fixture *f, CK_SESSION_HANDLE bad)
{
	CK_SESSION_INFO si;
	CK_BYTE buf[64];
	CK_ULONG len = sizeof(buf), n;
	CK_OBJECT_HANDLE o, o2, got[4];
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = { CH_T_ULONG(CKA_CLASS, &cls), CH_T_BOOL(CKA_TOKEN, true) };
	CK_ATTRIBUTE get[] = { CH_T_ATTR(CKA_LABEL, buf, sizeof(buf)) };
	CK_ATTRIBUTE set[] = { CH_T_STR(CKA_LABEL, "x") };
	CK_MECHANISM gcm, ecdsa = { CKM_ECDSA, NULL, 0 }, sha = { CKM_SHA256, NULL, 0 },
	                  gen = { CKM_AES_KEY_GEN, NULL, 0 },
	                  pair = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_GCM_PARAMS gp;
	CK_BYTE iv[12] = { 0 };
	CK_ULONG vlen = 32;
	CK_ATTRIBUTE kt[] = { CH_T_ULONG(CKA_VALUE_LEN, &vlen) };
	CK_ATTRIBUTE pt[] = { CH_T_ATTR(CKA_EC_PARAMS, ch_t_p256_params,
		                        sizeof(ch_t_p256_params)) };
	const CK_UTF8CHAR_PTR pin = (CK_UTF8CHAR_PTR)CH_T_USER_PIN;
	CK_ULONG pin_len = strlen(CH_T_USER_PIN);
	const CK_RV want = CKR_SESSION_HANDLE_INVALID;

	fprintf(stderr, "    session handle 0x%lx\n", (unsigned long)bad);
	ch_t_gcm(&gcm, &gp, iv, NULL, 0);
	CHECK_RV(P11->C_GetSessionInfo(bad, &si), want);
	CHECK_RV(P11->C_Login(bad, CKU_USER, pin, pin_len), want);
	CHECK_RV(P11->C_Logout(bad), want);
	CHECK_RV(P11->C_InitPIN(bad, pin, pin_len), want);
	CHECK_RV(P11->C_SetPIN(bad, pin, pin_len, pin, pin_len), want);
	CHECK_RV(P11->C_CreateObject(bad, t, 2, &o), want);
	CHECK_RV(P11->C_CopyObject(bad, f->data, NULL, 0, &o2), want);
	CHECK_RV(P11->C_DestroyObject(bad, f->data), want);
	CHECK_RV(P11->C_GetObjectSize(bad, f->data, &n), want);
	CHECK_RV(P11->C_GetAttributeValue(bad, f->data, get, 1), want);
	CHECK_RV(P11->C_SetAttributeValue(bad, f->data, set, 1), want);
	CHECK_RV(P11->C_FindObjectsInit(bad, NULL, 0), want);
	CHECK_RV(P11->C_FindObjects(bad, got, 4, &n), want);
	CHECK_RV(P11->C_FindObjectsFinal(bad), want);
	CHECK_RV(P11->C_EncryptInit(bad, &gcm, f->aes), want);
	CHECK_RV(P11->C_Encrypt(bad, buf, 16, buf, &len), want);
	CHECK_RV(P11->C_DecryptInit(bad, &gcm, f->aes), want);
	CHECK_RV(P11->C_Decrypt(bad, buf, 32, buf, &len), want);
	CHECK_RV(P11->C_SignInit(bad, &ecdsa, f->priv), want);
	CHECK_RV(P11->C_Sign(bad, buf, 32, buf, &len), want);
	CHECK_RV(P11->C_VerifyInit(bad, &ecdsa, f->pub), want);
	CHECK_RV(P11->C_Verify(bad, buf, 32, buf, 64), want);
	CHECK_RV(P11->C_DigestInit(bad, &sha), want);
	CHECK_RV(P11->C_GenerateKey(bad, &gen, kt, 1, &o), want);
	CHECK_RV(P11->C_GenerateKeyPair(bad, &pair, pt, 1, NULL, 0, &o, &o2), want);
	CHECK_RV(P11->C_GenerateRandom(bad, buf, 16), want);
	CHECK_RV(P11->C_SeedRandom(bad, buf, 16), want);
	CHECK_RV(P11->C_CloseSession(bad), want);
}

static void bad_sessions(fixture *f)
{
	session_calls(f, CK_INVALID_HANDLE);
	session_calls(f, 0xdead);
	session_calls(f, f->closed);
	/* The good session is still good. */
	CHECK_RV(P11->C_GetSessionInfo(f->h, &(CK_SESSION_INFO){ 0 }), CKR_OK);
}

static void test_invalid_session_handles(void)
{
	run_group(bad_sessions);
}

/* Every object function, and every key function, on object handle bad. */
static void object_calls(fixture *f, CK_OBJECT_HANDLE bad)
{
	CK_SESSION_HANDLE h = f->h;
	CK_BYTE buf[64];
	CK_ULONG n;
	CK_OBJECT_HANDLE o;
	CK_ATTRIBUTE get[] = { CH_T_ATTR(CKA_LABEL, buf, sizeof(buf)) };
	CK_ATTRIBUTE set[] = { CH_T_STR(CKA_LABEL, "x") };
	CK_MECHANISM gcm, ecdsa = { CKM_ECDSA, NULL, 0 };
	CK_GCM_PARAMS gp;
	CK_BYTE iv[12] = { 0 };

	fprintf(stderr, "    object handle 0x%lx\n", (unsigned long)bad);
	ch_t_gcm(&gcm, &gp, iv, NULL, 0);
	CHECK_RV(P11->C_GetAttributeValue(h, bad, get, 1), CKR_OBJECT_HANDLE_INVALID);
	CHECK_RV(P11->C_SetAttributeValue(h, bad, set, 1), CKR_OBJECT_HANDLE_INVALID);
	CHECK_RV(P11->C_CopyObject(h, bad, NULL, 0, &o), CKR_OBJECT_HANDLE_INVALID);
	CHECK_RV(P11->C_GetObjectSize(h, bad, &n), CKR_OBJECT_HANDLE_INVALID);
	CHECK_RV(P11->C_DestroyObject(h, bad), CKR_OBJECT_HANDLE_INVALID);
	CHECK_RV(P11->C_EncryptInit(h, &gcm, bad), CKR_KEY_HANDLE_INVALID);
	CHECK_RV(P11->C_DecryptInit(h, &gcm, bad), CKR_KEY_HANDLE_INVALID);
	CHECK_RV(P11->C_SignInit(h, &ecdsa, bad), CKR_KEY_HANDLE_INVALID);
	CHECK_RV(P11->C_VerifyInit(h, &ecdsa, bad), CKR_KEY_HANDLE_INVALID);
}

static void bad_objects(fixture *f)
{
	object_calls(f, CK_INVALID_HANDLE);
	object_calls(f, 0x7777);
	object_calls(f, 0x80001234UL);
	object_calls(f, f->destroyed);
	/* Another registration's object is not there for this one. */
	object_calls(f, f->other_data);
	/* The good ones are still good. */
	CHECK(ch_t_get_bool(f->h, f->data, CKA_TOKEN) == 1);
	CHECK(ch_t_get_bool(f->h, f->aes, CKA_TOKEN) == 1);
}

static void test_invalid_object_and_key_handles(void)
{
	run_group(bad_objects);
}

static void bad_slots(fixture *f)
{
	static const CK_SLOT_ID bad[] = { 0, 999, 0xffffffffUL };
	CK_UTF8CHAR label[32];

	ch_t_pad(label, sizeof(label), "never");
	for (size_t i = 0; i < CH_T_ARRAY_LEN(bad); i++) {
		CK_SLOT_ID s = bad[i];
		CK_SLOT_INFO si;
		CK_TOKEN_INFO ti;
		CK_MECHANISM_TYPE mechs[32];
		CK_MECHANISM_INFO mi;
		CK_ULONG n = 32;
		CK_SESSION_HANDLE h;

		fprintf(stderr, "    slot %lu\n", (unsigned long)s);
		CHECK_RV(P11->C_GetSlotInfo(s, &si), CKR_SLOT_ID_INVALID);
		CHECK_RV(P11->C_GetTokenInfo(s, &ti), CKR_SLOT_ID_INVALID);
		CHECK_RV(P11->C_GetMechanismList(s, mechs, &n), CKR_SLOT_ID_INVALID);
		CHECK_RV(P11->C_GetMechanismInfo(s, CKM_AES_GCM, &mi), CKR_SLOT_ID_INVALID);
		CHECK_RV(P11->C_InitToken(s, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN),
		                          label),
		         CKR_SLOT_ID_INVALID);
		CHECK_RV(ch_t_open(s, true, &h), CKR_SLOT_ID_INVALID);
		CHECK_RV(P11->C_CloseAllSessions(s), CKR_SLOT_ID_INVALID);
	}
	CHECK_RV(P11->C_GetSessionInfo(f->h, &(CK_SESSION_INFO){ 0 }), CKR_OK);
}

static void test_invalid_slot_ids(void)
{
	run_group(bad_slots);
}

static void bad_attribute_types(fixture *f)
{
	CK_SESSION_HANDLE h = f->h;
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BYTE v[4] = { 1, 2, 3, 4 }, buf[16];
	CK_OBJECT_HANDLE o;
	CK_ATTRIBUTE create[] = { CH_T_ULONG(CKA_CLASS, &cls), CH_T_BOOL(CKA_TOKEN, true),
		                  CH_T_ATTR(UNKNOWN_ATTRIBUTE, v, 4) };
	CK_ATTRIBUTE get[] = { CH_T_ATTR(UNKNOWN_ATTRIBUTE, buf, sizeof(buf)) };
	CK_ATTRIBUTE set[] = { CH_T_ATTR(UNKNOWN_ATTRIBUTE, v, 4) };
	/* An attribute the spec defines, but not for this class. */
	CK_ATTRIBUTE foreign[] = { CH_T_ATTR(CKA_MODULUS, v, 4) };

	CHECK_RV(P11->C_CreateObject(h, create, 3, &o), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK_RV(P11->C_GetAttributeValue(h, f->data, get, 1), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK_UL(get[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CHECK_RV(P11->C_SetAttributeValue(h, f->data, set, 1), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK_RV2(P11->C_SetAttributeValue(h, f->aes, foreign, 1), CKR_ATTRIBUTE_TYPE_INVALID,
	          CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(P11->C_CopyObject(h, f->data, set, 1, &o), CKR_ATTRIBUTE_TYPE_INVALID);
}

static void test_unknown_attribute_types(void)
{
	run_group(bad_attribute_types);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_null_pointers_are_arguments_bad), CH_T_CASE(test_invalid_session_handles),
	CH_T_CASE(test_invalid_object_and_key_handles),  CH_T_CASE(test_invalid_slot_ids),
	CH_T_CASE(test_unknown_attribute_types),
};

int main(void)
{
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
