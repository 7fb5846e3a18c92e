/*
 * Key management through the module (issue 4, "Wrap and unwrap"): C_WrapKey
 * and C_UnwrapKey with their policy (CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED,
 * CKA_WRAP_TEMPLATE and CKA_UNWRAP_TEMPLATE, no key under a weaker one),
 * key-role separation against the Clulow-style attacks, the attributes an
 * unwrapped key gets, and the audit records.  Family-specific wrapping
 * mechanisms (AES-KW, RSA-OAEP ...) are proven in their families' tests;
 * AES-GCM, present from the start, drives the policy here.
 */
#include <string.h>

#include "check.h"
#include "module.h"

static const CK_BYTE k256[32] = { 0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae,
	                          0xf0, 0x85, 0x7d, 0x77, 0x81, 0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61,
	                          0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4 };
static const CK_BYTE k128[16] = { 0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
	                          0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c };
static const CK_BYTE secret[32] = "the key that must not leak!!!!!";

static CK_OBJECT_CLASS cls_secret = CKO_SECRET_KEY;
static CK_KEY_TYPE kt_aes = CKK_AES;

/* An AES session key with value v and the usage flags given. */
static CK_RV make_key(CK_SESSION_HANDLE h, const CK_BYTE *v, CK_ULONG len, bool wrap, bool unwrap,
                      bool enc, bool dec, bool extractable, CK_OBJECT_HANDLE *o)
{
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls_secret),
		CH_T_ULONG(CKA_KEY_TYPE, &kt_aes),
		CH_T_BOOL(CKA_WRAP, wrap),
		CH_T_BOOL(CKA_UNWRAP, unwrap),
		CH_T_BOOL(CKA_ENCRYPT, enc),
		CH_T_BOOL(CKA_DECRYPT, dec),
		CH_T_BOOL(CKA_EXTRACTABLE, extractable),
		CH_T_ATTR(CKA_VALUE, v, len),
	};

	return P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), o);
}

static CK_RV make_kek(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *o)
{
	return make_key(h, k256, sizeof(k256), true, true, false, false, false, o);
}

/* Fills m with AES-GCM over the 12-byte iv. */
static void gcm(CK_MECHANISM *m, CK_GCM_PARAMS *p, CK_BYTE *iv)
{
	ch_t_gcm(m, p, iv, NULL, 0);
}

/* Unwraps blob under kek as an extractable AES key usable for encryption. */
static CK_RV unwrap(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE kek, CK_BYTE *blob, CK_ULONG len,
                    CK_OBJECT_HANDLE *o)
{
	CK_BYTE iv[12] = { 1, 2, 3 };
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls_secret),
		CH_T_ULONG(CKA_KEY_TYPE, &kt_aes),
		CH_T_BOOL(CKA_ENCRYPT, true),
		CH_T_BOOL(CKA_EXTRACTABLE, true),
	};

	gcm(&m, &p, iv);
	return P11->C_UnwrapKey(h, &m, kek, blob, len, t, CH_T_ARRAY_LEN(t), o);
}

static CK_RV wrap(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE kek, CK_OBJECT_HANDLE key, CK_BYTE *out,
                  CK_ULONG *len)
{
	CK_BYTE iv[12] = { 1, 2, 3 };
	CK_GCM_PARAMS p;
	CK_MECHANISM m;

	gcm(&m, &p, iv);
	return P11->C_WrapKey(h, &m, kek, key, out, len);
}

