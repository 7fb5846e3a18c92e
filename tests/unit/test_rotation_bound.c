/*
 * Rotation by number of encryptions (issue 8, point 2, the AES-GCM clause):
 * CKA_CH_MAX_ENCRYPTIONS, a family policy an operator sets and a rotation
 * copies, and CKA_CH_ENCRYPTIONS, the read-only count of encryptions and
 * wraps made with a version (decryptions not counted), durable across
 * module instances and made again from the audit log by the schema 4
 * migration; the versioned mechanism, rewraps and data keys count too.  A
 * primary at its bound is recorded once as key.rotation_due; its next
 * version counts from 0.  Bad input (setting the count, a
 * non-operator setting the bound, a bound of the wrong size) is refused and
 * leaves the store as it was.  (`cipherhub key max-encryptions` and
 * `rotate --due`: tests/integration/test_key_lifecycle.sh.)
 *
 * Children (this executable started again with "child encrypt HANDLE N GO")
 * encrypt N times at once with the parent: exit 0 when every one worked.
 */
#include <sqlite3.h>

#include "module.h"
#include "store_rows.h"

#define V ch_t_vendor()

#define PIN_ULLA "ulla-pin-5150"

static CK_ULONG get_ulong(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
	CK_ULONG v = 0xdeadUL, len = sizeof(v);

	if (ch_t_get(h, o, type, &v, &len) != CKR_OK || len != sizeof(v))
		return 0xdeadUL;
	return v;
}

static CK_RV set_ulong(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
	CK_ATTRIBUTE t[] = { CH_T_ULONG(type, &v) };

	return P11->C_SetAttributeValue(h, o, t, 1);
}

/* One AES-GCM encryption (enc) or a decryption of 17 zero bytes (which
 * fails its tag, but was begun: an init that decrypts). */
static CK_RV use(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, bool enc)
{
	CK_BYTE iv[12] = { 0 }, in[17] = { 0 }, out[64];
	CK_ULONG len = sizeof(out);
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	CK_RV rv;

	ch_t_gcm(&m, &p, iv, NULL, 0);
	rv = enc ? P11->C_EncryptInit(h, &m, key) : P11->C_DecryptInit(h, &m, key);
	if (rv != CKR_OK)
		return rv;
	if (enc)
		return P11->C_Encrypt(h, (CK_BYTE_PTR) "x", 1, out, &len);
	(void)P11->C_Decrypt(h, in, sizeof(in), out, &len);
	return CKR_OK;
}

/* The key.rotation_due records of slot's log, read as the SO on a session
 * of its own after logging out whoever was logged in (log in again after);
 * *detail gets the last one's detail.  -1 on failure. */
static long due_records(CK_SLOT_ID slot, char detail[65])
{
	CK_SESSION_HANDLE ha;
	CH_AUDIT_RECORD *rec = NULL;
	CK_ULONG n = 0;
	long due = -1;

	detail[0] = '\0';
	if (ch_t_open(slot, true, &ha) != CKR_OK)
		return -1;
	(void)P11->C_Logout(ha); /* whoever was logged in (their counts are written) */
	if (ch_t_login(ha, CKU_SO, CH_T_SO_PIN) != CKR_OK ||
	    V->CH_AuditRead(ha, 1, NULL, &n) != CKR_OK ||
	    (rec = calloc(n + 1, sizeof(*rec))) == NULL ||
	    V->CH_AuditRead(ha, 1, rec, &n) != CKR_OK)
		goto out;
	due = 0;
	for (CK_ULONG i = 0; i < n; i++) {
		if (!ch_t_padded_is(rec[i].operation, sizeof(rec[i].operation), "key.rotation_due"))
			continue;
		due++;
		memcpy(detail, rec[i].detail, 64);
		detail[64] = '\0';
		for (int j = 63; j >= 0 && detail[j] == ' '; j--)
			detail[j] = '\0';
	}
out:
	free(rec);
	(void)P11->C_Logout(ha);
	(void)P11->C_CloseSession(ha);
	return due;
}

