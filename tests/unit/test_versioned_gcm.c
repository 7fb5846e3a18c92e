/*
 * Versioned AES-256-GCM and rewrap (issue 8, point 4): a ciphertext names
 * its family and version, decrypts through any handle of the family after a
 * rotation, refuses versions that may no longer decrypt (minimum decryption
 * version, disabled, not granted) with CKR_CH_KEY_VERSION_UNUSABLE, refuses
 * every tampering with one code, and moves to the primary with CH_Rewrap
 * without its plaintext leaving the token.
 */
#include "module.h"

#define V ch_t_vendor()

#define HDR CH_VERSIONED_HEADER_LEN
#define TAG CH_VERSIONED_TAG_LEN

static const CK_BYTE msg[] = "the quick brown fox pays the invoice";
static CK_BYTE aad[] = "order-42";

static void vmech(CK_MECHANISM *m, CK_BYTE *a, CK_ULONG a_len)
{
	m->mechanism = CKM_CH_AES_GCM_VERSIONED;
	m->pParameter = a;
	m->ulParameterLen = a_len;
}

static CK_RV venc(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, const CK_BYTE *in, CK_ULONG in_len,
                  CK_BYTE *out, CK_ULONG *out_len)
{
	CK_MECHANISM m;
	CK_RV rv;

	vmech(&m, aad, sizeof(aad));
	if ((rv = P11->C_EncryptInit(h, &m, key)) != CKR_OK)
		return rv;
	return P11->C_Encrypt(h, (CK_BYTE_PTR)in, in_len, out, out_len);
}

static CK_RV vdec_aad(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, CK_BYTE *a, CK_ULONG a_len,
                      const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_MECHANISM m;
	CK_RV rv;

	vmech(&m, a, a_len);
	if ((rv = P11->C_DecryptInit(h, &m, key)) != CKR_OK)
		return rv;
	return P11->C_Decrypt(h, (CK_BYTE_PTR)in, in_len, out, out_len);
}

static CK_RV vdec(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, const CK_BYTE *in, CK_ULONG in_len,
                  CK_BYTE *out, CK_ULONG *out_len)
{
	return vdec_aad(h, key, aad, sizeof(aad), in, in_len, out, out_len);
}

/* Decrypts ct with key and checks that it gives msg back. */
static bool decrypts_to_msg(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, const CK_BYTE *ct,
                            CK_ULONG len)
{
	CK_BYTE pt[128];
	CK_ULONG n = sizeof(pt);

	return CHECK_RV(vdec(h, key, ct, len, pt, &n), CKR_OK) && CHECK_UL(n, sizeof(msg)) &&
	       CHECK(memcmp(pt, msg, sizeof(msg)) == 0);
}

static CK_RV rewrap(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, const CK_BYTE *in, CK_ULONG in_len,
                    CK_BYTE *out, CK_ULONG *out_len)
{
	CK_MECHANISM m;

	vmech(&m, aad, sizeof(aad));
	return V->CH_Rewrap(h, &m, key, (CK_BYTE_PTR)in, in_len, out, out_len);
}

static CK_ULONG header_version(const CK_BYTE *ct)
{
	return (CK_ULONG)ct[12] << 24 | (CK_ULONG)ct[13] << 16 | (CK_ULONG)ct[14] << 8 | ct[15];
}

/* The family id of plain key (or version 1) k: its CKA_UNIQUE_ID's first 8
 * bytes. */
static bool family_of(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k, CK_BYTE fam[8])
{
	char uid[40];
	CK_ULONG len = sizeof(uid) - 1;

	if (ch_t_get(h, k, CKA_UNIQUE_ID, uid, &len) != CKR_OK || len < 16)
		return false;
	uid[16] = '\0';
	return ch_t_unhex(uid, fam, 8) == 8;
}

/* How many audit records of operation op with result rv; logs in as the SO
 * for the read and the user again after. */
