/*
 * Key families and versions (issue 8, points 1-3 and their bad inputs):
 * rotation through the vendor interface and through C_GenerateKey with
 * CKA_CH_NEW_VERSION, what each version may do, retiring (minimum
 * decryption version, disable, enable, destroy), grants carried over,
 * rotations raced by two processes, and refusals that leave the store as it
 * was.
 *
 * Children (this executable started again with "child rotate HANDLE") race
 * one CH_KeyRotate each: exit 0 when it made the version, 1 when another
 * rotation won (CKR_CH_KEY_NOT_PRIMARY), 2 on anything else.
 */
#include <sqlite3.h>
#include <time.h>

#include "module.h"
#include "store_rows.h"

#define V ch_t_vendor()

/* ---- helpers ---- */

/* A token AES-256 key labelled label for encrypt and decrypt. */
static CK_RV gen(CK_SESSION_HANDLE h, const char *label, CK_OBJECT_HANDLE *o)
{
	return ch_t_gen_aes(h, true, label, o);
}

static CK_ULONG get_ulong(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
	CK_ULONG v = 0xdeadUL, len = sizeof(v);

	if (ch_t_get(h, o, type, &v, &len) != CKR_OK || len != sizeof(v))
		return 0xdeadUL;
	return v;
}

/* Objects labelled label with t's extra entries (n of them). */
static long count_with(CK_SESSION_HANDLE h, const char *label, CK_ATTRIBUTE *extra, CK_ULONG n)
{
	CK_ATTRIBUTE t[4] = { CH_T_STR(CKA_LABEL, label) };

	for (CK_ULONG i = 0; i < n && i < 3; i++)
		t[1 + i] = extra[i];
	return ch_t_count(h, t, 1 + n);
}

static CK_RV encrypt_init(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
	CK_BYTE iv[12] = { 0 };
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	CK_RV rv;

	ch_t_gcm(&m, &p, iv, NULL, 0);
	if ((rv = P11->C_EncryptInit(h, &m, key)) == CKR_OK) {
		CK_BYTE out[64];
		CK_ULONG len = sizeof(out);

		(void)P11->C_Encrypt(h, (CK_BYTE_PTR) "x", 1, out, &len);
	}
	return rv;
}

static CK_RV decrypt_init(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
	CK_BYTE iv[12] = { 0 };
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	CK_RV rv;

	ch_t_gcm(&m, &p, iv, NULL, 0);
	if ((rv = P11->C_DecryptInit(h, &m, key)) == CKR_OK) {
		CK_BYTE out[64], in[17] = { 0 };
		CK_ULONG len = sizeof(out);

		(void)P11->C_Decrypt(h, in, sizeof(in), out, &len);
	}
	return rv;
}

static CK_ULONG object_count(CK_SLOT_ID slot)
{
	CH_REGISTRATION_INFO info;

	if (V->CH_GetRegistrationInfo(slot, &info) != CKR_OK)
		return 0xdeadUL;
	return info.objectCount;
}

/* ---- point 1: what a stock client sees ---- */

static void test_stock_find_for_encrypt_gets_exactly_the_primary(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2, found[4];
	CK_ATTRIBUTE enc[] = { CH_T_BOOL(CKA_ENCRYPT, true) };
	CK_ATTRIBUTE t[] = { CH_T_STR(CKA_LABEL, "payments-kek"), CH_T_BOOL(CKA_ENCRYPT, true) };
	CK_BYTE id[16], want[12];
	char uid[40];
	CK_ULONG n, len;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(gen(h, "payments-kek", &v1), CKR_OK);
	/* A plain key has no version attributes. */
	CHECK_UL(get_ulong(h, v1, CKA_CH_VERSION), 0xdeadUL);
	REQUIRE_RV(V->CH_KeyRotate(h, v1, &v2), CKR_OK);
	CHECK(v2 != v1);

	REQUIRE_RV(ch_t_find(h, t, 2, found, 4, &n), CKR_OK);
	CHECK_UL(n, 1);
	CHECK_UL(found[0], v2);
	CHECK(count_with(h, "payments-kek", NULL, 0) == 2);
	/* By label alone, the primary comes first (for clients that take the
	 * first key a label finds). */
	REQUIRE_RV(ch_t_find(h, t, 1, found, 4, &n), CKR_OK);
	CHECK_UL(n, 2);
	CHECK_UL(found[0], v2);
	CHECK(count_with(h, "payments-kek", enc, 1) == 1);

	CHECK_UL(get_ulong(h, v1, CKA_CH_VERSION), 1);
	CHECK_UL(get_ulong(h, v2, CKA_CH_VERSION), 2);
	CHECK_UL(get_ulong(h, v1, CKA_CH_STATE), CH_KEY_STATE_DECRYPT_ONLY);
	CHECK_UL(get_ulong(h, v2, CKA_CH_STATE), CH_KEY_STATE_ACTIVE);
	CHECK(ch_t_get_bool(h, v1, CKA_CH_PRIMARY) == 0);
	CHECK(ch_t_get_bool(h, v2, CKA_CH_PRIMARY) == 1);
	CHECK(ch_t_get_bool(h, v1, CKA_ENCRYPT) == 0);
	CHECK(ch_t_get_bool(h, v1, CKA_DECRYPT) == 1);
	CHECK_UL(get_ulong(h, v1, CKA_CH_USAGE), CH_USAGE_ENCRYPT | CH_USAGE_DECRYPT);
	CHECK_UL(get_ulong(h, v2, CKA_CH_MIN_DECRYPT_VERSION), 1);
	CHECK(get_ulong(h, v2, CKA_CH_CREATED) + 60 > (CK_ULONG)time(NULL));

	/* v2's CKA_ID: 8 bytes of v1's unique ID, then 00 00 00 02. */
	len = sizeof(uid) - 1;
	REQUIRE_RV(ch_t_get(h, v1, CKA_UNIQUE_ID, uid, &len), CKR_OK);
	uid[16] = '\0';
	REQUIRE(ch_t_unhex(uid, want, 8) == 8);
	want[8] = want[9] = want[10] = 0;
	want[11] = 2;
	len = sizeof(id);
	REQUIRE_RV(ch_t_get(h, v2, CKA_ID, id, &len), CKR_OK);
	CHECK_UL(len, 12);
	CHECK(memcmp(id, want, 12) == 0);
out:
	ch_t_env_free(&e);
}