static void test_wrap_then_unwrap_gives_back_the_key(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE kek, key, back;
	CK_BYTE blob[128], value[64];
	CK_ULONG len = 0, small = 4;
	CK_ATTRIBUTE get = CH_T_ATTR(CKA_VALUE, value, sizeof(value));

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(make_kek(h, &kek), CKR_OK);
	REQUIRE_RV(make_key(h, secret, sizeof(secret), false, false, true, true, true, &key),
	           CKR_OK);

	/* The buffer convention: a length query, then a short buffer. */
	CHECK_RV(wrap(h, kek, key, NULL, &len), CKR_OK);
	CHECK_UL(len, sizeof(secret) + 16);
	CHECK_RV(wrap(h, kek, key, blob, &small), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(small, sizeof(secret) + 16);
	len = sizeof(blob);
	REQUIRE_RV(wrap(h, kek, key, blob, &len), CKR_OK);
	CHECK_UL(len, sizeof(secret) + 16);
	CHECK(!ch_t_contains(blob, len, secret, 8));

	REQUIRE_RV(unwrap(h, kek, blob, len, &back), CKR_OK);
	REQUIRE_RV(P11->C_GetAttributeValue(h, back, &get, 1), CKR_OK);
	CHECK_UL(get.ulValueLen, sizeof(secret));
	CHECK(memcmp(value, secret, sizeof(secret)) == 0);
	/* An unwrapped key was not made here and was once outside. */
	CHECK(ch_t_get_bool(h, back, CKA_LOCAL) == 0);
	CHECK(ch_t_get_bool(h, back, CKA_ALWAYS_SENSITIVE) == 0);
	CHECK(ch_t_get_bool(h, back, CKA_NEVER_EXTRACTABLE) == 0);
	CHECK(ch_t_get_bool(h, back, CKA_ENCRYPT) == 1);

	/* A flipped bit anywhere: one code, and no key appears. */
	long before = ch_t_count(h, NULL, 0);
	blob[3] ^= 1;
	CHECK_RV(unwrap(h, kek, blob, len, &back), CKR_WRAPPED_KEY_INVALID);
	blob[3] ^= 1;
	blob[len - 1] ^= 0x80;
	CHECK_RV(unwrap(h, kek, blob, len, &back), CKR_WRAPPED_KEY_INVALID);
	CHECK_RV(unwrap(h, kek, blob, 8, &back), CKR_WRAPPED_KEY_LEN_RANGE);
	CHECK(ch_t_count(h, NULL, 0) == before);
out:
	ch_t_env_free(&e);
}

static void test_wrap_refuses_what_policy_forbids(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE kek, weak, noflag, locked, key, pub, priv;
	CK_BYTE blob[128];
	CK_ULONG len = sizeof(blob);
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(make_kek(h, &kek), CKR_OK);
	REQUIRE_RV(make_key(h, k128, sizeof(k128), true, true, false, false, false, &weak), CKR_OK);
	REQUIRE_RV(make_key(h, k256, sizeof(k256), false, false, true, false, false, &noflag),
	           CKR_OK);
	REQUIRE_RV(make_key(h, secret, sizeof(secret), false, false, true, true, false, &locked),
	           CKR_OK);
	REQUIRE_RV(make_key(h, secret, sizeof(secret), false, false, true, true, true, &key),
	           CKR_OK);
	REQUIRE_RV(ch_t_gen_ec(h, false, "ec", &pub, &priv), CKR_OK);

	CHECK_RV(wrap(h, kek, locked, blob, &len), CKR_KEY_UNEXTRACTABLE);
	len = sizeof(blob);
	CHECK_RV(wrap(h, weak, key, blob, &len), CKR_KEY_NOT_WRAPPABLE); /* 128 under 256 */
	len = sizeof(blob);
	CHECK_RV(wrap(h, noflag, key, blob, &len), CKR_KEY_FUNCTION_NOT_PERMITTED);
	len = sizeof(blob);
	CHECK_RV(wrap(h, kek, pub, blob, &len), CKR_KEY_NOT_WRAPPABLE); /* not a secret */
	len = sizeof(blob);
	CHECK_RV(wrap(h, kek, 0xdead, blob, &len), CKR_KEY_HANDLE_INVALID);
	len = sizeof(blob);
	CHECK_RV(wrap(h, 0xdead, key, blob, &len), CKR_WRAPPING_KEY_HANDLE_INVALID);
	len = sizeof(blob);
	CHECK_RV(wrap(h, pub, key, blob, &len), CKR_WRAPPING_KEY_TYPE_INCONSISTENT);
	len = sizeof(blob);
	CHECK_RV(P11->C_WrapKey(h, &gen, kek, key, blob, &len), CKR_MECHANISM_INVALID);
	CHECK_RV(P11->C_WrapKey(h, NULL, kek, key, blob, &len), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_WrapKey(h, &gen, kek, key, blob, NULL), CKR_ARGUMENTS_BAD);
	/* The other way round is fine: 128 bits under 256. */
	REQUIRE_RV(P11->C_SetAttributeValue(
	                   h, weak, (CK_ATTRIBUTE[]){ CH_T_BOOL(CKA_EXTRACTABLE, true) }, 1),
	           CKR_ATTRIBUTE_READ_ONLY); /* EXTRACTABLE only goes TRUE->FALSE */
	CK_OBJECT_HANDLE small;
	REQUIRE_RV(make_key(h, k128, sizeof(k128), false, false, true, true, true, &small), CKR_OK);
	len = sizeof(blob);
	CHECK_RV(wrap(h, kek, small, blob, &len), CKR_OK);
	CHECK_UL(len, 16 + 16);

	/* Logged out, nothing is wrapped. */
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	len = sizeof(blob);
	CHECK_RV(wrap(h, kek, key, blob, &len), CKR_USER_NOT_LOGGED_IN);
out:
	ch_t_env_free(&e);
}

static void test_wrap_with_trusted_needs_a_trusted_wrapping_key(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE kek, key;
	CK_BYTE blob[128];
	CK_ULONG len = sizeof(blob);
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls_secret),
		CH_T_ULONG(CKA_KEY_TYPE, &kt_aes),
		CH_T_BOOL(CKA_EXTRACTABLE, true),
		CH_T_BOOL(CKA_WRAP_WITH_TRUSTED, true),
		CH_T_ATTR(CKA_VALUE, secret, sizeof(secret)),
	};

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(make_kek(h, &kek), CKR_OK);
	REQUIRE_RV(P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), &key), CKR_OK);
	CHECK_RV(wrap(h, kek, key, blob, &len), CKR_KEY_NOT_WRAPPABLE);
	/* Only the SO may make a key trusted. */
	CHECK_RV(P11->C_SetAttributeValue(h, kek, (CK_ATTRIBUTE[]){ CH_T_BOOL(CKA_TRUSTED, true) },
	                                  1),
	         CKR_ATTRIBUTE_READ_ONLY);