static long audit_count(CK_SESSION_HANDLE h, const char *op, CK_RV rv)
{
	CH_AUDIT_RECORD *rec = NULL;
	CK_ULONG n = 0;
	long c = -1;

	if (P11->C_Logout(h) != CKR_OK || ch_t_login(h, CKU_SO, CH_T_SO_PIN) != CKR_OK)
		return -1;
	if (V->CH_AuditRead(h, 1, NULL, &n) == CKR_OK && (rec = calloc(n + 1, sizeof(*rec))) &&
	    V->CH_AuditRead(h, 1, rec, &n) == CKR_OK) {
		c = 0;
		for (CK_ULONG i = 0; i < n; i++)
			if (ch_t_padded_is(rec[i].operation, sizeof(rec[i].operation), op) &&
			    rec[i].result == rv)
				c++;
	}
	free(rec);
	if (P11->C_Logout(h) != CKR_OK || ch_t_login_user(h) != CKR_OK)
		return -1;
	return c;
}

/* ---- the tests ---- */

static void test_mechanism_info_is_aes_256_single_part_with_wrap(void)
{
	ch_t_env e;
	CK_MECHANISM_INFO info;
	CK_MECHANISM_TYPE list[256];
	CK_ULONG n = CH_T_ARRAY_LEN(list);
	bool listed = false;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(P11->C_GetMechanismInfo(e.slot, CKM_CH_AES_GCM_VERSIONED, &info), CKR_OK);
	CHECK_UL(info.ulMinKeySize, 32);
	CHECK_UL(info.ulMaxKeySize, 32);
	CHECK_UL(info.flags, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP);
	REQUIRE_RV(P11->C_GetMechanismList(e.slot, list, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++)
		listed = listed || list[i] == CKM_CH_AES_GCM_VERSIONED;
	CHECK(listed);
out:
	ch_t_env_free(&e);
}

static void test_old_ciphertext_decrypts_through_any_version_after_rotation(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2;
	CK_BYTE c1[128], c2[128], fam[8];
	CK_ULONG n1 = sizeof(c1), n2 = sizeof(c2), n = 0;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "orders", &v1), CKR_OK);
	/* A length query first: header, data, tag. */
	REQUIRE_RV(venc(h, v1, msg, sizeof(msg), NULL, &n), CKR_OK);
	CHECK_UL(n, HDR + sizeof(msg) + TAG);
	REQUIRE_RV(P11->C_Encrypt(h, (CK_BYTE_PTR)msg, sizeof(msg), c1, &n1), CKR_OK);
	CHECK_UL(n1, HDR + sizeof(msg) + TAG);
	/* 'C' 'H' 1 0, the plain key's family id (its unique ID), version 1. */
	REQUIRE(family_of(h, v1, fam));
	CHECK(c1[0] == 'C' && c1[1] == 'H' && c1[2] == 1 && c1[3] == 0);
	CHECK(memcmp(c1 + 4, fam, 8) == 0);
	CHECK_UL(header_version(c1), 1);
	CHECK(decrypts_to_msg(h, v1, c1, n1));
	{
		/* Plain AES-GCM under the same key, with the header's IV and
		 * AAD, opens nothing: versioned GCM runs under a derived key. */
		CK_BYTE full[HDR + sizeof(aad)];
		CK_GCM_PARAMS gp = { .pIv = c1 + 16,
			             .ulIvLen = 12,
			             .ulIvBits = 96,
			             .pAAD = full,
			             .ulAADLen = sizeof(full),
			             .ulTagBits = 128 };
		CK_MECHANISM gm = { CKM_AES_GCM, &gp, sizeof(gp) };
		CK_BYTE out[128];
		CK_ULONG on = sizeof(out);

		memcpy(full, c1, HDR); /* the additional data: header, then the caller's */
		memcpy(full + HDR, aad, sizeof(aad));
		REQUIRE_RV(P11->C_DecryptInit(h, &gm, v1), CKR_OK);
		CHECK_RV(P11->C_Decrypt(h, c1 + HDR, n1 - HDR, out, &on),
		         CKR_ENCRYPTED_DATA_INVALID);
	}

	/* Rotation adopts the plain key as version 1: its ciphertext stays
	 * readable through either handle. */
	REQUIRE_RV(V->CH_KeyRotate(h, v1, &v2), CKR_OK);
	CHECK(decrypts_to_msg(h, v1, c1, n1));
	CHECK(decrypts_to_msg(h, v2, c1, n1));

	/* New encryptions are version 2's (v1 may no longer encrypt). */
	CHECK_RV(venc(h, v1, msg, sizeof(msg), c2, &n2), CKR_KEY_FUNCTION_NOT_PERMITTED);
	n2 = sizeof(c2);
	REQUIRE_RV(venc(h, v2, msg, sizeof(msg), c2, &n2), CKR_OK);
	CHECK_UL(header_version(c2), 2);
	CHECK(memcmp(c2 + 4, fam, 8) == 0);
	CHECK(decrypts_to_msg(h, v1, c2, n2));
	CHECK(decrypts_to_msg(h, v2, c2, n2));
	/* Fresh IVs: two encryptions of one message differ. */
	n1 = sizeof(c1);
	REQUIRE_RV(venc(h, v2, msg, sizeof(msg), c1, &n1), CKR_OK);
	CHECK(memcmp(c1 + 16, c2 + 16, 12) != 0);