/* ---- point 1: what each version may do ---- */

static void test_old_ciphertext_decrypts_with_v1_and_new_encryptions_use_v2(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2;
	const CK_BYTE msg[] = "card 4111-1111-1111-1111";
	CK_BYTE c1[64], c2[64], p[64];
	CK_ULONG l1 = sizeof(c1), l2 = sizeof(c2), lp = sizeof(p);

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(gen(h, "k", &v1), CKR_OK);
	REQUIRE_RV(ch_t_gcm_crypt(h, v1, true, msg, sizeof(msg), c1, &l1), CKR_OK);
	REQUIRE_RV(V->CH_KeyRotate(h, v1, &v2), CKR_OK);

	REQUIRE_RV(ch_t_gcm_crypt(h, v1, false, c1, l1, p, &lp), CKR_OK);
	CHECK(lp == sizeof(msg) && memcmp(p, msg, lp) == 0);
	CHECK_RV(encrypt_init(h, v1), CKR_KEY_FUNCTION_NOT_PERMITTED);
	REQUIRE_RV(ch_t_gcm_crypt(h, v2, true, msg, sizeof(msg), c2, &l2), CKR_OK);
	/* v2 is fresh material: v1 cannot read what v2 wrote. */
	lp = sizeof(p);
	CHECK(ch_t_gcm_crypt(h, v1, false, c2, l2, p, &lp) != CKR_OK);
	lp = sizeof(p);
	CHECK_RV(ch_t_gcm_crypt(h, v2, false, c2, l2, p, &lp), CKR_OK);
out:
	ch_t_env_free(&e);
}

static void test_old_version_cannot_sign_but_still_verifies(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2;
	CK_MECHANISM gm = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
	CK_MECHANISM mac = { CKM_SHA256_HMAC, NULL, 0 };
	CK_ULONG klen = 32;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &klen), CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_SIGN, true),        CH_T_BOOL(CKA_VERIFY, true),
		CH_T_STR(CKA_LABEL, "mac"),
	};
	CK_BYTE sig[32];
	CK_ULONG sl = sizeof(sig);

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(P11->C_GenerateKey(h, &gm, t, CH_T_ARRAY_LEN(t), &v1), CKR_OK);
	REQUIRE_RV(P11->C_SignInit(h, &mac, v1), CKR_OK);
	REQUIRE_RV(P11->C_Sign(h, (CK_BYTE_PTR) "m", 1, sig, &sl), CKR_OK);
	REQUIRE_RV(V->CH_KeyRotate(h, v1, &v2), CKR_OK);
	CHECK_RV(P11->C_SignInit(h, &mac, v1), CKR_KEY_FUNCTION_NOT_PERMITTED);
	REQUIRE_RV(P11->C_VerifyInit(h, &mac, v1), CKR_OK);
	CHECK_RV(P11->C_Verify(h, (CK_BYTE_PTR) "m", 1, sig, sl), CKR_OK);
	CHECK_RV(P11->C_SignInit(h, &mac, v2), CKR_OK);
	sl = sizeof(sig);
	CHECK_RV(P11->C_Sign(h, (CK_BYTE_PTR) "m", 1, sig, &sl), CKR_OK);
out:
	ch_t_env_free(&e);
}

static void test_old_kek_cannot_wrap_but_still_unwraps(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2, data, back = CK_INVALID_HANDLE;
	CK_MECHANISM gm = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_MECHANISM wm = { CKM_AES_KEY_WRAP_KWP, NULL, 0 };
	CK_ULONG len = 32;
	CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	CK_ATTRIBUTE kt[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_WRAP, true),       CH_T_BOOL(CKA_UNWRAP, true),
		CH_T_STR(CKA_LABEL, "kek"),
	};
	CK_ATTRIBUTE ut[] = { CH_T_ULONG(CKA_CLASS, &sk), CH_T_ULONG(CKA_KEY_TYPE, &aes),
		              CH_T_BOOL(CKA_ENCRYPT, true) };
	CK_BYTE blob[128];
	CK_ULONG bl = sizeof(blob), bl2 = sizeof(blob);

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(P11->C_GenerateKey(h, &gm, kt, CH_T_ARRAY_LEN(kt), &v1), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, false, "data", &data), CKR_OK);
	REQUIRE_RV(P11->C_WrapKey(h, &wm, v1, data, blob, &bl), CKR_OK);
	REQUIRE_RV(V->CH_KeyRotate(h, v1, &v2), CKR_OK);
	CHECK(ch_t_get_bool(h, v1, CKA_WRAP) == 0);
	CHECK(ch_t_get_bool(h, v1, CKA_UNWRAP) == 1);
	CHECK_RV(P11->C_WrapKey(h, &wm, v1, data, blob + 64, &bl2), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV(P11->C_UnwrapKey(h, &wm, v1, blob, bl, ut, CH_T_ARRAY_LEN(ut), &back), CKR_OK);
	bl2 = 64;
	CHECK_RV(P11->C_WrapKey(h, &wm, v2, data, blob + 64, &bl2), CKR_OK);
out:
	ch_t_env_free(&e);
}