/* A token AES-256 key for wrap and unwrap labelled label, with a bound of
 * encryptions in its template when bound is not 0. */
static CK_RV gen_kek(CK_SESSION_HANDLE h, const char *label, CK_ULONG bound, CK_OBJECT_HANDLE *o)
{
	CK_MECHANISM gm = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG klen = 32;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &klen), CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_WRAP, true),        CH_T_BOOL(CKA_UNWRAP, true),
		CH_T_STR(CKA_LABEL, label),       CH_T_ULONG(CKA_CH_MAX_ENCRYPTIONS, &bound),
	};

	return P11->C_GenerateKey(h, &gm, t, CH_T_ARRAY_LEN(t) - (bound == 0), o);
}

/* Wraps a new session key under kek (NULL out: the length query only). */
static CK_RV wrap(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE kek, bool for_real)
{
	CK_MECHANISM wm = { CKM_AES_KEY_WRAP_KWP, NULL, 0 };
	CK_OBJECT_HANDLE data;
	CK_BYTE blob[128];
	CK_ULONG bl = sizeof(blob);
	CK_RV rv;

	if ((rv = ch_t_gen_aes(h, false, "data", &data)) != CKR_OK)
		return rv;
	rv = P11->C_WrapKey(h, &wm, kek, data, for_real ? blob : NULL, &bl);
	(void)P11->C_DestroyObject(h, data);
	return rv;
}

/* The one object labelled label (CK_INVALID_HANDLE when not one). */
static CK_OBJECT_HANDLE by_label(CK_SESSION_HANDLE h, const char *label)
{
	CK_ATTRIBUTE t[] = { CH_T_STR(CKA_LABEL, label) };
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;

	if (ch_t_find(h, t, 1, found, 2, &n) != CKR_OK || n != 1)
		return CK_INVALID_HANDLE;
	return found[0];
}

/* Every key_use row of the store, as one string (caller frees). */
static char *key_use_rows(const char *path)
{
	static const char *const q[] = {
		"SELECT reg, object, encryptions FROM key_use ORDER BY 1, 2",
	};

	return ch_t_rows_of(path, q, CH_T_ARRAY_LEN(q));
}

static void test_encryptions_count_up_to_the_bound_and_the_primary_is_due_once(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2;
	char detail[65];

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "gcm-kek", &v1), CKR_OK);
	CHECK_UL(get_ulong(h, v1, CKA_CH_ENCRYPTIONS), 0);
	CHECK_UL(get_ulong(h, v1, CKA_CH_MAX_ENCRYPTIONS), 0xdeadUL); /* no bound: absent */
	REQUIRE_RV(set_ulong(h, v1, CKA_CH_MAX_ENCRYPTIONS, 5), CKR_OK);
	CHECK_UL(get_ulong(h, v1, CKA_CH_MAX_ENCRYPTIONS), 5);
	for (int i = 0; i < 4; i++)
		CHECK_RV(use(h, v1, true), CKR_OK);
	CHECK_RV(use(h, v1, false), CKR_OK); /* decryptions do not count */
	CHECK_RV(use(h, v1, false), CKR_OK);
	CHECK_UL(get_ulong(h, v1, CKA_CH_ENCRYPTIONS), 4);
	CHECK(due_records(e.slot, detail) == 0);

	/* The fifth reaches the bound: recorded once, however often it is
	 * used after. */
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK_RV(use(h, v1, true), CKR_OK);
	CHECK_RV(use(h, v1, true), CKR_OK);
	CHECK_UL(get_ulong(h, v1, CKA_CH_ENCRYPTIONS), 6);
	CHECK(due_records(e.slot, detail) == 1);
	CHECK(strcmp(detail, "encryptions 5, bound 5") == 0);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK_RV(use(h, v1, true), CKR_OK);
	CHECK(due_records(e.slot, detail) == 1);
	/* The check only records: the family still has one key. */
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK(ch_t_count_label(h, "gcm-kek") == 1);

	/* A rotation copies the bound; the new version counts from 0. */
	REQUIRE_RV(V->CH_KeyRotate(h, v1, &v2), CKR_OK);
	CHECK_UL(get_ulong(h, v2, CKA_CH_MAX_ENCRYPTIONS), 5);
	CHECK_UL(get_ulong(h, v2, CKA_CH_ENCRYPTIONS), 0);
	CHECK_UL(get_ulong(h, v1, CKA_CH_ENCRYPTIONS), 7);
	CHECK_RV(use(h, v2, true), CKR_OK);
	CHECK_UL(get_ulong(h, v2, CKA_CH_ENCRYPTIONS), 1);
	CHECK_UL(get_ulong(h, v1, CKA_CH_ENCRYPTIONS), 7);
	/* v1 decrypts only now: still not counted. */
	CHECK_RV(use(h, v1, false), CKR_OK);
	CHECK_UL(get_ulong(h, v1, CKA_CH_ENCRYPTIONS), 7);