out:
	ch_t_env_free(&e);
}

static void test_rewrap_moves_a_v1_ciphertext_to_v2(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2;
	CK_BYTE c1[128], c2[128];
	CK_ULONG n1 = sizeof(c1), n2 = 0;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "orders", &v1), CKR_OK);
	REQUIRE_RV(venc(h, v1, msg, sizeof(msg), c1, &n1), CKR_OK);
	REQUIRE_RV(V->CH_KeyRotate(h, v1, &v2), CKR_OK);

	REQUIRE_RV(rewrap(h, v1, c1, n1, NULL, &n2), CKR_OK);
	CHECK_UL(n2, n1);
	n2 = 10;
	CHECK_RV(rewrap(h, v1, c1, n1, c2, &n2), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(n2, n1);
	n2 = sizeof(c2);
	REQUIRE_RV(rewrap(h, v1, c1, n1, c2, &n2), CKR_OK);
	CHECK_UL(n2, n1);
	CHECK_UL(header_version(c2), 2);
	CHECK(memcmp(c1 + 4, c2 + 4, 8) == 0);
	CHECK(decrypts_to_msg(h, v2, c2, n2));
	/* Through the primary's handle too. */
	n2 = sizeof(c2);
	REQUIRE_RV(rewrap(h, v2, c1, n1, c2, &n2), CKR_OK);
	CHECK_UL(header_version(c2), 2);
	CHECK(decrypts_to_msg(h, v1, c2, n2));
	/* A tampered input is refused and recorded. */
	c1[HDR + 1] ^= 1;
	n2 = sizeof(c2);
	CHECK_RV(rewrap(h, v1, c1, n1, c2, &n2), CKR_ENCRYPTED_DATA_INVALID);
	CHECK(audit_count(h, "key.rewrap", CKR_OK) == 2);
	CHECK(audit_count(h, "key.rewrap", CKR_ENCRYPTED_DATA_INVALID) == 1);
out:
	ch_t_env_free(&e);
}

