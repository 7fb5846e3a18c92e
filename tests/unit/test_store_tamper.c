/*
 * A store edited behind the module's back is detected, object by object.
 *
 * Token objects are created through the module; the module is finalized;
 * then this test opens store.db itself with SQLite and edits it the way an
 * attacker with the file would: flips a bit of a sealed key value, swaps the
 * sealed values of two objects, turns a usage flag on in an unsealed row of a
 * public key, marks a private object public, drops an attribute row.  Back
 * through the module each edited object must fail cleanly -- CKR_DEVICE_ERROR
 * when used by handle, absent from searches, one error line in the log naming
 * the object and its registration -- while an untouched object keeps working,
 * nothing crashes, and no plaintext reaches the log.
 *
 * The schema used here is the store's (token/store.c): objects(id = object
 * handle, reg = slot ID, private, ...), attributes(obj, type, sealed, value,
 * ...), sealed values being nonce(12) || ciphertext || tag(16).
 */
#include <stddef.h>

#include <sqlite3.h>

#include "module.h"

static const CK_BYTE victim_key[32] = { 0x71, 0x0e, 0xd3, 0x28, 0x95, 0x4a, 0xbf, 0x66,
	                                0x03, 0xc8, 0x5d, 0x92, 0x2f, 0xe4, 0x79, 0x1c,
	                                0xa0, 0x57, 0x3b, 0xf6, 0x8d, 0x12, 0xc9, 0x64,
	                                0xe1, 0x3e, 0x85, 0x2a, 0xd7, 0x40, 0x9f, 0x0b };
static const CK_BYTE bystander_key[32] = { 0x2c, 0xb1, 0x46, 0xfd, 0x18, 0x83, 0x6e, 0xa5,
	                                   0x3a, 0xdf, 0x04, 0x97, 0x5b, 0xe0, 0x21, 0x7c,
	                                   0xc6, 0x0d, 0x92, 0x45, 0xfa, 0x37, 0x68, 0xbe,
	                                   0x13, 0x8c, 0x51, 0xe9, 0x24, 0x7f, 0xa2, 0xd5 };
static const char value_a[] = "swap value A: 0123456789abcdef";
static const char value_b[] = "swap value B: fedcba9876543210";

/* Handles (= objects.id) of what the test made. */
typedef struct objs {
	CK_OBJECT_HANDLE victim, bystander, swap_a, swap_b, flip_sign, flip_extractable,
	        flip_private, dropped_row;
} objs;

static CK_RV create_public_key(CK_SESSION_HANDLE h, const char *label, CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),    CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, true),     CH_T_BOOL(CKA_PRIVATE, false),
		CH_T_BOOL(CKA_SENSITIVE, true), CH_T_BOOL(CKA_EXTRACTABLE, false),
		CH_T_BOOL(CKA_SIGN, false),     CH_T_BOOL(CKA_ENCRYPT, true),
		CH_T_STR(CKA_LABEL, label),     CH_T_ATTR(CKA_VALUE, victim_key, 16),
	};

	return P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), o);
}

static CK_RV make_objects(CK_SESSION_HANDLE h, objs *o)
{
	CK_RV rv;

	if ((rv = ch_t_create_aes(h, true, true, false, true, "victim", victim_key, 32,
	                          &o->victim)) != CKR_OK ||
	    (rv = ch_t_create_aes(h, true, true, false, true, "bystander", bystander_key, 32,
	                          &o->bystander)) != CKR_OK ||
	    (rv = ch_t_create_data(h, true, true, "swap-a", value_a, strlen(value_a),
	                           &o->swap_a)) != CKR_OK ||
	    (rv = ch_t_create_data(h, true, true, "swap-b", value_b, strlen(value_b),
	                           &o->swap_b)) != CKR_OK ||
	    (rv = create_public_key(h, "flip-sign", &o->flip_sign)) != CKR_OK ||
	    (rv = create_public_key(h, "flip-extractable", &o->flip_extractable)) != CKR_OK ||
	    (rv = ch_t_create_data(h, true, true, "flip-private", "p", 1, &o->flip_private)) !=
	            CKR_OK ||
	    (rv = ch_t_create_data(h, true, true, "dropped-row", "d", 1, &o->dropped_row)) !=
	            CKR_OK)
		return rv;
	return CKR_OK;
}

/* Runs one SQL statement: an optional blob is bound to its first parameter,
 * then a and b to the next ones (as many as it has).  Returns the number of
 * rows changed, or -1. */