out:
	ch_t_env_free(&e);
}

static void test_the_count_lasts_across_module_instances_and_wraps_count(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE kek, k;
	char detail[65];

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(gen_kek(h, "kek", 2, &kek), CKR_OK); /* the bound in the template */
	REQUIRE_RV(ch_t_gen_aes(h, true, "k", &k), CKR_OK);
	CHECK_UL(get_ulong(h, kek, CKA_CH_MAX_ENCRYPTIONS), 2);
	/* A length query wraps nothing; each wrap is one encryption, and the
	 * second reaches the bound. */
	REQUIRE_RV(wrap(h, kek, false), CKR_OK);
	CHECK_UL(get_ulong(h, kek, CKA_CH_ENCRYPTIONS), 0);
	REQUIRE_RV(wrap(h, kek, true), CKR_OK);
	CHECK_UL(get_ulong(h, kek, CKA_CH_ENCRYPTIONS), 1);
	REQUIRE_RV(wrap(h, kek, true), CKR_OK);
	CHECK_UL(get_ulong(h, kek, CKA_CH_ENCRYPTIONS), 2);
	for (int i = 0; i < 3; i++)
		CHECK_RV(use(h, k, true), CKR_OK);
	CHECK(due_records(e.slot, detail) == 1);
	CHECK(strcmp(detail, "encryptions 2, bound 2") == 0);

	/* C_Finalize writes what is pending; a new instance reads it back. */
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK_RV(use(h, k, true), CKR_OK);
	(void)P11->C_Finalize(NULL);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE((k = by_label(h, "k")) != CK_INVALID_HANDLE);
	REQUIRE((kek = by_label(h, "kek")) != CK_INVALID_HANDLE);
	CHECK_UL(get_ulong(h, k, CKA_CH_ENCRYPTIONS), 4);
	CHECK_UL(get_ulong(h, kek, CKA_CH_ENCRYPTIONS), 2);
	/* Still recorded once: once per process, and this is the same one. */
	REQUIRE_RV(wrap(h, kek, true), CKR_OK);
	CHECK_UL(get_ulong(h, kek, CKA_CH_ENCRYPTIONS), 3);
	CHECK(due_records(e.slot, detail) == 1);
out:
	ch_t_env_free(&e);
}