/* ---- point 2: rotation paths ---- */

static void test_generate_key_with_new_version_rotates_the_family(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2, v3, x = CK_INVALID_HANDLE;
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG len = 16, period = 3600, count;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_ENCRYPT, true),    CH_T_BOOL(CKA_DECRYPT, true),
		CH_T_STR(CKA_LABEL, "fam"),      CH_T_BOOL(CKA_CH_NEW_VERSION, true),
	};
	CK_ATTRIBUTE set[] = { CH_T_ULONG(CKA_CH_ROTATION_PERIOD, &period) };
	char *before = NULL, *after = NULL;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	/* No family "fam" yet: refused, nothing stored. */
	count = object_count(e.slot);
	before = ch_t_store_rows(e.store);
	CHECK_RV(P11->C_GenerateKey(h, &m, t, CH_T_ARRAY_LEN(t), &x), CKR_TEMPLATE_INCONSISTENT);
	CHECK_UL(object_count(e.slot), count);
	after = ch_t_store_rows(e.store);
	CHECK(before != NULL && after != NULL && strcmp(before, after) == 0);

	REQUIRE_RV(gen(h, "fam", &v1), CKR_OK);
	REQUIRE_RV(P11->C_SetAttributeValue(h, v1, set, 1), CKR_OK);
	REQUIRE_RV(P11->C_GenerateKey(h, &m, t, CH_T_ARRAY_LEN(t), &v2), CKR_OK);
	CHECK_UL(get_ulong(h, v2, CKA_CH_VERSION), 2);
	CHECK_UL(get_ulong(h, v2, CKA_VALUE_LEN), 16);
	/* The period comes along from the primary. */
	CHECK_UL(get_ulong(h, v2, CKA_CH_ROTATION_PERIOD), 3600);
	REQUIRE_RV(V->CH_KeyRotate(h, v2, &v3), CKR_OK);
	CHECK_UL(get_ulong(h, v3, CKA_CH_VERSION), 3);
	CHECK_UL(get_ulong(h, v3, CKA_VALUE_LEN), 16); /* the primary's template */
	CHECK_UL(get_ulong(h, v3, CKA_CH_ROTATION_PERIOD), 3600);
	CHECK(ch_t_get_bool(h, v2, CKA_ENCRYPT) == 0);
	CHECK(ch_t_get_bool(h, v3, CKA_ENCRYPT) == 1);
out:
	free(before);
	free(after);
	ch_t_env_free(&e);
}

