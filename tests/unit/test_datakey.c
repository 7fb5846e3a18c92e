/*
 * Envelope encryption (issue 8, point 5): CH_DataKeyGenerate makes a data
 * key wrapped under a family's primary with CKM_CH_AES_GCM_VERSIONED, hands
 * its plaintext out only under the family's CKA_CH_DATAKEY_PLAINTEXT, and
 * C_UnwrapKey gets it back through any version of the family after a
 * rotation (sensitive and not extractable when the policy keeps plaintext
 * in).  Bad inputs change nothing in the store.
 */

#include <openssl/evp.h>

#include "module.h"
#include "store_rows.h"

#define V ch_t_vendor()

#define HDR CH_VERSIONED_HEADER_LEN
#define TAG CH_VERSIONED_TAG_LEN

/* A token key-encryption key (AES-256, wrap and unwrap) labelled label,
 * with the data-key plaintext policy when plain. */
static CK_RV make_kek(CK_SESSION_HANDLE h, const char *label, bool plain, CK_OBJECT_HANDLE *o)
{
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG len = 32;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_WRAP, true),       CH_T_BOOL(CKA_UNWRAP, true),
		CH_T_STR(CKA_LABEL, label),      CH_T_BOOL(CKA_CH_DATAKEY_PLAINTEXT, plain),
	};

	return P11->C_GenerateKey(h, &m, t, CH_T_ARRAY_LEN(t), o);
}

static CK_RV datakey(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE kek, CK_ULONG len, CK_BYTE *wrapped,
                     CK_ULONG *wlen, CK_BYTE *plain, CK_ULONG *plen)
{
	CK_MECHANISM m = { CKM_CH_AES_GCM_VERSIONED, NULL, 0 };

	return V->CH_DataKeyGenerate(h, &m, kek, len, wrapped, wlen, plain, plen);
}

/* C_UnwrapKey of a data key as a session AES key for encryption, readable
 * (sensitive false, extractable true) when readable. */
static CK_RV unwrap(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE kek, CK_BYTE *w, CK_ULONG wlen,
                    bool readable, CK_OBJECT_HANDLE *o)
{
	CK_MECHANISM m = { CKM_CH_AES_GCM_VERSIONED, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),         CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, false),         CH_T_BOOL(CKA_ENCRYPT, true),
		CH_T_BOOL(CKA_SENSITIVE, !readable), CH_T_BOOL(CKA_EXTRACTABLE, readable),
	};

	/* Without the last two: the token's defaults. */
	return P11->C_UnwrapKey(h, &m, kek, w, wlen, t, CH_T_ARRAY_LEN(t) - (readable ? 0 : 2), o);
}

/* C_UnwrapKey of a versioned blob w with plain CKM_AES_GCM, its IV and AAD
 * taken from the header, as a readable session key: what the data-key
 * policy must not let through. */
static CK_RV unwrap_as_plain_gcm(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE kek, CK_BYTE *w,
                                 CK_ULONG wlen, CK_OBJECT_HANDLE *o)
{
	CK_GCM_PARAMS gp = { .pIv = w + 16,
		             .ulIvLen = 12,
		             .ulIvBits = 96,
		             .pAAD = w,
		             .ulAADLen = 28,
		             .ulTagBits = 128 };
	CK_MECHANISM m = { CKM_AES_GCM, &gp, sizeof(gp) };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),      CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, false),      CH_T_BOOL(CKA_SENSITIVE, false),
		CH_T_BOOL(CKA_EXTRACTABLE, true),
	};

	return P11->C_UnwrapKey(h, &m, kek, w + 28, wlen - 28, t, CH_T_ARRAY_LEN(t), o);
}

/* AES-256-GCM of msg under key in the token and under raw with OpenSSL:
 * the same bytes when key holds raw. */