static void test_the_count_is_read_only_and_only_an_operator_sets_the_bound(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h, hu;
	CK_OBJECT_HANDLE k, sk, x = CK_INVALID_HANDLE;
	CK_MECHANISM gm = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG klen = 32, five = 5;
	CK_ATTRIBUTE gt[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &klen),
		CH_T_BOOL(CKA_TOKEN, true),
		CH_T_STR(CKA_LABEL, "no"),
		CH_T_ULONG(CKA_CH_ENCRYPTIONS, &five),
	};
	CK_BYTE small = 5;
	CK_ATTRIBUTE bad_len[] = { CH_T_ATTR(CKA_CH_MAX_ENCRYPTIONS, &small, 1) };
	char *before = NULL, *after = NULL, *ku_before = NULL, *ku_after = NULL;
	CK_ULONG len;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(ch_t_participant_add(h, "ulla", CH_ROLE_USER, PIN_ULLA), CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "k", &k), CKR_OK);
	REQUIRE_RV(set_ulong(h, k, CKA_CH_MAX_ENCRYPTIONS, 100), CKR_OK);
	REQUIRE_RV(V->CH_GrantSet(h, k, (CK_UTF8CHAR_PTR) "ulla", 4, CH_GRANT_ALL), CKR_OK);
	CHECK_RV(use(h, k, true), CKR_OK);
	CHECK_UL(get_ulong(h, k, CKA_CH_ENCRYPTIONS), 1);
	/* A session key has no count. */
	REQUIRE_RV(ch_t_gen_aes(h, false, "s", &sk), CKR_OK);
	len = sizeof(CK_ULONG);
	CHECK_RV(ch_t_get(h, sk, CKA_CH_ENCRYPTIONS, &five, &len), CKR_ATTRIBUTE_TYPE_INVALID);

	before = ch_t_store_rows(e.store);
	ku_before = key_use_rows(e.store);
	CHECK_RV(set_ulong(h, k, CKA_CH_ENCRYPTIONS, 0), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(P11->C_SetAttributeValue(h, k, bad_len, 1), CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK_RV(P11->C_GenerateKey(h, &gm, gt, CH_T_ARRAY_LEN(gt), &x), CKR_ATTRIBUTE_READ_ONLY);
	/* A user with every grant may use the key but not change its policy. */
	REQUIRE_RV(ch_t_open(e.slot, true, &hu), CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_login_as(hu, CKU_USER, "ulla", PIN_ULLA), CKR_OK);
	CHECK_UL(get_ulong(hu, k, CKA_CH_MAX_ENCRYPTIONS), 100);
	CHECK_RV(set_ulong(hu, k, CKA_CH_MAX_ENCRYPTIONS, 1000000), CKR_ACTION_PROHIBITED);
	CHECK_RV(set_ulong(hu, k, CKA_CH_MAX_ENCRYPTIONS, 0), CKR_ACTION_PROHIBITED);
	after = ch_t_store_rows(e.store);
	ku_after = key_use_rows(e.store);
	CHECK(before != NULL && after != NULL && strcmp(before, after) == 0);
	CHECK(ku_before != NULL && ku_after != NULL && strcmp(ku_before, ku_after) == 0);
	CHECK_UL(get_ulong(hu, k, CKA_CH_MAX_ENCRYPTIONS), 100);
out:
	free(before);
	free(after);
	free(ku_before);
	free(ku_after);
	ch_t_env_free(&e);
}

/* Message-based encryption counts each message; message-based decryption
 * nothing. */
static void test_each_message_of_a_message_based_encryption_counts(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k;
	CK_MECHANISM gcm = { CKM_AES_GCM, NULL, 0 };
	CK_GCM_MESSAGE_PARAMS p;
	CK_BYTE iv[12], tag[3][16], text[16] = { 5 }, ct[3][16], out[16];
	CK_ULONG n;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "msgs", &k), CKR_OK);
	REQUIRE_RV(set_ulong(h, k, CKA_CH_MAX_ENCRYPTIONS, 100), CKR_OK);
	REQUIRE_RV(P11->C_MessageEncryptInit(h, &gcm, k), CKR_OK);
	for (int i = 0; i < 3; i++) {
		memset(iv, i + 1, sizeof(iv));
		p = (CK_GCM_MESSAGE_PARAMS){ iv, sizeof(iv), 0, CKG_NO_GENERATE, tag[i], 128 };
		n = sizeof(ct[i]);
		REQUIRE_RV(P11->C_EncryptMessage(h, &p, sizeof(p), NULL, 0, text, sizeof(text),
		                                 ct[i], &n),
		           CKR_OK);
	}
	REQUIRE_RV(P11->C_MessageEncryptFinal(h), CKR_OK);
	CHECK_UL(get_ulong(h, k, CKA_CH_ENCRYPTIONS), 3);
	REQUIRE_RV(P11->C_MessageDecryptInit(h, &gcm, k), CKR_OK);
	for (int i = 0; i < 3; i++) {
		memset(iv, i + 1, sizeof(iv));
		p = (CK_GCM_MESSAGE_PARAMS){ iv, sizeof(iv), 0, CKG_NO_GENERATE, tag[i], 128 };
		n = sizeof(out);
		CHECK_RV(P11->C_DecryptMessage(h, &p, sizeof(p), NULL, 0, ct[i], sizeof(ct[i]), out,
		                               &n),
		         CKR_OK);
	}
	REQUIRE_RV(P11->C_MessageDecryptFinal(h), CKR_OK);
	CHECK_UL(get_ulong(h, k, CKA_CH_ENCRYPTIONS), 3);