static void test_grants_carry_over_to_the_new_version(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h, ha;
	CK_OBJECT_HANDLE v1, v2;
	CH_GRANT_INFO list[4];
	CK_ULONG n = 4;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(V->CH_ParticipantAdd(h, (CK_UTF8CHAR_PTR) "alice", 5, CH_ROLE_USER,
	                                (CK_UTF8CHAR_PTR) "alice-pin-1", 11),
	           CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	REQUIRE_RV(gen(h, "shared", &v1), CKR_OK);
	REQUIRE_RV(V->CH_GrantSet(h, v1, (CK_UTF8CHAR_PTR) "alice", 5,
	                          CH_GRANT_ENCRYPT | CH_GRANT_DECRYPT),
	           CKR_OK);
	REQUIRE_RV(V->CH_KeyRotate(h, v1, &v2), CKR_OK);
	REQUIRE_RV(V->CH_GrantList(h, v2, list, &n), CKR_OK);
	REQUIRE(n == 1);
	CHECK(ch_t_padded_is(list[0].grantee, sizeof(list[0].grantee), "alice"));
	CHECK_UL(list[0].operations, CH_GRANT_ENCRYPT | CH_GRANT_DECRYPT);

	/* And alice uses the new version with it. */
	REQUIRE_RV(ch_t_open(e.slot, true, &ha), CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(P11->C_LoginUser(ha, CKU_USER, (CK_UTF8CHAR_PTR) "alice-pin-1", 11,
	                            (CK_UTF8CHAR_PTR) "alice", 5),
	           CKR_OK);
	CHECK_RV(encrypt_init(ha, v2), CKR_OK);
out:
	ch_t_env_free(&e);
}

static void test_key_pairs_rotate_both_halves_with_one_id(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE pub1, priv1, pub2 = CK_INVALID_HANDLE, priv2 = CK_INVALID_HANDLE;
	CK_MECHANISM gm = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_MECHANISM sm = { CKM_ECDSA, NULL, 0 };
	CK_ATTRIBUTE pt[] = {
		CH_T_ATTR(CKA_EC_PARAMS, ch_t_p256_params, sizeof(ch_t_p256_params)),
		CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_VERIFY, true),
		CH_T_STR(CKA_LABEL, "sig"),
		CH_T_BOOL(CKA_CH_NEW_VERSION, true),
	};
	CK_ATTRIBUTE vt[] = {
		CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_SIGN, true),
		CH_T_STR(CKA_LABEL, "sig"),
		CH_T_BOOL(CKA_CH_NEW_VERSION, true),
	};
	CK_BYTE digest[32] = { 7 }, sig[80];
	CK_ULONG sl = sizeof(sig);

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_ec(h, true, "sig", &pub1, &priv1), CKR_OK);
	REQUIRE_RV(P11->C_SignInit(h, &sm, priv1), CKR_OK);
	REQUIRE_RV(P11->C_Sign(h, digest, sizeof(digest), sig, &sl), CKR_OK);
	REQUIRE_RV(P11->C_GenerateKeyPair(h, &gm, pt, CH_T_ARRAY_LEN(pt), vt, CH_T_ARRAY_LEN(vt),
	                                  &pub2, &priv2),
	           CKR_OK);
	CHECK_UL(get_ulong(h, pub2, CKA_CH_VERSION), 2);
	CHECK_UL(get_ulong(h, priv2, CKA_CH_VERSION), 2);
	CHECK_UL(get_ulong(h, priv1, CKA_CH_STATE), CH_KEY_STATE_DECRYPT_ONLY);
	CHECK_UL(get_ulong(h, pub1, CKA_CH_STATE), CH_KEY_STATE_DECRYPT_ONLY);
	{
		CK_BYTE a[16], b[16];
		CK_ULONG la = sizeof(a), lb = sizeof(b);

		/* The two new halves share one CKA_ID, as pkcs11-tool pairs them. */
		CHECK_RV(ch_t_get(h, pub2, CKA_ID, a, &la), CKR_OK);
		CHECK_RV(ch_t_get(h, priv2, CKA_ID, b, &lb), CKR_OK);
		CHECK(la == 12 && lb == 12 && memcmp(a, b, 12) == 0);
	}
	/* v1 no longer signs; its public half still verifies what it signed. */
	CHECK_RV(P11->C_SignInit(h, &sm, priv1), CKR_KEY_FUNCTION_NOT_PERMITTED);
	REQUIRE_RV(P11->C_VerifyInit(h, &sm, pub1), CKR_OK);
	CHECK_RV(P11->C_Verify(h, digest, sizeof(digest), sig, sl), CKR_OK);
	sl = sizeof(sig);
	REQUIRE_RV(P11->C_SignInit(h, &sm, priv2), CKR_OK);
	CHECK_RV(P11->C_Sign(h, digest, sizeof(digest), sig, &sl), CKR_OK);
	/* CH_KeyRotate of the private key makes version 3 of both halves, on
	 * the same curve, in one transaction. */
	{
		CK_OBJECT_HANDLE priv3 = CK_INVALID_HANDLE, found[4];
		CK_ATTRIBUTE pubs[] = { CH_T_STR(CKA_LABEL, "sig"),
			                CH_T_ULONG(CKA_CLASS, &(CK_OBJECT_CLASS){ CKO_PUBLIC_KEY }),
			                CH_T_BOOL(CKA_CH_PRIMARY, true) };
		CK_BYTE params[32], a[16], b[16];
		CK_ULONG pl = sizeof(params), la = sizeof(a), lb = sizeof(b), n = 0;

		REQUIRE_RV(V->CH_KeyRotate(h, priv2, &priv3), CKR_OK);
		CHECK_UL(get_ulong(h, priv3, CKA_CH_VERSION), 3);
		CHECK_RV(V->CH_KeyRotate(h, priv2, &pub1), CKR_CH_KEY_NOT_PRIMARY);
		REQUIRE_RV(ch_t_find(h, pubs, 3, found, 4, &n), CKR_OK);
		REQUIRE(n == 1);
		CHECK_UL(get_ulong(h, found[0], CKA_CH_VERSION), 3);
		CHECK_RV(ch_t_get(h, found[0], CKA_EC_PARAMS, params, &pl), CKR_OK);
		CHECK(pl == sizeof(ch_t_p256_params) && memcmp(params, ch_t_p256_params, pl) == 0);
		CHECK_RV(ch_t_get(h, found[0], CKA_ID, a, &la), CKR_OK);
		CHECK_RV(ch_t_get(h, priv3, CKA_ID, b, &lb), CKR_OK);
		CHECK(la == 12 && lb == 12 && memcmp(a, b, 12) == 0 && a[11] == 3);
		CHECK(ch_t_get_bool(h, pub2, CKA_VERIFY) == 1);
		CHECK(ch_t_get_bool(h, priv2, CKA_SIGN) == 0);
		sl = sizeof(sig);
		REQUIRE_RV(P11->C_SignInit(h, &sm, priv3), CKR_OK);
		CHECK_RV(P11->C_Sign(h, digest, sizeof(digest), sig, &sl), CKR_OK);
		REQUIRE_RV(P11->C_VerifyInit(h, &sm, found[0]), CKR_OK);
		CHECK_RV(P11->C_Verify(h, digest, sizeof(digest), sig, sl), CKR_OK);
	}
out:
	ch_t_env_free(&e);
}

/* A lifecycle call on one half of a key pair makes only that half version 1
 * (CH_KeySetMinVersion on the private key, CH_KeySetState on the public one);
 * CH_KeyRotate of the private key still finds the other half and makes
 * version 2 of both, with one CKA_ID, and the new pair signs and verifies. */