out:
	ch_t_env_free(&e);
}

static void test_wrap_and_unwrap_templates_are_honoured(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE kek, labelled, other, back;
	CK_BYTE blob[128], iv[12] = { 1, 2, 3 };
	CK_ULONG len = sizeof(blob);
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	CK_ATTRIBUTE wrap_tmpl[] = { CH_T_STR(CKA_LABEL, "exportable") };
	CK_ATTRIBUTE unwrap_tmpl[] = { CH_T_BOOL(CKA_SENSITIVE, true),
		                       CH_T_BOOL(CKA_EXTRACTABLE, false) };
	CK_ATTRIBUTE kt[] = {
		CH_T_ULONG(CKA_CLASS, &cls_secret),
		CH_T_ULONG(CKA_KEY_TYPE, &kt_aes),
		CH_T_BOOL(CKA_WRAP, true),
		CH_T_BOOL(CKA_UNWRAP, true),
		CH_T_ATTR(CKA_VALUE, k256, sizeof(k256)),
		CH_T_ATTR(CKA_WRAP_TEMPLATE, wrap_tmpl, sizeof(wrap_tmpl)),
		CH_T_ATTR(CKA_UNWRAP_TEMPLATE, unwrap_tmpl, sizeof(unwrap_tmpl)),
	};
	CK_ATTRIBUTE lt[] = {
		CH_T_ULONG(CKA_CLASS, &cls_secret),
		CH_T_ULONG(CKA_KEY_TYPE, &kt_aes),
		CH_T_BOOL(CKA_EXTRACTABLE, true),
		CH_T_STR(CKA_LABEL, "exportable"),
		CH_T_ATTR(CKA_VALUE, secret, sizeof(secret)),
	};
	CK_ATTRIBUTE conflicting[] = {
		CH_T_ULONG(CKA_CLASS, &cls_secret),
		CH_T_ULONG(CKA_KEY_TYPE, &kt_aes),
		CH_T_BOOL(CKA_EXTRACTABLE, true),
	};
	CK_ATTRIBUTE plain[] = {
		CH_T_ULONG(CKA_CLASS, &cls_secret),
		CH_T_ULONG(CKA_KEY_TYPE, &kt_aes),
		CH_T_STR(CKA_LABEL, "unwrapped"),
	};

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(P11->C_CreateObject(h, kt, CH_T_ARRAY_LEN(kt), &kek), CKR_OK);
	REQUIRE_RV(P11->C_CreateObject(h, lt, CH_T_ARRAY_LEN(lt), &labelled), CKR_OK);
	REQUIRE_RV(make_key(h, secret, sizeof(secret), false, false, true, true, true, &other),
	           CKR_OK);

	CHECK_RV(wrap(h, kek, other, blob, &len), CKR_KEY_NOT_WRAPPABLE);
	len = sizeof(blob);
	REQUIRE_RV(wrap(h, kek, labelled, blob, &len), CKR_OK);

	ch_t_gcm(&m, &p, iv, NULL, 0);
	CHECK_RV(P11->C_UnwrapKey(h, &m, kek, blob, len, conflicting, CH_T_ARRAY_LEN(conflicting),
	                          &back),
	         CKR_TEMPLATE_INCONSISTENT);
	REQUIRE_RV(P11->C_UnwrapKey(h, &m, kek, blob, len, plain, CH_T_ARRAY_LEN(plain), &back),
	           CKR_OK);
	CHECK(ch_t_get_bool(h, back, CKA_SENSITIVE) == 1);
	CHECK(ch_t_get_bool(h, back, CKA_EXTRACTABLE) == 0);
out:
	ch_t_env_free(&e);
}