out:
	ch_t_env_free(&e);
}

/* The versioned mechanism's encryptions, a rewrap's encryption under the
 * primary and each data key's wrap count too (decrypting for a rewrap does
 * not); a data key that reaches the KEK's bound is recorded. */
static void test_versioned_encryptions_rewraps_and_data_keys_count(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k1, k2, kek;
	CK_MECHANISM vm = { CKM_CH_AES_GCM_VERSIONED, NULL, 0 };
	CK_BYTE ct[128], ct2[128], w[128];
	CK_ULONG n = sizeof(ct), n2 = sizeof(ct2), wn;
	char detail[65];

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "vk", &k1), CKR_OK);
	REQUIRE_RV(P11->C_EncryptInit(h, &vm, k1), CKR_OK);
	REQUIRE_RV(P11->C_Encrypt(h, (CK_BYTE_PTR) "versioned", 9, ct, &n), CKR_OK);
	CHECK_UL(get_ulong(h, k1, CKA_CH_ENCRYPTIONS), 1);
	REQUIRE_RV(V->CH_KeyRotate(h, k1, &k2), CKR_OK);
	REQUIRE_RV(V->CH_Rewrap(h, &vm, k1, ct, n, ct2, &n2), CKR_OK);
	CHECK_UL(get_ulong(h, k1, CKA_CH_ENCRYPTIONS), 1);
	CHECK_UL(get_ulong(h, k2, CKA_CH_ENCRYPTIONS), 1);

	REQUIRE_RV(gen_kek(h, "dk-kek", 2, &kek), CKR_OK);
	for (int i = 0; i < 2; i++) {
		wn = sizeof(w);
		REQUIRE_RV(V->CH_DataKeyGenerate(h, &vm, kek, 32, w, &wn, NULL, NULL), CKR_OK);
	}
	wn = 0;
	REQUIRE_RV(V->CH_DataKeyGenerate(h, &vm, kek, 32, NULL, &wn, NULL, NULL), CKR_OK);
	CHECK_UL(get_ulong(h, kek, CKA_CH_ENCRYPTIONS), 2); /* a length query wraps nothing */
	CHECK(due_records(e.slot, detail) == 1);
	CHECK(strcmp(detail, "encryptions 2, bound 2") == 0);
out:
	ch_t_env_free(&e);
}