static void test_min_version_and_disabling_make_v1_unusable(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2;
	CK_BYTE c1[128], c2[128], pt[128], out[128];
	CK_ULONG n1 = sizeof(c1), n2 = sizeof(c2), n = sizeof(pt);

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "orders", &v1), CKR_OK);
	REQUIRE_RV(venc(h, v1, msg, sizeof(msg), c1, &n1), CKR_OK);
	REQUIRE_RV(V->CH_KeyRotate(h, v1, &v2), CKR_OK);
	REQUIRE_RV(venc(h, v2, msg, sizeof(msg), c2, &n2), CKR_OK);

	REQUIRE_RV(V->CH_KeySetMinVersion(h, v2, 2), CKR_OK);
	CHECK_RV(vdec(h, v2, c1, n1, pt, &n), CKR_CH_KEY_VERSION_UNUSABLE);
	n = sizeof(out);
	CHECK_RV(rewrap(h, v2, c1, n1, out, &n), CKR_CH_KEY_VERSION_UNUSABLE);
	CHECK(decrypts_to_msg(h, v2, c2, n2));
	/* v1 itself can no longer start a decryption. */
	n = sizeof(pt);
	CHECK_RV(vdec(h, v1, c2, n2, pt, &n), CKR_KEY_FUNCTION_NOT_PERMITTED);

	REQUIRE_RV(V->CH_KeySetMinVersion(h, v2, 1), CKR_OK);
	CHECK(decrypts_to_msg(h, v2, c1, n1));
	REQUIRE_RV(V->CH_KeySetState(h, v1, CH_KEY_STATE_DISABLED), CKR_OK);
	n = sizeof(pt);
	CHECK_RV(vdec(h, v2, c1, n1, pt, &n), CKR_CH_KEY_VERSION_UNUSABLE);
	CHECK(decrypts_to_msg(h, v2, c2, n2));
	REQUIRE_RV(V->CH_KeySetState(h, v1, CH_KEY_STATE_ACTIVE), CKR_OK);
	CHECK(decrypts_to_msg(h, v2, c1, n1));
	REQUIRE_RV(V->CH_KeySetState(h, v1, CH_KEY_STATE_DESTROYED), CKR_OK);
	n = sizeof(pt);
	CHECK_RV(vdec(h, v2, c1, n1, pt, &n), CKR_CH_KEY_VERSION_UNUSABLE);
	/* A version the family never had. */
	c2[15] = 9;
	n = sizeof(pt);
	CHECK_RV(vdec(h, v2, c2, n2, pt, &n), CKR_CH_KEY_VERSION_UNUSABLE);
out:
	ch_t_env_free(&e);
}

static void test_any_tampering_is_encrypted_data_invalid(void)
{
	static const size_t flips[] = { 0, 2, 5, 11, 17, 27, HDR, HDR + 5, HDR + sizeof(msg) + 3 };
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k, other;
	CK_BYTE ct[128], bad[128], pt[128];
	CK_BYTE other_aad[] = "order-43";
	CK_ULONG n = sizeof(ct), m;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "orders", &k), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "invoices", &other), CKR_OK);
	REQUIRE_RV(venc(h, k, msg, sizeof(msg), ct, &n), CKR_OK);
	for (size_t i = 0; i < CH_T_ARRAY_LEN(flips); i++) {
		memcpy(bad, ct, n);
		bad[flips[i]] ^= 0x40;
		m = sizeof(pt);
		memset(pt, 0xAA, sizeof(pt));
		if (!CHECK_RV(vdec(h, k, bad, n, pt, &m), CKR_ENCRYPTED_DATA_INVALID))
			fprintf(stderr, "    byte %zu flipped\n", flips[i]);
		/* Nothing of the plaintext is left in the buffer. */
		CHECK(!ch_t_contains(pt, sizeof(pt), msg, 8));
	}
	m = sizeof(pt);
	CHECK_RV(vdec_aad(h, k, other_aad, sizeof(other_aad), ct, n, pt, &m),
	         CKR_ENCRYPTED_DATA_INVALID);
	m = sizeof(pt);
	CHECK_RV(vdec_aad(h, k, NULL, 0, ct, n, pt, &m), CKR_ENCRYPTED_DATA_INVALID);
	/* Another family's key. */
	m = sizeof(pt);
	CHECK_RV(vdec(h, other, ct, n, pt, &m), CKR_ENCRYPTED_DATA_INVALID);
	/* Too short for a header and a tag. */
	m = sizeof(pt);
	CHECK_RV(vdec(h, k, ct, HDR + TAG - 1, pt, &m), CKR_ENCRYPTED_DATA_LEN_RANGE);
	CHECK(decrypts_to_msg(h, k, ct, n));
out:
	ch_t_env_free(&e);
}