static int sql_exec(sqlite3 *db, const char *sql, sqlite3_int64 a, sqlite3_int64 b,
                    const void *blob, int blob_len)
{
	sqlite3_stmt *st = NULL;
	int n = -1, idx = 1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	if (blob != NULL &&
	    sqlite3_bind_blob(st, idx++, blob, blob_len, SQLITE_TRANSIENT) != SQLITE_OK)
		goto out;
	/* The integers fill the remaining parameters, in order. */
	if (idx <= sqlite3_bind_parameter_count(st) &&
	    sqlite3_bind_int64(st, idx++, a) != SQLITE_OK)
		goto out;
	if (idx <= sqlite3_bind_parameter_count(st) &&
	    sqlite3_bind_int64(st, idx++, b) != SQLITE_OK)
		goto out;
	if (sqlite3_step(st) != SQLITE_DONE)
		goto out;
	n = sqlite3_changes(db);
out:
	if (n < 0)
		fprintf(stderr, "sql: %s: %s\n", sql, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return n;
}

/* Reads attribute type of object obj: its sealed flag and value (up to
 * max bytes).  Returns the value's length, or -1 when there is no row. */
static int sql_attr(sqlite3 *db, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, int *sealed,
                    unsigned char *out, int max)
{
	sqlite3_stmt *st = NULL;
	int n = -1;

	if (sqlite3_prepare_v2(db,
	                       "SELECT sealed, value FROM attributes WHERE obj = ? AND type = ?",
	                       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)obj);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)type);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto out;
	*sealed = sqlite3_column_int(st, 0);
	n = sqlite3_column_bytes(st, 1);
	if (n > max)
		n = max;
	if (n > 0)
		memcpy(out, sqlite3_column_blob(st, 1), (size_t)n);
out:
	if (n < 0)
		fprintf(stderr, "no attribute 0x%lx of object %lu in the store\n",
		        (unsigned long)type, (unsigned long)obj);
	sqlite3_finalize(st);
	return n;
}

static const char set_value[] = "UPDATE attributes SET value = ? WHERE obj = ? AND type = ?";

/* The edits, each on its own object.  Returns true when all were made. */
static bool tamper(const char *path, const objs *o)
{
	sqlite3 *db = NULL;
	unsigned char a[512], b[512];
	int la, lb, sa = 0, sb = 0;
	bool ok = false;

	if (!CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK))
		goto out;
	sqlite3_busy_timeout(db, 5000);

	/* 1. One bit of a sealed key value (past the 12-byte nonce). */
	la = sql_attr(db, o->victim, CKA_VALUE, &sa, a, sizeof(a));
	if (!CHECK(la > 12 + 16 && sa == 1))
		goto out;
	a[14] ^= 0x04;
	if (!CHECK(sql_exec(db, set_value, (sqlite3_int64)o->victim, CKA_VALUE, a, la) == 1))
		goto out;

	/* 2. Two objects' sealed values swapped. */
	la = sql_attr(db, o->swap_a, CKA_VALUE, &sa, a, sizeof(a));
	lb = sql_attr(db, o->swap_b, CKA_VALUE, &sb, b, sizeof(b));
	if (!CHECK(la > 0 && lb > 0 && sa == 1 && sb == 1))
		goto out;
	if (!CHECK(sql_exec(db, set_value, (sqlite3_int64)o->swap_a, CKA_VALUE, b, lb) == 1) ||
	    !CHECK(sql_exec(db, set_value, (sqlite3_int64)o->swap_b, CKA_VALUE, a, la) == 1))
		goto out;

	/* 3. and 4. Usage flags of public keys turned on where they are stored
	 * unsealed (a sealed flag would fail like case 1). */
	{
		static const struct {
			size_t off;
			CK_ATTRIBUTE_TYPE type;
		} flips[] = { { offsetof(objs, flip_sign), CKA_SIGN },
			      { offsetof(objs, flip_extractable), CKA_EXTRACTABLE } };

		for (size_t i = 0; i < CH_T_ARRAY_LEN(flips); i++) {
			CK_OBJECT_HANDLE h =
			        *(const CK_OBJECT_HANDLE *)((const char *)o + flips[i].off);
			CK_BYTE one = CK_TRUE;

			la = sql_attr(db, h, flips[i].type, &sa, a, sizeof(a));
			if (!CHECK(la > 0))
				goto out;
			if (sa == 0) {
				if (!CHECK(la == 1 && a[0] == CK_FALSE))
					goto out;
				if (!CHECK(sql_exec(db, set_value, (sqlite3_int64)h, flips[i].type,
				                    &one, 1) == 1))
					goto out;
			} else {
				a[la - 1] ^= 0x01;
				if (!CHECK(sql_exec(db, set_value, (sqlite3_int64)h, flips[i].type,
				                    a, la) == 1))
					goto out;
			}
		}
	}

	/* 5. A private object marked public. */
	if (!CHECK(sql_exec(db, "UPDATE objects SET private = 0 WHERE id = ?",
	                    (sqlite3_int64)o->flip_private, 0, NULL, 0) == 1))
		goto out;

	/* 6. An attribute row dropped. */
	if (!CHECK(sql_exec(db, "DELETE FROM attributes WHERE obj = ? AND type = ?",
	                    (sqlite3_int64)o->dropped_row, CKA_APPLICATION, NULL, 0) == 1))
		goto out;
	ok = true;