static bool same_gcm(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, const CK_BYTE *raw)
{
	static const CK_BYTE msg[] = "envelope";
	CK_BYTE iv[12] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2 }, a[64], b[64];
	CK_ULONG an = sizeof(a);
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, f = 0;
	bool ok = false;

	ch_t_gcm(&m, &p, iv, NULL, 0);
	if (c == NULL || !CHECK_RV(P11->C_EncryptInit(h, &m, key), CKR_OK) ||
	    !CHECK_RV(P11->C_Encrypt(h, (CK_BYTE_PTR)msg, sizeof(msg), a, &an), CKR_OK))
		goto out;
	if (EVP_EncryptInit_ex2(c, EVP_aes_256_gcm(), raw, iv, NULL) != 1 ||
	    EVP_EncryptUpdate(c, b, &n, msg, sizeof(msg)) != 1 ||
	    EVP_EncryptFinal_ex(c, b + n, &f) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, b + sizeof(msg)) != 1)
		goto out;
	ok = CHECK_UL(an, sizeof(msg) + 16) && CHECK(memcmp(a, b, an) == 0);
out:
	EVP_CIPHER_CTX_free(c);
	return ok;
}

/* ---- the tests ---- */

static void test_datakey_round_trip_through_unwrap_after_a_kek_rotation(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k1, k2, dk;
	CK_BYTE w[128], w2[128], plain[32], value[32];
	CK_ULONG wn = 0, pn = 0, wn2 = sizeof(w2), pn2 = sizeof(value), len;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(make_kek(h, "payments-kek", true, &k1), CKR_OK);
	/* The lengths first. */
	REQUIRE_RV(datakey(h, k1, 32, NULL, &wn, NULL, &pn), CKR_OK);
	CHECK_UL(wn, HDR + 32 + TAG);
	CHECK_UL(pn, 32);
	REQUIRE_RV(datakey(h, k1, 32, w, &wn, plain, &pn), CKR_OK);
	CHECK_UL(wn, HDR + 32 + TAG);
	CHECK_UL(pn, 32);
	CHECK(w[0] == 'C' && w[1] == 'H' && w[15] == 1);

	/* The KEK rotates; its policy moves to the new version. */
	REQUIRE_RV(V->CH_KeyRotate(h, k1, &k2), CKR_OK);
	CHECK(ch_t_get_bool(h, k2, CKA_CH_DATAKEY_PLAINTEXT) == 1);
	/* The stored data key unwraps through the new version, and is the
	 * plaintext handed out. */
	REQUIRE_RV(unwrap(h, k2, w, wn, true, &dk), CKR_OK);
	len = sizeof(value);
	REQUIRE_RV(ch_t_get(h, dk, CKA_VALUE, value, &len), CKR_OK);
	CHECK_UL(len, 32);
	CHECK(memcmp(value, plain, 32) == 0);
	CHECK(same_gcm(h, dk, plain));

	/* A new data key is version 2's; through the old handle too. */
	REQUIRE_RV(datakey(h, k1, 16, w2, &wn2, value, &pn2), CKR_OK);
	CHECK_UL(wn2, HDR + 16 + TAG);
	CHECK_UL(pn2, 16);
	CHECK(w2[15] == 2);
	REQUIRE_RV(unwrap(h, k1, w2, wn2, true, &dk), CKR_OK);
	/* Without asking for the plaintext. */
	wn2 = sizeof(w2);
	pn2 = 99;
	REQUIRE_RV(datakey(h, k2, 24, w2, &wn2, NULL, &pn2), CKR_OK);
	CHECK_UL(pn2, 0);
	REQUIRE_RV(unwrap(h, k1, w2, wn2, false, &dk), CKR_OK);
	CHECK(dk != CK_INVALID_HANDLE);
out:
	ch_t_env_free(&e);
}