static void test_adopted_private_key_still_rotates_with_its_public_half(void)
{
	static const struct {
		const char *label;
		bool adopt_priv, disable_pub;
	} cases[] = {
		{ "priv-adopted", true, false },
		{ "pub-disabled", false, true },
		{ "both-adopted", true, true },
	};
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_MECHANISM sm = { CKM_ECDSA, NULL, 0 };
	CK_OBJECT_CLASS pubcls = CKO_PUBLIC_KEY;
	CK_BYTE digest[32] = { 9 };

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	for (size_t i = 0; i < CH_T_ARRAY_LEN(cases); i++) {
		CK_OBJECT_HANDLE pub1, priv1, priv2 = CK_INVALID_HANDLE, found[4];
		CK_ATTRIBUTE pubs[] = { CH_T_STR(CKA_LABEL, cases[i].label),
			                CH_T_ULONG(CKA_CLASS, &pubcls),
			                CH_T_BOOL(CKA_CH_PRIMARY, true) };
		CK_BYTE sig[80], a[16], b[16];
		CK_ULONG sl = sizeof(sig), la = sizeof(a), lb = sizeof(b), n = 0;

		fprintf(stderr, "# %s\n", cases[i].label);
		REQUIRE_RV(ch_t_gen_ec(h, true, cases[i].label, &pub1, &priv1), CKR_OK);
		if (cases[i].disable_pub)
			REQUIRE_RV(V->CH_KeySetState(h, pub1, CH_KEY_STATE_DISABLED), CKR_OK);
		if (cases[i].adopt_priv) {
			REQUIRE_RV(V->CH_KeySetMinVersion(h, priv1, 1), CKR_OK);
			CHECK_UL(get_ulong(h, priv1, CKA_CH_VERSION), 1);
		}
		REQUIRE_RV(V->CH_KeyRotate(h, priv1, &priv2), CKR_OK);
		CHECK_UL(get_ulong(h, priv2, CKA_CH_VERSION), 2);
		CHECK_UL(get_ulong(h, priv1, CKA_CH_STATE), CH_KEY_STATE_DECRYPT_ONLY);
		CHECK_UL(get_ulong(h, pub1, CKA_CH_STATE),
		         cases[i].disable_pub ? CH_KEY_STATE_DISABLED : CH_KEY_STATE_DECRYPT_ONLY);
		REQUIRE_RV(ch_t_find(h, pubs, 3, found, 4, &n), CKR_OK);
		REQUIRE(n == 1);
		CHECK_UL(get_ulong(h, found[0], CKA_CH_VERSION), 2);
		CHECK_RV(ch_t_get(h, found[0], CKA_ID, a, &la), CKR_OK);
		CHECK_RV(ch_t_get(h, priv2, CKA_ID, b, &lb), CKR_OK);
		CHECK(la == 12 && lb == 12 && memcmp(a, b, 12) == 0 && a[11] == 2);
		REQUIRE_RV(P11->C_SignInit(h, &sm, priv2), CKR_OK);
		REQUIRE_RV(P11->C_Sign(h, digest, sizeof(digest), sig, &sl), CKR_OK);
		REQUIRE_RV(P11->C_VerifyInit(h, &sm, found[0]), CKR_OK);
		CHECK_RV(P11->C_Verify(h, digest, sizeof(digest), sig, sl), CKR_OK);
	}
out:
	ch_t_env_free(&e);
}

/* ---- point 2: two processes race one rotation ---- */

static int child_rotate(CK_OBJECT_HANDLE key, const char *go)
{
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE nk;
	struct stat sb;
	CK_RV rv;

	if ((rv = ch_t_slot_by_label(CH_T_LABEL, &slot)) != CKR_OK ||
	    (rv = ch_t_open(slot, true, &h)) != CKR_OK || (rv = ch_t_login_user(h)) != CKR_OK ||
	    ch_t_vendor() == NULL) {
		fprintf(stderr, "child %ld: session: %s\n", (long)getpid(), ch_test_rv_name(rv));
		return 2;
	}
	/* Both children wait here, logged in, for the same start signal. */
	for (int i = 0; i < 5000 && stat(go, &sb) != 0; i++)
		usleep(1000);
	rv = ch_t_vendor()->CH_KeyRotate(h, key, &nk);
	if (rv == CKR_OK)
		return 0;
	if (rv == CKR_CH_KEY_NOT_PRIMARY)
		return 1;
	fprintf(stderr, "child %ld: CH_KeyRotate: %s\n", (long)getpid(), ch_test_rv_name(rv));
	return 2;
}