static void test_only_aes_256_single_part_and_parameter_checked(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k128, k, sk;
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 }, vm;
	CK_ULONG len = 16, n;
	CK_BYTE out[128];
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_ENCRYPT, true),    CH_T_BOOL(CKA_DECRYPT, true),
		CH_T_STR(CKA_LABEL, "short"),
	};

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(P11->C_GenerateKey(h, &m, t, CH_T_ARRAY_LEN(t), &k128), CKR_OK);
	vmech(&vm, NULL, 0);
	CHECK_RV(P11->C_EncryptInit(h, &vm, k128), CKR_KEY_SIZE_RANGE);
	REQUIRE_RV(ch_t_gen_aes(h, true, "orders", &k), CKR_OK);
	vmech(&vm, NULL, 4);
	CHECK_RV(P11->C_EncryptInit(h, &vm, k), CKR_MECHANISM_PARAM_INVALID);
	vmech(&vm, NULL, 0);
	REQUIRE_RV(P11->C_EncryptInit(h, &vm, k), CKR_OK);
	n = sizeof(out);
	CHECK_RV(P11->C_EncryptUpdate(h, (CK_BYTE_PTR)msg, sizeof(msg), out, &n),
	         CKR_FUNCTION_NOT_SUPPORTED);
	/* A session key is a family of its own. */
	REQUIRE_RV(ch_t_gen_aes(h, false, "mine", &sk), CKR_OK);
	n = sizeof(out);
	REQUIRE_RV(venc(h, sk, msg, sizeof(msg), out, &n), CKR_OK);
	CHECK_UL(header_version(out), 1);
	CHECK(decrypts_to_msg(h, sk, out, n));
out:
	ch_t_env_free(&e);
}

static void test_grants_decide_which_versions_bob_may_use(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2, v3;
	CK_BYTE c1[128], c3[128], pt[128], out[128];
	CK_ULONG n1 = sizeof(c1), n3 = sizeof(c3), n;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(ch_t_participant_add(h, "bob", CH_ROLE_USER, "bob-pin-1"), CKR_OK);
	REQUIRE_RV(ch_t_participant_add(h, "carol", CH_ROLE_USER, "carol-pin-1"), CKR_OK);
	REQUIRE_RV(ch_t_participant_add(h, "dave", CH_ROLE_USER, "dave-pin-1"), CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "orders", &v1), CKR_OK);
	REQUIRE_RV(venc(h, v1, msg, sizeof(msg), c1, &n1), CKR_OK);
	/* bob may decrypt version 1 and (carried over) version 2. */
	REQUIRE_RV(V->CH_GrantSet(h, v1, (CK_UTF8CHAR_PTR) "bob", 3, CH_GRANT_DECRYPT), CKR_OK);
	REQUIRE_RV(V->CH_KeyRotate(h, v1, &v2), CKR_OK);
	/* carol gets version 2 only, after the rotation. */
	REQUIRE_RV(V->CH_GrantSet(h, v2, (CK_UTF8CHAR_PTR) "carol", 5, CH_GRANT_DECRYPT), CKR_OK);
	REQUIRE_RV(V->CH_KeyRotate(h, v2, &v3), CKR_OK);
	REQUIRE_RV(venc(h, v3, msg, sizeof(msg), c3, &n3), CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);

	REQUIRE_RV(ch_t_login_as(h, CKU_USER, "bob", "bob-pin-1"), CKR_OK);
	CHECK(decrypts_to_msg(h, v2, c1, n1));
	CHECK(decrypts_to_msg(h, v3, c3, n3));
	/* No encrypt grant on the primary: no rewrap. */
	n = sizeof(out);
	CHECK_RV(rewrap(h, v2, c1, n1, out, &n), CKR_KEY_FUNCTION_NOT_PERMITTED);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);

	REQUIRE_RV(ch_t_login_as(h, CKU_USER, "carol", "carol-pin-1"), CKR_OK);
	n = sizeof(pt);
	CHECK_RV(vdec(h, v2, c1, n1, pt, &n), CKR_CH_KEY_VERSION_UNUSABLE);
	CHECK(decrypts_to_msg(h, v2, c3, n3));
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);

	/* dave holds no grant: he does not even see the family. */
	REQUIRE_RV(ch_t_login_as(h, CKU_USER, "dave", "dave-pin-1"), CKR_OK);
	n = sizeof(pt);
	CHECK_RV2(vdec(h, v3, c3, n3, pt, &n), CKR_KEY_HANDLE_INVALID,
	          CKR_KEY_FUNCTION_NOT_PERMITTED);
	n = sizeof(out);
	CHECK_RV2(rewrap(h, v3, c1, n1, out, &n), CKR_KEY_HANDLE_INVALID,
	          CKR_KEY_FUNCTION_NOT_PERMITTED);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);

	/* Nobody logged in, or the SO: no key use. */
	n = sizeof(out);
	CHECK_RV(rewrap(h, v2, c1, n1, out, &n), CKR_USER_NOT_LOGGED_IN);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(rewrap(h, v2, c1, n1, out, &n), CKR_USER_NOT_LOGGED_IN);