static void test_plaintext_stays_in_when_the_policy_is_off(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k1, k2, dk;
	CK_BYTE w[128], plain[32], value[32];
	CK_ULONG wn = 0, pn = 32, len;
	CK_ATTRIBUTE on[] = { CH_T_BOOL(CKA_CH_DATAKEY_PLAINTEXT, true) };

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(make_kek(h, "kek", false, &k1), CKR_OK);
	REQUIRE_RV(datakey(h, k1, 32, NULL, &wn, NULL, &pn), CKR_OK);
	CHECK_UL(pn, 0); /* no plaintext to be had */
	pn = sizeof(plain);
	memset(plain, 0, sizeof(plain));
	CHECK_RV(datakey(h, k1, 32, w, &wn, plain, &pn), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK(ch_t_contains(plain, sizeof(plain), "\0\0\0\0\0\0\0\0", 8));
	REQUIRE_RV(datakey(h, k1, 32, w, &wn, NULL, NULL), CKR_OK);
	REQUIRE_RV(V->CH_KeyRotate(h, k1, &k2), CKR_OK);

	/* Unwrapped, the data key is sensitive and not extractable; a
	 * template asking otherwise is refused. */
	CHECK_RV(unwrap(h, k2, w, wn, true, &dk), CKR_TEMPLATE_INCONSISTENT);
	REQUIRE_RV(unwrap(h, k2, w, wn, false, &dk), CKR_OK);
	CHECK(ch_t_get_bool(h, dk, CKA_SENSITIVE) == 1);
	CHECK(ch_t_get_bool(h, dk, CKA_EXTRACTABLE) == 0);
	len = sizeof(value);
	CHECK_RV(ch_t_get(h, dk, CKA_VALUE, value, &len), CKR_ATTRIBUTE_SENSITIVE);
	/* Nor does plain AES-GCM with the header's IV and AAD open the blob
	 * under the KEK (versioned GCM runs under a key derived from it), or
	 * the policy would be no policy. */
	CHECK_RV(unwrap_as_plain_gcm(h, k1, w, wn, &dk), CKR_WRAPPED_KEY_INVALID);
	/* The header says it is a wrapped key. */
	CHECK_UL(w[3], 1);

	/* An operator turns the policy on at the primary: now it may. */
	REQUIRE_RV(P11->C_SetAttributeValue(h, k2, on, 1), CKR_OK);
	pn = sizeof(plain);
	REQUIRE_RV(datakey(h, k1, 32, w, &wn, plain, &pn), CKR_OK);
	CHECK_UL(pn, 32);
	REQUIRE_RV(unwrap(h, k1, w, wn, true, &dk), CKR_OK);
	len = sizeof(value);
	REQUIRE_RV(ch_t_get(h, dk, CKA_VALUE, value, &len), CKR_OK);
	CHECK(memcmp(value, plain, 32) == 0);
out:
	ch_t_env_free(&e);
}

static void test_bad_inputs_change_nothing(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k, enc;
	CK_MECHANISM gcm = { CKM_AES_GCM, NULL, 0 };
	CK_BYTE w[128], plain[32];
	CK_ULONG wn = sizeof(w), pn = sizeof(plain);
	char *before = NULL, *after = NULL;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(make_kek(h, "kek", true, &k), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "no-wrap", &enc), CKR_OK);
	REQUIRE((before = ch_t_store_rows(e.store)) != NULL);

	CHECK_RV(datakey(h, k, 7, w, &wn, plain, &pn), CKR_KEY_SIZE_RANGE);
	CHECK_RV(datakey(h, k, 0, w, &wn, plain, &pn), CKR_KEY_SIZE_RANGE);
	CHECK_RV(V->CH_DataKeyGenerate(h, &gcm, k, 32, w, &wn, plain, &pn), CKR_MECHANISM_INVALID);
	CHECK_RV(V->CH_DataKeyGenerate(h, NULL, k, 32, w, &wn, plain, &pn), CKR_ARGUMENTS_BAD);
	CHECK_RV(datakey(h, k, 32, w, NULL, plain, &pn), CKR_ARGUMENTS_BAD);
	CHECK_RV(datakey(h, k, 32, w, &wn, plain, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(datakey(h, 0x7777, 32, w, &wn, plain, &pn), CKR_KEY_HANDLE_INVALID);
	/* A key without CKA_WRAP. */
	CHECK_RV(datakey(h, enc, 32, w, &wn, NULL, NULL), CKR_KEY_FUNCTION_NOT_PERMITTED);
	wn = 10;
	CHECK_RV(datakey(h, k, 32, w, &wn, plain, &pn), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(wn, HDR + 32 + TAG);
	CHECK_UL(pn, 32);
	pn = 8;
	CHECK_RV(datakey(h, k, 32, w, &wn, plain, &pn), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(pn, 32);
	REQUIRE((after = ch_t_store_rows(e.store)) != NULL);
	CHECK(strcmp(before, after) == 0);
out:
	free(before);
	free(after);
	ch_t_env_free(&e);
}

static void test_datakey_needs_the_wrap_grant_and_is_audited(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k;
	CK_BYTE w[128], plain[32];
	CK_ULONG wn = sizeof(w), pn = sizeof(plain), n = 0, found = 0, refused = 0;
	CH_AUDIT_RECORD *rec = NULL;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(ch_t_participant_add(h, "bob", CH_ROLE_USER, "bob-pin-1"), CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	REQUIRE_RV(make_kek(h, "kek", false, &k), CKR_OK);
	REQUIRE_RV(V->CH_GrantSet(h, k, (CK_UTF8CHAR_PTR) "bob", 3, CH_GRANT_UNWRAP), CKR_OK);
	REQUIRE_RV(datakey(h, k, 32, w, &wn, NULL, NULL), CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);

	REQUIRE_RV(ch_t_login_as(h, CKU_USER, "bob", "bob-pin-1"), CKR_OK);
	wn = sizeof(w);
	CHECK_RV(datakey(h, k, 32, w, &wn, NULL, NULL), CKR_KEY_FUNCTION_NOT_PERMITTED);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	/* Asking for a plaintext the policy keeps in is refused and recorded. */
	wn = sizeof(w);
	CHECK_RV(datakey(h, k, 32, w, &wn, plain, &pn), CKR_KEY_FUNCTION_NOT_PERMITTED);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);

	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(datakey(h, k, 32, w, &wn, NULL, NULL), CKR_USER_NOT_LOGGED_IN);
	REQUIRE_RV(V->CH_AuditRead(h, 1, NULL, &n), CKR_OK);
	REQUIRE((rec = calloc(n + 1, sizeof(*rec))) != NULL);
	REQUIRE_RV(V->CH_AuditRead(h, 1, rec, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++) {
		if (!ch_t_padded_is(rec[i].operation, sizeof(rec[i].operation), "key.datakey"))
			continue;
		CHECK(memcmp(rec[i].detail, "32-byte data key, version 1", 27) == 0);
		if (rec[i].result == CKR_OK)
			found++;
		else if (CHECK_UL(rec[i].result, CKR_KEY_FUNCTION_NOT_PERMITTED))
			refused++;
	}
	CHECK_UL(found, 1);
	CHECK_UL(refused, 1);
out:
	free(rec);
	ch_t_env_free(&e);
}

/* A new version made by C_GenerateKey with CKA_CH_NEW_VERSION keeps the
 * family's policy, as CH_KeyRotate does. */
static void test_a_generated_new_version_keeps_the_plaintext_policy(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k1, k2;
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG len = 32;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_WRAP, true),       CH_T_BOOL(CKA_UNWRAP, true),
		CH_T_STR(CKA_LABEL, "kek"),      CH_T_BOOL(CKA_CH_NEW_VERSION, true),
	};

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(make_kek(h, "kek", true, &k1), CKR_OK);
	REQUIRE_RV(P11->C_GenerateKey(h, &gen, t, CH_T_ARRAY_LEN(t), &k2), CKR_OK);
	CHECK(ch_t_get_bool(h, k2, CKA_CH_PRIMARY) == 1);
	CHECK(ch_t_get_bool(h, k2, CKA_CH_DATAKEY_PLAINTEXT) == 1);
out:
	ch_t_env_free(&e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_a_generated_new_version_keeps_the_plaintext_policy),
	CH_T_CASE(test_datakey_round_trip_through_unwrap_after_a_kek_rotation),
	CH_T_CASE(test_plaintext_stays_in_when_the_policy_is_off),
	CH_T_CASE(test_bad_inputs_change_nothing),
	CH_T_CASE(test_datakey_needs_the_wrap_grant_and_is_audited),
};

int main(void)
{
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