static void test_rotation_raced_by_two_processes_makes_one_version(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE primary, found[8];
	CK_ATTRIBUTE prim[] = { CH_T_STR(CKA_LABEL, "race"), CH_T_BOOL(CKA_CH_PRIMARY, true) };
	char go[300], hs[32];

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(gen(h, "race", &primary), CKR_OK);
	for (int round = 0; round < 3; round++) {
		char *args[] = { "child", "rotate", hs, go, NULL };
		pid_t a, b;
		int sa, sb;
		CK_ULONG n;

		snprintf(go, sizeof(go), "%s/go-%d", e.dir, round);
		snprintf(hs, sizeof(hs), "%lu", (unsigned long)primary);
		a = ch_t_spawn_self(args);
		b = ch_t_spawn_self(args);
		REQUIRE(a > 0 && b > 0);
		usleep(300000); /* both logged in and waiting */
		REQUIRE(ch_t_write_file(go, "go", 2));
		sa = ch_t_wait(a);
		sb = ch_t_wait(b);
		if (!CHECK((sa == 0 && sb == 1) || (sa == 1 && sb == 0))) {
			size_t len = 0;
			unsigned char *log = ch_t_read_file(e.log, &len);

			fprintf(stderr,
			        "    round %d: children exited %d and %d (0 made it, 1 lost); "
			        "module log:\n%.*s\n",
			        round, sa, sb, log != NULL ? (int)len : 0,
			        log != NULL ? (char *)log : "");
			free(log);
		}
		/* Exactly one new version, and it is the only primary. */
		CHECK(ch_t_count_label(h, "race") == round + 2);
		REQUIRE_RV(ch_t_find(h, prim, 2, found, 8, &n), CKR_OK);
		REQUIRE(n == 1);
		CHECK_UL(get_ulong(h, found[0], CKA_CH_VERSION), (CK_ULONG)round + 2);
		primary = found[0];
	}
out:
	ch_t_env_free(&e);
}

/* ---- point 2: policy, checked lazily ---- */