out:
	ch_t_env_free(&e);
}

static void test_versioned_wrap_unwraps_after_a_kek_rotation(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE kek1, kek2, key, back;
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 }, vm;
	CK_ULONG len = 32, wn = 0;
	CK_BYTE wrapped[128], v1[32];
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE kt_tmpl[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_WRAP, true),       CH_T_BOOL(CKA_UNWRAP, true),
		CH_T_STR(CKA_LABEL, "kek"),
	};
	CK_ATTRIBUTE key_tmpl[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &len),  CH_T_BOOL(CKA_TOKEN, false),
		CH_T_BOOL(CKA_EXTRACTABLE, true), CH_T_BOOL(CKA_SENSITIVE, false),
		CH_T_BOOL(CKA_ENCRYPT, true),
	};
	CK_ATTRIBUTE un[] = {
		CH_T_ULONG(CKA_CLASS, &cls),    CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, false),    CH_T_BOOL(CKA_ENCRYPT, true),
		CH_T_BOOL(CKA_SENSITIVE, true), CH_T_BOOL(CKA_EXTRACTABLE, false),
	};

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(P11->C_GenerateKey(h, &gen, kt_tmpl, CH_T_ARRAY_LEN(kt_tmpl), &kek1), CKR_OK);
	REQUIRE_RV(P11->C_GenerateKey(h, &gen, key_tmpl, CH_T_ARRAY_LEN(key_tmpl), &key), CKR_OK);
	len = sizeof(v1);
	REQUIRE_RV(ch_t_get(h, key, CKA_VALUE, v1, &len), CKR_OK);
	vmech(&vm, NULL, 0);
	REQUIRE_RV(P11->C_WrapKey(h, &vm, kek1, key, NULL, &wn), CKR_OK);
	CHECK_UL(wn, HDR + 32 + TAG);
	REQUIRE_RV(P11->C_WrapKey(h, &vm, kek1, key, wrapped, &wn), CKR_OK);
	REQUIRE_RV(V->CH_KeyRotate(h, kek1, &kek2), CKR_OK);
	/* Through the new version: it picks version 1 itself. */
	REQUIRE_RV(P11->C_UnwrapKey(h, &vm, kek2, wrapped, wn, un, CH_T_ARRAY_LEN(un), &back),
	           CKR_OK);
	CHECK_RV(P11->C_DestroyObject(h, back), CKR_OK);
	/* The KEK's family has no data-key plaintext policy: a readable
	 * unwrapped key is refused. */
	un[4] = (CK_ATTRIBUTE)CH_T_BOOL(CKA_SENSITIVE, false);
	CHECK_RV(P11->C_UnwrapKey(h, &vm, kek2, wrapped, wn, un, CH_T_ARRAY_LEN(un), &back),
	         CKR_TEMPLATE_INCONSISTENT);
	wrapped[HDR + 3] ^= 1;
	un[4] = (CK_ATTRIBUTE)CH_T_BOOL(CKA_SENSITIVE, true);
	CHECK_RV(P11->C_UnwrapKey(h, &vm, kek2, wrapped, wn, un, CH_T_ARRAY_LEN(un), &back),
	         CKR_WRAPPED_KEY_INVALID);
out:
	ch_t_env_free(&e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_mechanism_info_is_aes_256_single_part_with_wrap),
	CH_T_CASE(test_old_ciphertext_decrypts_through_any_version_after_rotation),
	CH_T_CASE(test_rewrap_moves_a_v1_ciphertext_to_v2),
	CH_T_CASE(test_min_version_and_disabling_make_v1_unusable),
	CH_T_CASE(test_any_tampering_is_encrypted_data_invalid),
	CH_T_CASE(test_only_aes_256_single_part_and_parameter_checked),
	CH_T_CASE(test_grants_decide_which_versions_bob_may_use),
	CH_T_CASE(test_versioned_wrap_unwraps_after_a_kek_rotation),
};

int main(void)
{
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