static void test_a_schema_3_store_gets_its_counts_from_the_audit_log(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k, kek;
	sqlite3 *db = NULL;
	char *before = NULL, *after = NULL;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "old", &k), CKR_OK);
	REQUIRE_RV(gen_kek(h, "kek", 0, &kek), CKR_OK);
	for (int i = 0; i < 3; i++)
		CHECK_RV(use(h, k, true), CKR_OK);
	CHECK_RV(use(h, k, false), CKR_OK);
	(void)P11->C_Logout(h); /* writes the counts */
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK_RV(use(h, k, true), CKR_OK);
	REQUIRE_RV(wrap(h, kek, true), CKR_OK);
	(void)P11->C_Finalize(NULL);
	before = key_use_rows(e.store);

	/* Back to schema 3: no key_use table. */
	REQUIRE(sqlite3_open(e.store, &db) == SQLITE_OK);
	REQUIRE(sqlite3_exec(db,
	                     "DROP TABLE key_use;"
	                     "UPDATE meta SET value = 3 WHERE key = 'schema_version'",
	                     NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	db = NULL;
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	CHECK(ch_t_log_has(&e, "schema migrated to version 4"));
	after = key_use_rows(e.store);
	CHECK(before != NULL && after != NULL && strcmp(before, after) == 0);
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE((k = by_label(h, "old")) != CK_INVALID_HANDLE);
	REQUIRE((kek = by_label(h, "kek")) != CK_INVALID_HANDLE);
	CHECK_UL(get_ulong(h, k, CKA_CH_ENCRYPTIONS), 4);
	CHECK_UL(get_ulong(h, kek, CKA_CH_ENCRYPTIONS), 1);
out:
	sqlite3_close(db);
	free(before);
	free(after);
	ch_t_env_free(&e);
}

/* A child ("child encrypt HANDLE N GO"): logs in, waits for the file GO,
 * makes N encryptions with key HANDLE and finalizes.  Exit 0 when all
 * worked. */
static int child_encrypt(CK_OBJECT_HANDLE key, int n, const char *go)
{
	CK_SESSION_HANDLE h;
	CK_RV rv;

	if (!ch_t_child_session(go, &h))
		return 2;
	for (int i = 0; i < n; i++)
		if ((rv = use(h, key, true)) != CKR_OK) {
			fprintf(stderr, "child %ld: encrypt: %s\n", (long)getpid(),
			        ch_test_rv_name(rv));
			return 1;
		}
	return 0;
}

/* Two processes and this one encrypt with one key at once: the count is
 * the sum (each process's counts are added in its own transactions). */
static void test_processes_encrypting_at_once_add_up(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k;
	char go[300], hs[32];
	char *args[] = { "child", "encrypt", hs, "20", go, NULL };
	pid_t a, b;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "mp", &k), CKR_OK);
	REQUIRE_RV(set_ulong(h, k, CKA_CH_MAX_ENCRYPTIONS, 1000), CKR_OK);
	snprintf(go, sizeof(go), "%s/go", e.dir);
	snprintf(hs, sizeof(hs), "%lu", (unsigned long)k);
	a = ch_t_spawn_self(args);
	b = ch_t_spawn_self(args);
	REQUIRE(a > 0 && b > 0);
	usleep(300000); /* both logged in and waiting */
	REQUIRE(ch_t_write_file(go, "go", 2));
	for (int i = 0; i < 20; i++)
		CHECK_RV(use(h, k, true), CKR_OK);
	CHECK(ch_t_wait(a) == 0);
	CHECK(ch_t_wait(b) == 0);
	CHECK_UL(get_ulong(h, k, CKA_CH_ENCRYPTIONS), 60);
out:
	ch_t_env_free(&e);
}

int main(int argc, char **argv)
{
	static const ch_t_case cases[] = {
		CH_T_CASE(test_encryptions_count_up_to_the_bound_and_the_primary_is_due_once),
		CH_T_CASE(test_the_count_lasts_across_module_instances_and_wraps_count),
		CH_T_CASE(test_the_count_is_read_only_and_only_an_operator_sets_the_bound),
		CH_T_CASE(test_each_message_of_a_message_based_encryption_counts),
		CH_T_CASE(test_versioned_encryptions_rewraps_and_data_keys_count),
		CH_T_CASE(test_a_schema_3_store_gets_its_counts_from_the_audit_log),
		CH_T_CASE(test_processes_encrypting_at_once_add_up),
	};

	if (argc >= 6 && strcmp(argv[1], "child") == 0 && strcmp(argv[2], "encrypt") == 0) {
		int status;

		if (!ch_t_load() || ch_t_initialize() != CKR_OK)
			return 2;
		status = child_encrypt((CK_OBJECT_HANDLE)strtoul(argv[3], NULL, 10), atoi(argv[4]),
		                       argv[5]);
		(void)P11->C_Finalize(NULL); /* writes its counts */
		return status;
	}

	return ch_t_run(cases, CH_T_ARRAY_LEN(cases));
}