static void test_key_roles_stay_separated(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k, copy, pub, priv;
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_MECHANISM ecgen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ULONG len = 32;
	CK_ATTRIBUTE both[] = { CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_BOOL(CKA_WRAP, true),
		                CH_T_BOOL(CKA_DECRYPT, true) };
	CK_ATTRIBUTE pt[] = {
		CH_T_ATTR(CKA_EC_PARAMS, ch_t_p256_params, sizeof(ch_t_p256_params)),
		CH_T_BOOL(CKA_WRAP, true),
	};
	CK_ATTRIBUTE st[] = { CH_T_BOOL(CKA_DECRYPT, true) };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	/* Created or generated with both roles of a pair: refused. */
	CHECK_RV(make_key(h, k256, 32, true, false, false, true, true, &k),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK_RV(make_key(h, k256, 32, false, true, true, false, true, &k),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK_RV(P11->C_GenerateKey(h, &gen, both, CH_T_ARRAY_LEN(both), &k),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK_RV(P11->C_GenerateKeyPair(h, &ecgen, pt, CH_T_ARRAY_LEN(pt), st, CH_T_ARRAY_LEN(st),
	                                &pub, &priv),
	         CKR_TEMPLATE_INCONSISTENT);
	/* One role each is fine; adding the other later is not, nor in a copy. */
	REQUIRE_RV(make_key(h, k256, 32, true, true, false, false, true, &k), CKR_OK);
	CHECK_RV(
	        P11->C_SetAttributeValue(h, k, (CK_ATTRIBUTE[]){ CH_T_BOOL(CKA_DECRYPT, true) }, 1),
	        CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK_RV(
	        P11->C_CopyObject(h, k, (CK_ATTRIBUTE[]){ CH_T_BOOL(CKA_ENCRYPT, true) }, 1, &copy),
	        CKR_TEMPLATE_INCONSISTENT);
	CHECK(ch_t_get_bool(h, k, CKA_DECRYPT) == 0);
	/* Unwrapping cannot make such a key either. */
	CK_OBJECT_HANDLE kek, key, back;
	CK_BYTE blob[128], iv[12] = { 1, 2, 3 };
	CK_ULONG blen = sizeof(blob);
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	CK_ATTRIBUTE bad[] = {
		CH_T_ULONG(CKA_CLASS, &cls_secret),
		CH_T_ULONG(CKA_KEY_TYPE, &kt_aes),
		CH_T_BOOL(CKA_UNWRAP, true),
		CH_T_BOOL(CKA_ENCRYPT, true),
	};

	REQUIRE_RV(make_kek(h, &kek), CKR_OK);
	REQUIRE_RV(make_key(h, secret, 32, false, false, true, true, true, &key), CKR_OK);
	REQUIRE_RV(wrap(h, kek, key, blob, &blen), CKR_OK);
	ch_t_gcm(&m, &p, iv, NULL, 0);
	CHECK_RV(P11->C_UnwrapKey(h, &m, kek, blob, blen, bad, CH_T_ARRAY_LEN(bad), &back),
	         CKR_TEMPLATE_INCONSISTENT);
out:
	ch_t_env_free(&e);
}

static void test_wrap_and_unwrap_are_audited(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE kek, key, back;
	CK_BYTE blob[128];
	CK_ULONG len = sizeof(blob);
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE tok[] = {
		CH_T_ULONG(CKA_CLASS, &cls_secret), CH_T_ULONG(CKA_KEY_TYPE, &kt_aes),
		CH_T_BOOL(CKA_WRAP, true),          CH_T_BOOL(CKA_UNWRAP, true),
		CH_T_ATTR(CKA_TOKEN, &yes, 1),      CH_T_ATTR(CKA_VALUE, k256, sizeof(k256)),
	};
	CH_AUDIT_RECORD rec[64];
	CK_ULONG n = CH_T_ARRAY_LEN(rec);
	int wraps = 0, unwraps = 0;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(P11->C_CreateObject(h, tok, CH_T_ARRAY_LEN(tok), &kek), CKR_OK);
	REQUIRE_RV(make_key(h, secret, 32, false, false, true, true, true, &key), CKR_OK);
	REQUIRE_RV(wrap(h, kek, key, NULL, &len), CKR_OK); /* a length query: not recorded */
	len = sizeof(blob);
	REQUIRE_RV(wrap(h, kek, key, blob, &len), CKR_OK);
	REQUIRE_RV(unwrap(h, kek, blob, len, &back), CKR_OK);
	blob[0] ^= 1;
	CHECK_RV(unwrap(h, kek, blob, len, &back), CKR_WRAPPED_KEY_INVALID);

	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE(ch_t_vendor() != NULL);
	REQUIRE_RV(ch_t_vendor()->CH_AuditRead(h, 1, rec, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++) {
		if (ch_t_padded_is(rec[i].operation, sizeof(rec[i].operation), "key.wrap")) {
			wraps++;
			CHECK(memcmp(rec[i].detail, "wrapping key ", 13) == 0);
			CHECK_UL(rec[i].result, CKR_OK);
		}
		if (ch_t_padded_is(rec[i].operation, sizeof(rec[i].operation), "key.unwrap")) {
			unwraps++;
			CHECK(memcmp(rec[i].detail, "unwrapping key ", 15) == 0);
		}
	}
	CHECK(wraps == 1);
	CHECK(unwraps == 2);
out:
	ch_t_env_free(&e);
}

static void test_legacy_policy_relaxes_role_separation_for_its_registration(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k;

	REQUIRE(ch_t_setup_with(&e, "[policy]\nlegacy_key_roles = other, t\n"));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	CHECK_RV(make_key(h, k256, 32, true, true, true, true, true, &k), CKR_OK);
	CHECK(ch_t_get_bool(h, k, CKA_DECRYPT) == 1 && ch_t_get_bool(h, k, CKA_WRAP) == 1);
out:
	ch_t_env_free(&e);
}

static void test_legacy_policy_naming_other_registrations_leaves_this_one_strict(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k;

	REQUIRE(ch_t_setup_with(&e, "[policy]\nlegacy_key_roles = tt legacy\n"));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	CHECK_RV(make_key(h, k256, 32, true, true, true, true, true, &k),
	         CKR_TEMPLATE_INCONSISTENT);
out:
	ch_t_env_free(&e);
}

static void test_an_admin_marks_a_wrapping_key_trusted(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE kek, key;
	CK_BYTE blob[128];
	CK_ULONG len = sizeof(blob);
	CK_ATTRIBUTE kt[] = {
		CH_T_ULONG(CKA_CLASS, &cls_secret),
		CH_T_ULONG(CKA_KEY_TYPE, &kt_aes),
		CH_T_BOOL(CKA_WRAP, true),
		CH_T_BOOL(CKA_TRUSTED, true),
		CH_T_ATTR(CKA_VALUE, k256, sizeof(k256)),
	};
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls_secret),
		CH_T_ULONG(CKA_KEY_TYPE, &kt_aes),
		CH_T_BOOL(CKA_EXTRACTABLE, true),
		CH_T_BOOL(CKA_WRAP_WITH_TRUSTED, true),
		CH_T_ATTR(CKA_VALUE, secret, sizeof(secret)),
	};

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE(ch_t_vendor() != NULL);
	REQUIRE_RV(ch_t_participant_add(h, "sec", CH_ROLE_ADMIN | CH_ROLE_OPERATOR | CH_ROLE_USER,
	                                "sec-pin-4711"),
	           CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	/* The default participant is no admin: it cannot make a key trusted. */
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK_RV(P11->C_CreateObject(h, kt, CH_T_ARRAY_LEN(kt), &kek), CKR_ATTRIBUTE_READ_ONLY);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_login_as(h, CKU_USER, "sec", "sec-pin-4711"), CKR_OK);
	REQUIRE_RV(P11->C_CreateObject(h, kt, CH_T_ARRAY_LEN(kt), &kek), CKR_OK);
	REQUIRE_RV(P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), &key), CKR_OK);
	CHECK_RV(wrap(h, kek, key, blob, &len), CKR_OK);
out:
	ch_t_env_free(&e);
}

static void test_derivations_that_reveal_key_bits_are_not_offered(void)
{
	static const CK_MECHANISM_TYPE leaky[] = {
		CKM_XOR_BASE_AND_DATA,         CKM_EXTRACT_KEY_FROM_KEY,
		CKM_CONCATENATE_BASE_AND_KEY,  CKM_CONCATENATE_BASE_AND_DATA,
		CKM_CONCATENATE_DATA_AND_BASE,
	};
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE base, out;
	CK_MECHANISM_INFO info;
	CK_ATTRIBUTE t[] = { CH_T_ULONG(CKA_CLASS, &cls_secret) };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(make_key(h, k256, 32, false, false, true, true, true, &base), CKR_OK);
	for (size_t i = 0; i < CH_T_ARRAY_LEN(leaky); i++) {
		CK_BYTE data[16] = { 0 };
		CK_KEY_DERIVATION_STRING_DATA p = { data, sizeof(data) };
		CK_MECHANISM m = { leaky[i], &p, sizeof(p) };

		CHECK_RV(P11->C_GetMechanismInfo(e.slot, leaky[i], &info), CKR_MECHANISM_INVALID);
		CHECK_RV(P11->C_DeriveKey(h, &m, base, t, CH_T_ARRAY_LEN(t), &out),
		         CKR_MECHANISM_INVALID);
	}
out:
	ch_t_env_free(&e);
}

static void test_derived_keys_are_as_protected_as_their_base_by_default(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE base, k1, k2;
	CK_KEY_TYPE kt_gen = CKK_GENERIC_SECRET;
	CK_ULONG len = 32;
	CK_HKDF_PARAMS p = {
		CK_TRUE, CK_TRUE, CKM_SHA256, CKF_HKDF_SALT_NULL, NULL, 0, 0, NULL, 0
	};
	CK_MECHANISM m = { CKM_HKDF_DERIVE, &p, sizeof(p) };
	CK_ATTRIBUTE bt[] = {
		CH_T_ULONG(CKA_CLASS, &cls_secret), CH_T_ULONG(CKA_KEY_TYPE, &kt_gen),
		CH_T_BOOL(CKA_DERIVE, true),        CH_T_BOOL(CKA_SENSITIVE, true),
		CH_T_BOOL(CKA_EXTRACTABLE, false),  CH_T_ATTR(CKA_VALUE, k256, sizeof(k256)),
	};
	CK_ATTRIBUTE plain[] = { CH_T_ULONG(CKA_VALUE_LEN, &len) };
	CK_ATTRIBUTE asked[] = { CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_BOOL(CKA_SENSITIVE, true),
		                 CH_T_BOOL(CKA_EXTRACTABLE, true) };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(P11->C_CreateObject(h, bt, CH_T_ARRAY_LEN(bt), &base), CKR_OK);
	REQUIRE_RV(P11->C_DeriveKey(h, &m, base, plain, 1, &k1), CKR_OK);
	CHECK(ch_t_get_bool(h, k1, CKA_SENSITIVE) == 1);
	CHECK(ch_t_get_bool(h, k1, CKA_EXTRACTABLE) == 0);
	/* An imported base was never "always sensitive", so neither is k1. */
	CHECK(ch_t_get_bool(h, k1, CKA_ALWAYS_SENSITIVE) == 0);
	REQUIRE_RV(P11->C_DeriveKey(h, &m, base, asked, CH_T_ARRAY_LEN(asked), &k2), CKR_OK);
	CHECK(ch_t_get_bool(h, k2, CKA_EXTRACTABLE) == 1);
out:
	ch_t_env_free(&e);
}

/* A logout ends every operation that holds a key: none goes on under the
 * next login, whoever that is, and a new init is not "already active". */
static void test_logout_ends_the_operations_that_hold_keys(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE pub, priv, key;
	CK_MECHANISM ecdsa = { CKM_ECDSA_SHA256, NULL, 0 }, gcm = { CKM_AES_GCM, NULL, 0 };
	CK_MECHANISM sha = { CKM_SHA256, NULL, 0 };
	CK_BYTE sig[80], ct[64], tag[16], iv[12] = { 0 }, dg[32];
	CK_ULONG n = sizeof(sig), cn = sizeof(ct), dn = sizeof(dg);
	CK_GCM_MESSAGE_PARAMS mp = { iv, sizeof(iv), 0, CKG_NO_GENERATE, tag, 128 };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_ec(h, true, "ec", &pub, &priv), CKR_OK);
	REQUIRE_RV(make_key(h, k256, 32, false, false, true, true, true, &key), CKR_OK);
	REQUIRE_RV(P11->C_SignInit(h, &ecdsa, priv), CKR_OK);
	REQUIRE_RV(P11->C_MessageEncryptInit(h, &gcm, key), CKR_OK);
	REQUIRE_RV(P11->C_DigestInit(h, &sha), CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK_RV(P11->C_Sign(h, (CK_BYTE_PTR) "m", 1, sig, &n), CKR_OPERATION_NOT_INITIALIZED);
	CHECK_RV(P11->C_EncryptMessage(h, &mp, sizeof(mp), NULL, 0, (CK_BYTE_PTR) "m", 1, ct, &cn),
	         CKR_OPERATION_NOT_INITIALIZED);
	/* A digest holds no key: it goes on. */
	CHECK_RV(P11->C_Digest(h, (CK_BYTE_PTR) "m", 1, dg, &dn), CKR_OK);
	/* And the next init starts afresh. */
	CHECK_RV(P11->C_SignInit(h, &ecdsa, priv), CKR_OK);
	n = sizeof(sig);
	CHECK_RV(P11->C_Sign(h, (CK_BYTE_PTR) "m", 1, sig, &n), CKR_OK);
out:
	ch_t_env_free(&e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_logout_ends_the_operations_that_hold_keys),
	CH_T_CASE(test_derived_keys_are_as_protected_as_their_base_by_default),
	CH_T_CASE(test_derivations_that_reveal_key_bits_are_not_offered),
	CH_T_CASE(test_legacy_policy_relaxes_role_separation_for_its_registration),
	CH_T_CASE(test_legacy_policy_naming_other_registrations_leaves_this_one_strict),
	CH_T_CASE(test_an_admin_marks_a_wrapping_key_trusted),
	CH_T_CASE(test_wrap_then_unwrap_gives_back_the_key),
	CH_T_CASE(test_wrap_refuses_what_policy_forbids),
	CH_T_CASE(test_wrap_with_trusted_needs_a_trusted_wrapping_key),
	CH_T_CASE(test_wrap_and_unwrap_templates_are_honoured),
	CH_T_CASE(test_key_roles_stay_separated),
	CH_T_CASE(test_wrap_and_unwrap_are_audited),
};

int main(void)
{
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