static void test_using_a_primary_past_its_period_is_audited_once(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h, ha;
	CK_OBJECT_HANDLE k;
	CK_ULONG period = 1, n = 0, due = 0;
	CK_ATTRIBUTE set[] = { CH_T_ULONG(CKA_CH_ROTATION_PERIOD, &period) };
	CH_AUDIT_RECORD *rec = NULL;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(gen(h, "due", &k), CKR_OK);
	REQUIRE_RV(P11->C_SetAttributeValue(h, k, set, 1), CKR_OK);
	CHECK_RV(encrypt_init(h, k), CKR_OK); /* not due yet */
	sleep(2);
	CHECK_RV(encrypt_init(h, k), CKR_OK);
	CHECK_RV(encrypt_init(h, k), CKR_OK);
	/* Still not rotated: the check only records. */
	CHECK(ch_t_count_label(h, "due") == 1);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_open(e.slot, true, &ha), CKR_OK);
	REQUIRE_RV(ch_t_login(ha, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(V->CH_AuditRead(ha, 1, NULL, &n), CKR_OK);
	REQUIRE((rec = calloc(n + 1, sizeof(*rec))) != NULL);
	REQUIRE_RV(V->CH_AuditRead(ha, 1, rec, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++)
		if (ch_t_padded_is(rec[i].operation, sizeof(rec[i].operation), "key.rotation_due"))
			due++;
	CHECK_UL(due, 1);
out:
	free(rec);
	ch_t_env_free(&e);
}

/* ---- point 3: retiring ---- */

static void test_min_decrypt_version_refuses_v1(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2;
	const CK_BYTE msg[] = "old secret";
	CK_BYTE c1[64], p[64];
	CK_ULONG l1 = sizeof(c1), lp = sizeof(p);

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(gen(h, "k", &v1), CKR_OK);
	REQUIRE_RV(ch_t_gcm_crypt(h, v1, true, msg, sizeof(msg), c1, &l1), CKR_OK);
	REQUIRE_RV(V->CH_KeyRotate(h, v1, &v2), CKR_OK);
	REQUIRE_RV(V->CH_KeySetMinVersion(h, v1, 2), CKR_OK);
	CHECK_UL(get_ulong(h, v1, CKA_CH_MIN_DECRYPT_VERSION), 2);
	CHECK_UL(get_ulong(h, v2, CKA_CH_MIN_DECRYPT_VERSION), 2);
	CHECK_RV(ch_t_gcm_crypt(h, v1, false, c1, l1, p, &lp), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK(ch_t_get_bool(h, v1, CKA_DECRYPT) == 0);
	CHECK_RV(decrypt_init(h, v2), CKR_OK);
	CHECK_RV(encrypt_init(h, v2), CKR_OK);
	/* Lowered again, v1 reads its old ciphertext. */
	REQUIRE_RV(V->CH_KeySetMinVersion(h, v2, 1), CKR_OK);
	lp = sizeof(p);
	CHECK_RV(ch_t_gcm_crypt(h, v1, false, c1, l1, p, &lp), CKR_OK);
out:
	ch_t_env_free(&e);
}

static void test_disable_and_enable_a_version(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2;
	CK_ATTRIBUTE enc[] = { CH_T_BOOL(CKA_ENCRYPT, true) };

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(gen(h, "k", &v1), CKR_OK);
	REQUIRE_RV(V->CH_KeyRotate(h, v1, &v2), CKR_OK);

	REQUIRE_RV(V->CH_KeySetState(h, v1, CH_KEY_STATE_DISABLED), CKR_OK);
	CHECK_UL(get_ulong(h, v1, CKA_CH_STATE), CH_KEY_STATE_DISABLED);
	CHECK_RV(decrypt_init(h, v1), CKR_KEY_FUNCTION_NOT_PERMITTED);
	REQUIRE_RV(V->CH_KeySetState(h, v1, CH_KEY_STATE_ACTIVE), CKR_OK);
	CHECK_UL(get_ulong(h, v1, CKA_CH_STATE), CH_KEY_STATE_DECRYPT_ONLY);
	CHECK_RV(decrypt_init(h, v1), CKR_OK);
	CHECK_RV(encrypt_init(h, v1), CKR_KEY_FUNCTION_NOT_PERMITTED);

	/* The primary, disabled, encrypts nothing and is found by no one. */
	REQUIRE_RV(V->CH_KeySetState(h, v2, CH_KEY_STATE_DISABLED), CKR_OK);
	CHECK_RV(encrypt_init(h, v2), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK(count_with(h, "k", enc, 1) == 0);
	REQUIRE_RV(V->CH_KeySetState(h, v2, CH_KEY_STATE_ACTIVE), CKR_OK);
	CHECK_RV(encrypt_init(h, v2), CKR_OK);
	CHECK(count_with(h, "k", enc, 1) == 1);
out:
	ch_t_env_free(&e);
}

static void test_destroy_removes_the_key_bytes_from_the_store(void)
{
	static const CK_BYTE key[32] = { 0x5a, 0x17, 0xc3, 0x88, 0x01, 0xfe, 0x42, 0x9d,
		                         0x33, 0x6b, 0xe0, 0x7c, 0x14, 0xa9, 0x58, 0x2f,
		                         0xd1, 0x06, 0x9b, 0x4e, 0x77, 0xc0, 0x2a, 0xb5,
		                         0x68, 0x13, 0xfa, 0x3d, 0x8e, 0x21, 0x99, 0x04 };
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2;
	unsigned char blob[256];
	size_t blen;
	char uid[33];
	CK_ULONG len = 32;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_aes(h, true, true, false, true, "gone", key, 32, &v1), CKR_OK);
	REQUIRE_RV(V->CH_KeyRotate(h, v1, &v2), CKR_OK);
	REQUIRE_RV(ch_t_get(h, v1, CKA_UNIQUE_ID, uid, &len), CKR_OK);
	/* The store holds the sealed key, never the key itself. */
	REQUIRE((blen = ch_t_sealed_value(e.store, v1, blob, sizeof(blob))) > 32);
	CHECK(ch_t_store_holds(&e, blob, blen));
	CHECK(!ch_t_store_holds(&e, key, sizeof(key)));

	/* The primary cannot go. */
	CHECK_RV(V->CH_KeySetState(h, v2, CH_KEY_STATE_DESTROYED), CKR_ACTION_PROHIBITED);
	REQUIRE_RV(V->CH_KeySetState(h, v1, CH_KEY_STATE_DESTROYED), CKR_OK);
	CHECK_RV(decrypt_init(h, v1), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV(V->CH_KeySetState(h, v1, CH_KEY_STATE_ACTIVE), CKR_ACTION_PROHIBITED);
	/* Metadata stays for the audit trail. */
	CHECK_UL(get_ulong(h, v1, CKA_CH_STATE), CH_KEY_STATE_DESTROYED);
	CHECK_UL(get_ulong(h, v1, CKA_CH_VERSION), 1);
	CHECK(ch_t_count_label(h, "gone") == 2);
	{
		char now[33];
		CK_ULONG nl = 32;

		CHECK_RV(ch_t_get(h, v1, CKA_UNIQUE_ID, now, &nl), CKR_OK);
		CHECK(nl == len && memcmp(now, uid, len) == 0);
	}
	CHECK(ch_t_sealed_value(e.store, v1, blob + 128, 128) == 0);
	/* Gone from the database and from the write-ahead log at once, while
	 * the module still has the store open ... */
	CHECK(!ch_t_store_holds(&e, blob, blen));
	/* ... and after it closed it. */
	REQUIRE_RV(P11->C_Finalize(NULL), CKR_OK);
	CHECK(!ch_t_store_holds(&e, blob, blen));
	CHECK(!ch_t_store_holds(&e, key, sizeof(key)));
out:
	ch_t_env_free(&e);
}

/* ---- point 8: bad input changes nothing ---- */

static void test_bad_inputs_are_refused_and_change_nothing(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h, ro;
	CK_OBJECT_HANDLE v1, v2, x = CK_INVALID_HANDLE, copy;
	CK_ULONG one = 1, count;
	CK_ATTRIBUTE enc_on[] = { CH_T_BOOL(CKA_ENCRYPT, true) };
	CK_ATTRIBUTE relabel[] = { CH_T_STR(CKA_LABEL, "other") };
	CK_ATTRIBUTE forged[] = { CH_T_ULONG(CKA_CH_VERSION, &one) };
	char *before = NULL, *after = NULL;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(gen(h, "k", &v1), CKR_OK);
	REQUIRE_RV(V->CH_KeyRotate(h, v1, &v2), CKR_OK);
	count = object_count(e.slot);
	before = ch_t_store_rows(e.store);
	REQUIRE(before != NULL);

	/* A missing family (no such key), an old version, the primary's
	 * destruction, a minimum above the primary, unknown states. */
	CHECK_RV(V->CH_KeyRotate(h, 0x7777, &x), CKR_KEY_HANDLE_INVALID);
	CHECK_RV(V->CH_KeyRotate(h, CK_INVALID_HANDLE, &x), CKR_KEY_HANDLE_INVALID);
	CHECK_RV(V->CH_KeyRotate(h, v1, &x), CKR_CH_KEY_NOT_PRIMARY);
	CHECK_RV(V->CH_KeyRotate(h, v2, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(V->CH_KeySetState(h, v2, CH_KEY_STATE_DESTROYED), CKR_ACTION_PROHIBITED);
	CHECK_RV(V->CH_KeySetState(h, 0x7777, CH_KEY_STATE_DISABLED), CKR_KEY_HANDLE_INVALID);
	CHECK_RV(V->CH_KeySetState(h, v1, 99), CKR_ARGUMENTS_BAD);
	CHECK_RV(V->CH_KeySetState(h, v1, CH_KEY_STATE_DECRYPT_ONLY), CKR_ARGUMENTS_BAD);
	CHECK_RV(V->CH_KeySetMinVersion(h, v1, 3), CKR_ARGUMENTS_BAD);
	CHECK_RV(V->CH_KeySetMinVersion(h, v1, 0), CKR_ARGUMENTS_BAD);
	CHECK_RV(V->CH_KeySetMinVersion(h, 0x7777, 1), CKR_KEY_HANDLE_INVALID);
	/* What only the token sets, and what the lifecycle decides. */
	CHECK_RV(P11->C_SetAttributeValue(h, v1, enc_on, 1), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(P11->C_SetAttributeValue(h, v1, relabel, 1), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(P11->C_SetAttributeValue(h, v1, forged, 1), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(P11->C_CopyObject(h, v1, NULL, 0, &copy), CKR_ACTION_PROHIBITED);
	{
		CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
		CK_ULONG len = 16;
		CK_ATTRIBUTE t[] = { CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_BOOL(CKA_TOKEN, true),
			             CH_T_STR(CKA_LABEL, "k"), CH_T_ULONG(CKA_CH_VERSION, &one) };

		CHECK_RV(P11->C_GenerateKey(h, &m, t, CH_T_ARRAY_LEN(t), &x),
		         CKR_ATTRIBUTE_READ_ONLY);
	}
	/* C_DestroyObject cannot leave the family without its primary. */
	CHECK_RV(P11->C_DestroyObject(h, v2), CKR_ACTION_PROHIBITED);
	/* A read-only session changes no key. */
	REQUIRE_RV(ch_t_open(e.slot, false, &ro), CKR_OK);
	CHECK_RV(V->CH_KeyRotate(ro, v2, &x), CKR_SESSION_READ_ONLY);
	CHECK_RV(V->CH_KeySetState(ro, v1, CH_KEY_STATE_DISABLED), CKR_SESSION_READ_ONLY);

	CHECK_UL(object_count(e.slot), count);
	after = ch_t_store_rows(e.store);
	CHECK(after != NULL && strcmp(before, after) == 0);
	CHECK(ch_t_count_label(h, "k") == 2);
out:
	free(before);
	free(after);
	ch_t_env_free(&e);
}

static void test_only_operators_rotate(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, x;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(V->CH_ParticipantAdd(h, (CK_UTF8CHAR_PTR) "app", 3, CH_ROLE_USER,
	                                (CK_UTF8CHAR_PTR) "app-pin-1", 9),
	           CKR_OK);
	/* The SO is no key user. */
	CHECK_RV(V->CH_KeyRotate(h, 1, &x), CKR_USER_NOT_LOGGED_IN);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	REQUIRE_RV(gen(h, "k", &v1), CKR_OK);
	REQUIRE_RV(V->CH_GrantSet(h, v1, (CK_UTF8CHAR_PTR) "app", 3, CH_GRANT_ALL), CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(P11->C_LoginUser(h, CKU_USER, (CK_UTF8CHAR_PTR) "app-pin-1", 9,
	                            (CK_UTF8CHAR_PTR) "app", 3),
	           CKR_OK);
	CHECK_RV(V->CH_KeyRotate(h, v1, &x), CKR_ACTION_PROHIBITED);
	CHECK_RV(V->CH_KeySetState(h, v1, CH_KEY_STATE_DISABLED), CKR_ACTION_PROHIBITED);
	CHECK(ch_t_count_label(h, "k") == 1);
out:
	ch_t_env_free(&e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_stock_find_for_encrypt_gets_exactly_the_primary),
	CH_T_CASE(test_old_ciphertext_decrypts_with_v1_and_new_encryptions_use_v2),
	CH_T_CASE(test_old_version_cannot_sign_but_still_verifies),
	CH_T_CASE(test_old_kek_cannot_wrap_but_still_unwraps),
	CH_T_CASE(test_generate_key_with_new_version_rotates_the_family),
	CH_T_CASE(test_key_pairs_rotate_both_halves_with_one_id),
	CH_T_CASE(test_adopted_private_key_still_rotates_with_its_public_half),
	CH_T_CASE(test_grants_carry_over_to_the_new_version),
	CH_T_CASE(test_rotation_raced_by_two_processes_makes_one_version),
	CH_T_CASE(test_using_a_primary_past_its_period_is_audited_once),
	CH_T_CASE(test_min_decrypt_version_refuses_v1),
	CH_T_CASE(test_disable_and_enable_a_version),
	CH_T_CASE(test_destroy_removes_the_key_bytes_from_the_store),
	CH_T_CASE(test_bad_inputs_are_refused_and_change_nothing),
	CH_T_CASE(test_only_operators_rotate),
};

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "child") == 0 && strcmp(argv[2], "rotate") == 0) {
		int status;

		if (!ch_t_load() || ch_t_initialize() != CKR_OK)
			return 2;
		status = child_rotate((CK_OBJECT_HANDLE)strtoul(argv[3], NULL, 10),
		                      argc > 4 ? argv[4] : "");
		(void)P11->C_Finalize(NULL);
		return status;
	}
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