out:
	sqlite3_close(db);
	return ok;
}

/* True when h is among the n handles. */
static bool among(CK_OBJECT_HANDLE h, const CK_OBJECT_HANDLE *v, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++)
		if (v[i] == h)
			return true;
	return false;
}

static void test_tampered_objects_fail_cleanly_and_others_work(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	objs o;
	CK_OBJECT_HANDLE found[64];
	CK_ULONG n;
	unsigned char *log = NULL;
	size_t log_len = 0;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(make_objects(h, &o), CKR_OK);
	REQUIRE_RV(P11->C_Finalize(NULL), CKR_OK);
	REQUIRE(tamper(e.store, &o));

	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);

	/* Every edited object: an error when read by handle... */
	{
		const struct {
			const char *name;
			CK_OBJECT_HANDLE h;
		} bad[] = {
			{ "flipped sealed bit", o.victim },
			{ "swapped value A", o.swap_a },
			{ "swapped value B", o.swap_b },
			{ "CKA_SIGN turned on", o.flip_sign },
			{ "CKA_EXTRACTABLE turned on", o.flip_extractable },
			{ "private flag cleared", o.flip_private },
			{ "attribute row dropped", o.dropped_row },
		};
		for (size_t i = 0; i < CH_T_ARRAY_LEN(bad); i++) {
			CK_BYTE buf[64];
			CK_ATTRIBUTE t[] = { CH_T_ATTR(CKA_LABEL, buf, sizeof(buf)) };
			CK_ULONG size;

			fprintf(stderr, "    object %lu: %s\n", (unsigned long)bad[i].h,
			        bad[i].name);
			CHECK_RV(P11->C_GetAttributeValue(h, bad[i].h, t, 1), CKR_DEVICE_ERROR);
			CHECK_RV(P11->C_GetObjectSize(h, bad[i].h, &size), CKR_DEVICE_ERROR);
		}
	}
	/* ...and when used as a key. */
	{
		CK_MECHANISM m;
		CK_GCM_PARAMS gp;
		CK_BYTE iv[12] = { 0 };

		ch_t_gcm(&m, &gp, iv, NULL, 0);
		CHECK_RV(P11->C_EncryptInit(h, &m, o.victim), CKR_DEVICE_ERROR);
		CHECK_RV(P11->C_EncryptInit(h, &m, o.flip_sign), CKR_DEVICE_ERROR);
		CHECK_RV(P11->C_DecryptInit(h, &m, o.flip_extractable), CKR_DEVICE_ERROR);
	}

	/* Searches leave them out and keep the rest. */
	REQUIRE_RV(ch_t_find(h, NULL, 0, found, CH_T_ARRAY_LEN(found), &n), CKR_OK);
	CHECK_UL(n, 1);
	CHECK(among(o.bystander, found, n));
	CHECK(!among(o.victim, found, n));
	CHECK(!among(o.swap_a, found, n));
	CHECK(!among(o.swap_b, found, n));
	CHECK(!among(o.flip_sign, found, n));
	CHECK(!among(o.flip_extractable, found, n));
	CHECK(!among(o.flip_private, found, n));
	CHECK(!among(o.dropped_row, found, n));
	CHECK(ch_t_count_label(h, "victim") == 0);
	CHECK(ch_t_count_label(h, "flip-sign") == 0);

	/* The untouched key still works. */
	{
		CK_MECHANISM m;
		CK_GCM_PARAMS gp;
		CK_BYTE iv[12] = { 7 }, ct[64], pt[64], v[32];
		CK_ULONG ct_len = sizeof(ct), pt_len = sizeof(pt), vlen = sizeof(v);

		CHECK_RV(ch_t_get(h, o.bystander, CKA_VALUE, v, &vlen), CKR_OK);
		CHECK(vlen == 32 && memcmp(v, bystander_key, 32) == 0);
		ch_t_gcm(&m, &gp, iv, NULL, 0);
		REQUIRE_RV(P11->C_EncryptInit(h, &m, o.bystander), CKR_OK);
		REQUIRE_RV(P11->C_Encrypt(h, (CK_BYTE_PTR) "still fine", 10, ct, &ct_len), CKR_OK);
		REQUIRE_RV(P11->C_DecryptInit(h, &m, o.bystander), CKR_OK);
		REQUIRE_RV(P11->C_Decrypt(h, ct, ct_len, pt, &pt_len), CKR_OK);
		CHECK(pt_len == 10 && memcmp(pt, "still fine", 10) == 0);
	}
	/* New objects can still be made next to the damaged ones. */
	{
		CK_OBJECT_HANDLE fresh;
		CHECK_RV(ch_t_create_data(h, true, true, "after", "a", 1, &fresh), CKR_OK);
		CHECK(ch_t_count_label(h, "after") == 1);
	}

	/* The log names each damaged object and its registration, at level
	 * error, and holds no plaintext. */
	REQUIRE_RV(P11->C_Finalize(NULL), CKR_OK);
	log = ch_t_read_file(e.log, &log_len);
	REQUIRE(log != NULL);
	{
		const CK_OBJECT_HANDLE named[] = { o.victim,     o.swap_a,           o.swap_b,
			                           o.flip_sign,  o.flip_extractable, o.flip_private,
			                           o.dropped_row };
		for (size_t i = 0; i < CH_T_ARRAY_LEN(named); i++) {
			if (!CHECK(ch_t_text_has_error_line((const char *)log, (long)named[i],
			                                    (long)e.slot)))
				fprintf(stderr, "\tno error line naming object %lu of slot %lu\n",
				        (unsigned long)named[i], (unsigned long)e.slot);
		}
	}
	{
		char hex[65];
		CHECK(!ch_t_contains(log, log_len, victim_key, 16));
		CHECK(!ch_t_contains(log, log_len, bystander_key, 16));
		CHECK(!ch_t_contains(log, log_len, value_a, 16));
		CHECK(!ch_t_contains(log, log_len, value_b, 16));
		CHECK(!ch_t_contains(log, log_len, CH_T_USER_PIN, strlen(CH_T_USER_PIN)));
		CHECK(!ch_t_contains(log, log_len, CH_T_SO_PIN, strlen(CH_T_SO_PIN)));
		ch_t_hex(victim_key, 16, hex, false);
		CHECK(!ch_t_contains(log, log_len, hex, 32));
		ch_t_hex(bystander_key, 16, hex, false);
		CHECK(!ch_t_contains(log, log_len, hex, 32));
	}
out:
	free(log);
	ch_t_env_free(&e);
}

static void test_private_object_marked_public_stays_hidden_before_login(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	objs o;
	CK_OBJECT_HANDLE found[64];
	CK_ULONG n;
	CK_BYTE buf[64];
	CK_ULONG len = sizeof(buf);

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(make_objects(h, &o), CKR_OK);
	REQUIRE_RV(P11->C_Finalize(NULL), CKR_OK);
	REQUIRE(tamper(e.store, &o));

	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_open(e.slot, false, &h), CKR_OK);
	REQUIRE_RV(ch_t_find(h, NULL, 0, found, CH_T_ARRAY_LEN(found), &n), CKR_OK);
	CHECK(!among(o.flip_private, found, n));
	CHECK(!among(o.swap_a, found, n));
	CHECK(!among(o.victim, found, n));
	CHECK(ch_t_get(h, o.flip_private, CKA_VALUE, buf, &len) != CKR_OK);
	CHECK(ch_t_count_label(h, "flip-private") == 0);
out:
	ch_t_env_free(&e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_tampered_objects_fail_cleanly_and_others_work),
	CH_T_CASE(test_private_object_marked_public_stays_hidden_before_login),
};

int main(void)
{
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
