/*
 * Key derivation (token/mech_kdf.c): HKDF against Wycheproof's
 * hkdf_sha256/384/512_test.json and RFC 5869, CKM_HKDF_DATA, the SP 800-108
 * counter and feedback KDFs against the test's own few lines of the
 * SP 800-108 construction over EVP_MAC (HMAC and CMAC) and NIST CAVP
 * counter-mode vectors, parameter and key
 * errors, and, through the module, CKM_HKDF_KEY_GEN and CKM_PKCS5_PBKD2
 * (RFC 6070 and RFC 7914 section 11 known answers).
 *
 * Everything runs through the module: base keys imported with
 * C_CreateObject, derivations with C_DeriveKey, the derived key's
 * CKA_VALUE read back with C_GetAttributeValue.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "module.h"
#include "vectors.h"

/* Each test's token and user session (kdf_begin, kdf_end). */
static ch_t_env kdf_env;
static CK_SESSION_HANDLE kdf_h = CK_INVALID_HANDLE;

static bool kdf_begin(void)
{
	kdf_h = CK_INVALID_HANDLE;
	return CHECK(ch_t_setup(&kdf_env)) &&
	       CHECK_RV(ch_t_user_session(&kdf_env, true, &kdf_h), CKR_OK);
}

static void kdf_end(void)
{
	ch_t_env_free(&kdf_env);
	kdf_h = CK_INVALID_HANDLE;
}

/* Imports a base key for derivation: a secret key of type kt and value
 * v, with CKA_DERIVE as given.  CK_INVALID_HANDLE when that fails. */
static CK_OBJECT_HANDLE base_key(CK_KEY_TYPE kt, const CK_BYTE *v, CK_ULONG len, bool derive)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_DERIVE, derive),
		CH_T_ATTR(CKA_VALUE, v, len),
	};
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	CK_RV rv = P11->C_CreateObject(kdf_h, t, CH_T_ARRAY_LEN(t), &o);

	if (rv != CKR_OK) {
		fprintf(stderr, "C_CreateObject(key type 0x%lx, %lu bytes): %s\n",
		        (unsigned long)kt, (unsigned long)len, ch_test_rv_name(rv));
		return CK_INVALID_HANDLE;
	}
	return o;
}

/* C_DeriveKey of a secret key of type kt (with CKA_VALUE_LEN len unless
 * len is 0) from base; on CKR_OK copies its value to out (*out_len bytes,
 * room for cap) and destroys the new key. */
static CK_RV derive(const CK_MECHANISM *m, CK_OBJECT_HANDLE base, CK_KEY_TYPE kt, CK_ULONG len,
                    CK_BYTE *out, CK_ULONG cap, CK_ULONG *out_len)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_ULONG(CKA_VALUE_LEN, &len),
	};
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
	CK_RV rv;

	rv = P11->C_DeriveKey(kdf_h, (CK_MECHANISM_PTR)m, base, t, len > 0 ? 3 : 2, &k);
	if (rv != CKR_OK)
		return rv;
	*out_len = cap;
	rv = ch_t_get(kdf_h, k, CKA_VALUE, out, out_len);
	(void)P11->C_DestroyObject(kdf_h, k);
	return rv;
}

static bool same_bytes(const char *what, const CK_BYTE *got, CK_ULONG got_len, const CK_BYTE *want,
                       CK_ULONG want_len)
{
	char hg[129], hw[129];

	if (got_len == want_len && memcmp(got, want, want_len) == 0)
		return true;
	ch_t_hex(got, got_len < 64 ? got_len : 64, hg, false);
	ch_t_hex(want, want_len < 64 ? want_len : 64, hw, false);
	fprintf(stderr, "%s:\n    expected (%lu bytes) %s\n    got      (%lu bytes) %s\n", what,
	        (unsigned long)want_len, hw, (unsigned long)got_len, hg);
	return false;
}

static void hkdf_params(CK_HKDF_PARAMS *p, CK_MECHANISM_TYPE hash, bool extract, bool expand,
                        CK_ULONG salt_type, const CK_BYTE *salt, CK_ULONG salt_len,
                        const CK_BYTE *info, CK_ULONG info_len)
{
	memset(p, 0, sizeof(*p));
	p->bExtract = extract ? CK_TRUE : CK_FALSE;
	p->bExpand = expand ? CK_TRUE : CK_FALSE;
	p->prfHashMechanism = hash;
	p->ulSaltType = salt_type;
	p->pSalt = (CK_BYTE_PTR)salt;
	p->ulSaltLen = salt_len;
	p->pInfo = (CK_BYTE_PTR)info;
	p->ulInfoLen = info_len;
}

/* ---- HKDF -------------------------------------------------------------- */

typedef struct wp_counts {
	unsigned total, valid_ok, invalid_rejected;
} wp_counts;

/* One HkdfTest vector.  Odd tcIds: a CKK_HKDF base key and, for an empty
 * salt, CKF_HKDF_SALT_NULL; even ones: CKK_GENERIC_SECRET and an empty
 * CKF_HKDF_SALT_DATA (the same thing by RFC 5869). */
static void hkdf_vector(CK_MECHANISM_TYPE hash, const json_t *t, wp_counts *c)
{
	vec_bytes ikm = { 0 }, salt = { 0 }, info = { 0 }, okm = { 0 };
	long long id = vec_int(t, "tcId"), size = vec_int(t, "size");
	const char *result = vec_str(t, "result");
	bool odd = id % 2 == 1, valid = strcmp(result, "valid") == 0;
	CK_HKDF_PARAMS p;
	CK_MECHANISM m = { CKM_HKDF_DERIVE, &p, sizeof(p) };
	CK_OBJECT_HANDLE base;
	CK_BYTE *out = NULL;
	CK_ULONG out_len = 0;
	CK_RV rv;
	bool ok;

	c->total++;
	if (!CHECK(vec_hex(t, "ikm", &ikm) && vec_hex(t, "salt", &salt) &&
	           vec_hex(t, "info", &info) && size > 0))
		goto out;
	if (valid && !CHECK(vec_hex(t, "okm", &okm)))
		goto out;
	if (salt.len == 0 && odd)
		hkdf_params(&p, hash, true, true, CKF_HKDF_SALT_NULL, NULL, 0, info.p, info.len);
	else
		hkdf_params(&p, hash, true, true, CKF_HKDF_SALT_DATA, salt.p, salt.len, info.p,
		            info.len);
	if (!CHECK((base = base_key(odd ? CKK_HKDF : CKK_GENERIC_SECRET, ikm.p, ikm.len, true)) !=
	           CK_INVALID_HANDLE) ||
	    !CHECK((out = malloc((size_t)size)) != NULL))
		goto out;
	rv = derive(&m, base, CKK_GENERIC_SECRET, (CK_ULONG)size, out, (CK_ULONG)size, &out_len);
	if (valid)
		ok = rv == CKR_OK && out_len == okm.len && memcmp(out, okm.p, okm.len) == 0;
	else
		ok = rv != CKR_OK;
	if (!ok)
		fprintf(stderr, "tcId %lld (%s, size %lld): derive %s%s\n", id, result, size,
		        ch_test_rv_name(rv), rv == CKR_OK && valid ? ", wrong output" : "");
	else if (valid)
		c->valid_ok++;
	else
		c->invalid_rejected++;
	CHECK(ok);
	(void)P11->C_DestroyObject(kdf_h, base);
out:
	free(out);
	vec_bytes_free(&ikm);
	vec_bytes_free(&salt);
	vec_bytes_free(&info);
	vec_bytes_free(&okm);
}

static void hkdf_wycheproof_file(const char *file, CK_MECHANISM_TYPE hash)
{
	char path[256];
	json_t *root;
	const json_t *groups, *tests;
	size_t gi, ti;
	wp_counts c = { 0 };

	snprintf(path, sizeof(path), "wycheproof/testvectors_v1/%s", file);
	if (!CHECK((root = vec_load(path)) != NULL))
		return;
	groups = json_object_get(root, "testGroups");
	CHECK(json_array_size(groups) > 0);
	for (gi = 0; gi < json_array_size(groups); gi++) {
		tests = json_object_get(json_array_get(groups, gi), "tests");
		for (ti = 0; ti < json_array_size(tests); ti++)
			hkdf_vector(hash, json_array_get(tests, ti), &c);
	}
	CHECK_UL(c.total, (CK_ULONG)vec_int(root, "numberOfTests"));
	CHECK_UL(c.valid_ok + c.invalid_rejected, c.total);
	fprintf(stderr, "%s: %u vectors: %u valid ok, %u invalid rejected, 0 acceptable\n", file,
	        c.total, c.valid_ok, c.invalid_rejected);
	json_decref(root);
}

static void test_hkdf_wycheproof(void)
{
	if (kdf_begin()) {
		hkdf_wycheproof_file("hkdf_sha256_test.json", CKM_SHA256);
		hkdf_wycheproof_file("hkdf_sha384_test.json", CKM_SHA384);
		hkdf_wycheproof_file("hkdf_sha512_test.json", CKM_SHA512);
	}
	kdf_end();
}

/* RFC 5869 test case 1. */
static const char rfc5869_ikm[] = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b";
static const char rfc5869_salt[] = "000102030405060708090a0b0c";
static const char rfc5869_info[] = "f0f1f2f3f4f5f6f7f8f9";
static const char rfc5869_prk[] =
        "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5";
static const char rfc5869_okm[] = "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                                  "34007208d5b887185865";

static void test_hkdf_extract_then_expand_equals_both(void)
{
	CK_BYTE ikm[22], salt[13], info[10], prk[32], okm[42], out[64];
	CK_ULONG out_len = 0;
	CK_HKDF_PARAMS p;
	CK_MECHANISM m = { CKM_HKDF_DERIVE, &p, sizeof(p) };
	CK_OBJECT_HANDLE base, prk_key;

	ch_t_unhex(rfc5869_ikm, ikm, sizeof(ikm));
	ch_t_unhex(rfc5869_salt, salt, sizeof(salt));
	ch_t_unhex(rfc5869_info, info, sizeof(info));
	ch_t_unhex(rfc5869_prk, prk, sizeof(prk));
	ch_t_unhex(rfc5869_okm, okm, sizeof(okm));
	REQUIRE(kdf_begin());
	REQUIRE((base = base_key(CKK_GENERIC_SECRET, ikm, sizeof(ikm), true)) != CK_INVALID_HANDLE);

	/* Extract only: the PRK, with or without CKA_VALUE_LEN 32. */
	hkdf_params(&p, CKM_SHA256, true, false, CKF_HKDF_SALT_DATA, salt, sizeof(salt), NULL, 0);
	CHECK_RV(derive(&m, base, CKK_HKDF, 0, out, sizeof(out), &out_len), CKR_OK);
	CHECK(same_bytes("HKDF extract only", out, out_len, prk, sizeof(prk)));
	CHECK_RV(derive(&m, base, CKK_GENERIC_SECRET, 32, out, sizeof(out), &out_len), CKR_OK);
	CHECK(same_bytes("HKDF extract only, 32", out, out_len, prk, sizeof(prk)));
	CHECK_RV(derive(&m, base, CKK_GENERIC_SECRET, 16, out, sizeof(out), &out_len),
	         CKR_TEMPLATE_INCONSISTENT);

	/* Expand only, from the PRK. */
	REQUIRE((prk_key = base_key(CKK_HKDF, prk, sizeof(prk), true)) != CK_INVALID_HANDLE);
	hkdf_params(&p, CKM_SHA256, false, true, 0, NULL, 0, info, sizeof(info));
	CHECK_RV(derive(&m, prk_key, CKK_GENERIC_SECRET, 42, out, sizeof(out), &out_len), CKR_OK);
	CHECK(same_bytes("HKDF expand only", out, out_len, okm, sizeof(okm)));

	/* Both at once. */
	hkdf_params(&p, CKM_SHA256, true, true, CKF_HKDF_SALT_DATA, salt, sizeof(salt), info,
	            sizeof(info));
	CHECK_RV(derive(&m, base, CKK_GENERIC_SECRET, 42, out, sizeof(out), &out_len), CKR_OK);
	CHECK(same_bytes("HKDF extract and expand", out, out_len, okm, sizeof(okm)));

	/* An AES key takes its length from CKA_VALUE_LEN: the first 32
	 * bytes of the same output stream. */
	CHECK_RV(derive(&m, base, CKK_AES, 32, out, sizeof(out), &out_len), CKR_OK);
	CHECK(same_bytes("HKDF into an AES-256 key", out, out_len, okm, 32));
	CHECK_RV(derive(&m, base, CKK_AES, 20, out, sizeof(out), &out_len),
	         CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK_RV(derive(&m, base, CKK_AES, 0, out, sizeof(out), &out_len), CKR_TEMPLATE_INCOMPLETE);
	CHECK_RV(derive(&m, base, CKK_GENERIC_SECRET, 0, out, sizeof(out), &out_len),
	         CKR_TEMPLATE_INCOMPLETE);
out:
	kdf_end();
}

/* CKM_HKDF_DATA: the same output into a data object, private unless the
 * template says otherwise, its length from CKA_VALUE_LEN; keys and data
 * objects each from their own mechanism only. */
static void test_hkdf_data_makes_a_data_object(void)
{
	CK_BYTE ikm[22], salt[13], info[10], okm[42], out[64];
	CK_HKDF_PARAMS p;
	CK_MECHANISM data_m = { CKM_HKDF_DATA, &p, sizeof(p) };
	CK_MECHANISM key_m = { CKM_HKDF_DERIVE, &p, sizeof(p) };
	CK_OBJECT_CLASS data = CKO_DATA;
	CK_ULONG len = 42, cls = 0, kt = CKK_GENERIC_SECRET;
	CK_OBJECT_HANDLE base, obj;
	CK_MECHANISM_INFO mi;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &data, sizeof(data) },
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_LABEL, (CK_VOID_PTR) "okm", 3 },
	};
	CK_ATTRIBUTE no_len[] = { { CKA_CLASS, &data, sizeof(data) } };
	CK_ATTRIBUTE a_key[] = { { CKA_KEY_TYPE, &kt, sizeof(kt) },
		                 { CKA_VALUE_LEN, &len, sizeof(len) } };
	CK_ATTRIBUTE get[] = { { CKA_VALUE, out, sizeof(out) }, { CKA_CLASS, &cls, sizeof(cls) } };

	ch_t_unhex(rfc5869_ikm, ikm, sizeof(ikm));
	ch_t_unhex(rfc5869_salt, salt, sizeof(salt));
	ch_t_unhex(rfc5869_info, info, sizeof(info));
	ch_t_unhex(rfc5869_okm, okm, sizeof(okm));
	REQUIRE(kdf_begin());
	CHECK_RV(P11->C_GetMechanismInfo(kdf_env.slot, CKM_HKDF_DATA, &mi), CKR_OK);
	CHECK_UL(mi.flags, CKF_DERIVE);
	REQUIRE((base = base_key(CKK_GENERIC_SECRET, ikm, sizeof(ikm), true)) != CK_INVALID_HANDLE);
	hkdf_params(&p, CKM_SHA256, true, true, CKF_HKDF_SALT_DATA, salt, sizeof(salt), info,
	            sizeof(info));
	REQUIRE_RV(P11->C_DeriveKey(kdf_h, &data_m, base, t, CH_T_ARRAY_LEN(t), &obj), CKR_OK);
	REQUIRE_RV(P11->C_GetAttributeValue(kdf_h, obj, get, CH_T_ARRAY_LEN(get)), CKR_OK);
	CHECK_UL(cls, CKO_DATA);
	CHECK(same_bytes("HKDF_DATA value", out, get[0].ulValueLen, okm, sizeof(okm)));
	CHECK(ch_t_get_bool(kdf_h, obj, CKA_PRIVATE) == 1);
	CHECK_RV(P11->C_DeriveKey(kdf_h, &data_m, base, no_len, 1, &obj), CKR_TEMPLATE_INCOMPLETE);
	CHECK_RV(P11->C_DeriveKey(kdf_h, &data_m, base, a_key, 2, &obj), CKR_TEMPLATE_INCONSISTENT);
	CHECK_RV(P11->C_DeriveKey(kdf_h, &key_m, base, t, CH_T_ARRAY_LEN(t), &obj),
	         CKR_TEMPLATE_INCONSISTENT);
out:
	kdf_end();
}

/* CKF_HKDF_SALT_KEY: the salt given as a key gives RFC 5869's answer as the
 * same bytes given as data; a salt key of another type is refused. */
static void test_hkdf_salt_from_a_key(void)
{
	CK_BYTE ikm[22], salt[13], info[10], okm[42], out[64];
	CK_ULONG out_len = 0;
	CK_HKDF_PARAMS p;
	CK_MECHANISM m = { CKM_HKDF_DERIVE, &p, sizeof(p) };
	CK_OBJECT_HANDLE base, skey, aes;
	CK_BYTE k16[16] = { 0 };

	ch_t_unhex(rfc5869_ikm, ikm, sizeof(ikm));
	ch_t_unhex(rfc5869_salt, salt, sizeof(salt));
	ch_t_unhex(rfc5869_info, info, sizeof(info));
	ch_t_unhex(rfc5869_okm, okm, sizeof(okm));
	REQUIRE(kdf_begin());
	REQUIRE((base = base_key(CKK_GENERIC_SECRET, ikm, sizeof(ikm), true)) != CK_INVALID_HANDLE);
	REQUIRE((skey = base_key(CKK_HKDF, salt, sizeof(salt), true)) != CK_INVALID_HANDLE);
	REQUIRE((aes = base_key(CKK_AES, k16, sizeof(k16), true)) != CK_INVALID_HANDLE);
	hkdf_params(&p, CKM_SHA256, true, true, CKF_HKDF_SALT_KEY, NULL, 0, info, sizeof(info));
	p.hSaltKey = skey;
	CHECK_RV(derive(&m, base, CKK_GENERIC_SECRET, 42, out, sizeof(out), &out_len), CKR_OK);
	CHECK(same_bytes("HKDF with the salt as a key", out, out_len, okm, sizeof(okm)));
	p.hSaltKey = aes;
	CHECK_RV(derive(&m, base, CKK_GENERIC_SECRET, 42, out, sizeof(out), &out_len),
	         CKR_MECHANISM_PARAM_INVALID);
	p.hSaltKey = 0xdead;
	CHECK_RV(derive(&m, base, CKK_GENERIC_SECRET, 42, out, sizeof(out), &out_len),
	         CKR_MECHANISM_PARAM_INVALID);
out:
	kdf_end();
}

static void test_hkdf_parameter_and_key_errors(void)
{
	CK_BYTE ikm[32] = { 1 }, out[8192 + 64];
	CK_ULONG out_len;
	CK_HKDF_PARAMS p;
	CK_MECHANISM m = { CKM_HKDF_DERIVE, &p, sizeof(p) };
	CK_MECHANISM short_m = { CKM_HKDF_DERIVE, &p, sizeof(p) - 1 };
	CK_MECHANISM null_m = { CKM_HKDF_DERIVE, NULL, 0 };
	CK_OBJECT_HANDLE base, aes, no_derive;

	REQUIRE(kdf_begin());
	REQUIRE((base = base_key(CKK_GENERIC_SECRET, ikm, sizeof(ikm), true)) != CK_INVALID_HANDLE);
	REQUIRE((aes = base_key(CKK_AES, ikm, sizeof(ikm), true)) != CK_INVALID_HANDLE);
	REQUIRE((no_derive = base_key(CKK_HKDF, ikm, sizeof(ikm), false)) != CK_INVALID_HANDLE);
#define D(len) derive(&m, base, CKK_GENERIC_SECRET, (len), out, sizeof(out), &out_len)
	hkdf_params(&p, CKM_SHA256, true, true, CKF_HKDF_SALT_NULL, NULL, 0, NULL, 0);
	CHECK_RV(D(32), CKR_OK);
	CHECK_RV(D(255 * 32), CKR_OK);
	CHECK_RV(D(255 * 32 + 1), CKR_KEY_SIZE_RANGE);
	CHECK_RV(derive(&short_m, base, CKK_GENERIC_SECRET, 32, out, sizeof(out), &out_len),
	         CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(derive(&null_m, base, CKK_GENERIC_SECRET, 32, out, sizeof(out), &out_len),
	         CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(derive(&m, aes, CKK_GENERIC_SECRET, 32, out, sizeof(out), &out_len),
	         CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(derive(&m, no_derive, CKK_GENERIC_SECRET, 32, out, sizeof(out), &out_len),
	         CKR_KEY_FUNCTION_NOT_PERMITTED);
	hkdf_params(&p, CKM_SHA256, false, false, CKF_HKDF_SALT_NULL, NULL, 0, NULL, 0);
	CHECK_RV(D(32), CKR_MECHANISM_PARAM_INVALID);
	hkdf_params(&p, CKM_SHA256_HMAC, true, true, CKF_HKDF_SALT_NULL, NULL, 0, NULL, 0);
	CHECK_RV(D(32), CKR_MECHANISM_PARAM_INVALID);
	hkdf_params(&p, CKM_SHA256, true, true, CKF_HKDF_SALT_KEY, NULL, 0, NULL, 0);
	CHECK_RV(D(32), CKR_MECHANISM_PARAM_INVALID);
	hkdf_params(&p, CKM_SHA256, true, true, 0, NULL, 0, NULL, 0);
	CHECK_RV(D(32), CKR_MECHANISM_PARAM_INVALID);
	hkdf_params(&p, CKM_SHA256, true, true, CKF_HKDF_SALT_DATA, NULL, 4, NULL, 0);
	CHECK_RV(D(32), CKR_MECHANISM_PARAM_INVALID);
	hkdf_params(&p, CKM_SHA256, true, true, CKF_HKDF_SALT_NULL, NULL, 0, NULL, 4);
	CHECK_RV(D(32), CKR_MECHANISM_PARAM_INVALID);
	hkdf_params(&p, CKM_SHA256, true, true, CKF_HKDF_SALT_NULL, NULL, 0, out, 1025);
	CHECK_RV(D(32), CKR_MECHANISM_PARAM_INVALID);
	/* Every hash of the digest family works. */
	{
		static const CK_MECHANISM_TYPE hashes[] = {
			CKM_SHA_1,    CKM_SHA224,     CKM_SHA256,     CKM_SHA384,
			CKM_SHA512,   CKM_SHA512_224, CKM_SHA512_256, CKM_SHA3_224,
			CKM_SHA3_256, CKM_SHA3_384,   CKM_SHA3_512,
		};

		for (size_t i = 0; i < CH_T_ARRAY_LEN(hashes); i++) {
			hkdf_params(&p, hashes[i], true, true, CKF_HKDF_SALT_NULL, NULL, 0, NULL,
			            0);
			CHECK_RV(D(100), CKR_OK);
			CHECK_UL(out_len, 100);
		}
	}
#undef D
out:
	kdf_end();
}

/* ---- SP 800-108 -------------------------------------------------------- */

/* The test's own SP 800-108 over EVP_MAC: for i = 1, 2, ...:
 * K(i) = PRF(KI, [K(i-1) in feedback mode, K(0) = iv] || [i]_32 || fixed
 * || [L]_32 if with_l), the output the leading len bytes of K(1) || K(2)
 * ....  mac is "HMAC" (sub a digest) or "CMAC" (sub a CBC cipher). */
static bool ref_kbkdf(const char *mac, const char *sub, bool feedback, const CK_BYTE *ki,
                      size_t ki_len, const CK_BYTE *iv, size_t iv_len, const CK_BYTE *fixed,
                      size_t fixed_len, bool with_l, CK_BYTE *out, size_t len)
{
	EVP_MAC *m = EVP_MAC_fetch(NULL, mac, NULL);
	EVP_MAC_CTX *c = NULL;
	OSSL_PARAM prm[2];
	CK_BYTE k[64], ctr[4], l[4];
	size_t klen = iv_len, done = 0, n;
	bool ok = false;

	if (m == NULL || iv_len > sizeof(k))
		goto out;
	memcpy(k, iv, iv_len);
	l[0] = (CK_BYTE)((len * 8) >> 24);
	l[1] = (CK_BYTE)((len * 8) >> 16);
	l[2] = (CK_BYTE)((len * 8) >> 8);
	l[3] = (CK_BYTE)(len * 8);
	prm[0] = OSSL_PARAM_construct_utf8_string(strcmp(mac, "HMAC") == 0 ? "digest" : "cipher",
	                                          (char *)sub, 0);
	prm[1] = OSSL_PARAM_construct_end();
	for (unsigned i = 1; done < len; i++) {
		ctr[0] = (CK_BYTE)(i >> 24);
		ctr[1] = (CK_BYTE)(i >> 16);
		ctr[2] = (CK_BYTE)(i >> 8);
		ctr[3] = (CK_BYTE)i;
		EVP_MAC_CTX_free(c);
		if ((c = EVP_MAC_CTX_new(m)) == NULL || EVP_MAC_init(c, ki, ki_len, prm) != 1 ||
		    (feedback && klen > 0 && EVP_MAC_update(c, k, klen) != 1) ||
		    EVP_MAC_update(c, ctr, 4) != 1 ||
		    (fixed_len > 0 && EVP_MAC_update(c, fixed, fixed_len) != 1) ||
		    (with_l && EVP_MAC_update(c, l, 4) != 1) ||
		    EVP_MAC_final(c, k, &klen, sizeof(k)) != 1)
			goto out;
		n = len - done < klen ? len - done : klen;
		memcpy(out + done, k, n);
		done += n;
	}
	ok = true;
out:
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(m);
	return ok;
}

/* The data parameters of a layout: [iteration variable] [counter in
 * feedback mode] label and context as byte arrays (each left out when
 * empty) [DKM length]. */
typedef struct kb_layout {
	CK_SP800_108_COUNTER_FORMAT ctr;
	CK_SP800_108_DKM_LENGTH_FORMAT dkm;
	CK_PRF_DATA_PARAM d[8];
	CK_ULONG n;
} kb_layout;

static void kb_build(kb_layout *k, bool feedback, const CK_BYTE *label, CK_ULONG label_len,
                     const CK_BYTE *context, CK_ULONG context_len, bool with_l)
{
	memset(k, 0, sizeof(*k));
	k->ctr.bLittleEndian = CK_FALSE;
	k->ctr.ulWidthInBits = 32;
	k->dkm.dkmLengthMethod = CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS;
	k->dkm.bLittleEndian = CK_FALSE;
	k->dkm.ulWidthInBits = 32;
	if (feedback) {
		k->d[k->n++] = (CK_PRF_DATA_PARAM){ CK_SP800_108_ITERATION_VARIABLE, NULL, 0 };
		k->d[k->n++] = (CK_PRF_DATA_PARAM){ CK_SP800_108_COUNTER, &k->ctr, sizeof(k->ctr) };
	} else {
		k->d[k->n++] = (CK_PRF_DATA_PARAM){ CK_SP800_108_ITERATION_VARIABLE, &k->ctr,
			                            sizeof(k->ctr) };
	}
	if (label_len > 0)
		k->d[k->n++] = (CK_PRF_DATA_PARAM){ CK_SP800_108_BYTE_ARRAY, (CK_VOID_PTR)label,
			                            label_len };
	if (context_len > 0)
		k->d[k->n++] = (CK_PRF_DATA_PARAM){ CK_SP800_108_BYTE_ARRAY, (CK_VOID_PTR)context,
			                            context_len };
	if (with_l)
		k->d[k->n++] =
		        (CK_PRF_DATA_PARAM){ CK_SP800_108_DKM_LENGTH, &k->dkm, sizeof(k->dkm) };
}

static void test_sp800_108_counter_and_feedback_match_the_construction(void)
{
	static const struct {
		CK_MECHANISM_TYPE prf;
		CK_KEY_TYPE kt;
		const char *mac, *sub;
		CK_ULONG klen, out;
	} prfs[] = {
		{ CKM_SHA_1_HMAC, CKK_GENERIC_SECRET, "HMAC", "SHA1", 20, 20 },
		{ CKM_SHA256_HMAC, CKK_SHA256_HMAC, "HMAC", "SHA2-256", 32, 32 },
		{ CKM_SHA384_HMAC, CKK_GENERIC_SECRET, "HMAC", "SHA2-384", 48, 48 },
		{ CKM_SHA512_HMAC, CKK_SHA512_HMAC, "HMAC", "SHA2-512", 64, 64 },
		{ CKM_SHA3_256_HMAC, CKK_GENERIC_SECRET, "HMAC", "SHA3-256", 17, 32 },
		{ CKM_AES_CMAC, CKK_AES, "CMAC", "AES-128-CBC", 16, 16 },
		{ CKM_AES_CMAC, CKK_AES, "CMAC", "AES-256-CBC", 32, 16 },
	};
	static const CK_ULONG lens[] = { 1, 16, 33, 100 };
	CK_BYTE ki[64], label[] = "a label", context[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8 };
	CK_BYTE iv[64], want[128], got[128];
	CK_ULONG got_len;
	kb_layout lay;
	char what[128];

	for (size_t i = 0; i < sizeof(ki); i++)
		ki[i] = (CK_BYTE)(i * 3 + 11);
	for (size_t i = 0; i < sizeof(iv); i++)
		iv[i] = (CK_BYTE)(0xa0 + i);
	if (!kdf_begin())
		goto out;
	for (size_t r = 0; r < CH_T_ARRAY_LEN(prfs); r++) {
		CK_OBJECT_HANDLE base = base_key(prfs[r].kt, ki, prfs[r].klen, true);
		CK_BYTE fixed[sizeof(label) + sizeof(context)];

		memcpy(fixed, label, sizeof(label));
		memcpy(fixed + sizeof(label), context, sizeof(context));
		if (!CHECK(base != CK_INVALID_HANDLE))
			continue;
		for (int mode = 0; mode < 3; mode++) {
			/* 0: counter, 1: feedback with an IV (K(0), of the PRF's
			 * output size), 2: feedback without */
			bool feedback = mode > 0;
			CK_ULONG iv_len = mode == 1 ? prfs[r].out : 0;

			for (size_t li = 0; li < CH_T_ARRAY_LEN(lens); li++) {
				for (int with_l = 0; with_l < 2; with_l++) {
					CK_SP800_108_KDF_PARAMS cp;
					CK_SP800_108_FEEDBACK_KDF_PARAMS fp;
					CK_MECHANISM m;

					kb_build(&lay, feedback, label, sizeof(label), context,
					         sizeof(context), with_l);
					if (feedback) {
						fp = (CK_SP800_108_FEEDBACK_KDF_PARAMS){
							prfs[r].prf,
							lay.n,
							lay.d,
							iv_len,
							iv_len > 0 ? iv : NULL,
							0,
							NULL
						};
						m = (CK_MECHANISM){ CKM_SP800_108_FEEDBACK_KDF, &fp,
							            sizeof(fp) };
					} else {
						cp = (CK_SP800_108_KDF_PARAMS){ prfs[r].prf, lay.n,
							                        lay.d, 0, NULL };
						m = (CK_MECHANISM){ CKM_SP800_108_COUNTER_KDF, &cp,
							            sizeof(cp) };
					}
					snprintf(what, sizeof(what),
					         "SP 800-108 %s %s-%s, %lu bytes, L %s",
					         mode == 0   ? "counter"
					         : mode == 1 ? "feedback+IV"
					                     : "feedback",
					         prfs[r].mac, prfs[r].sub, (unsigned long)lens[li],
					         with_l ? "yes" : "no");
					if (!CHECK(ref_kbkdf(prfs[r].mac, prfs[r].sub, feedback, ki,
					                     prfs[r].klen, iv, iv_len, fixed,
					                     sizeof(fixed), with_l, want,
					                     lens[li])))
						continue;
					got_len = 0;
					if (!CHECK_RV(derive(&m, base, CKK_GENERIC_SECRET, lens[li],
					                     got, sizeof(got), &got_len),
					              CKR_OK))
						fprintf(stderr, "  (%s)\n", what);
					else
						CHECK(same_bytes(what, got, got_len, want,
						                 lens[li]));
				}
			}
		}
		(void)P11->C_DestroyObject(kdf_h, base);
	}
out:
	kdf_end();
}

/* NIST CAVP KBKDF800-108 counter mode vectors (CounterMode.zip,
 * CTRLOCATION=BEFORE_FIXED, RLEN=32_BITS): K(i) = PRF(KI, [i]_32 ||
 * FixedInputData), the fixed data one byte array and no separate L. */
static void test_sp800_108_nist_cavp_counter_vectors(void)
{
	static const struct {
		CK_MECHANISM_TYPE prf;
		CK_KEY_TYPE kt;
		const char *ki, *fixed, *ko;
	} cavp[] = {
		/* [PRF=HMAC_SHA256] COUNT=0, L=128 */
		{ CKM_SHA256_HMAC, CKK_GENERIC_SECRET,
		  "dd1d91b7d90b2bd3138533ce92b272fbf8a369316aefe242e659cc0ae238afe0",
		  "01322b96b30acd197979444e468e1c5c6859bf1b1cf951b7e725303e237e46b8"
		  "64a145fab25e517b08f8683d0315bb2911d80a0e8aba17f3b413faac",
		  "10621342bfb0fd40046c0e29f2cfdbf0" },
		/* [PRF=HMAC_SHA256] COUNT=30, L=320 */
		{ CKM_SHA256_HMAC, CKK_SHA256_HMAC,
		  "c4bedbddb66493e7c7259a3bbbc25f8c7e0ca7fe284d92d431d9cd99a0d214ac",
		  "1c69c54766791e315c2cc5c47ecd3ffab87d0d273dd920e70955814c220eacac"
		  "e6a5946542da3dfe24ff626b4897898cafb7db83bdff3c14fa46fd4b",
		  "1da47638d6c9c4d04d74d4640bbd42ab814d9e8cc22f4326695239f96b0693f1"
		  "2d0dd1152cf44430" },
		/* [PRF=HMAC_SHA384] COUNT=0, L=128 */
		{ CKM_SHA384_HMAC, CKK_GENERIC_SECRET,
		  "216ed044769c4c3908188ece61601af8819c30f501d12995df608e06f5e0e607"
		  "ab54f542ee2da41906dfdb4971f20f9d",
		  "638e9506a2c7be69ea346b84629a010c0e225b7548f508162c89f29c1ddbfd70"
		  "472c2b58e7dc8aa6a5b06602f1c8ed4948cda79c62708218e26ac0e2",
		  "d4b144bb40c7cabed13963d7d4318e72" },
		/* [PRF=CMAC_AES128] COUNT=0, L=128 */
		{ CKM_AES_CMAC, CKK_AES, "c10b152e8c97b77e18704e0f0bd38305",
		  "98cd4cbbbebe15d17dc86e6dbad800a2dcbd64f7c7ad0e78e9cf94ffdba89d03"
		  "e97eadf6c4f7b806caf52aa38f09d0eb71d71f497bcc6906b48d36c4",
		  "26faf61908ad9ee881b8305c221db53f" },
		/* [PRF=CMAC_AES128] COUNT=30, L=320 */
		{ CKM_AES_CMAC, CKK_AES, "b2fcf854b1029888aeb0274ca09bb21a",
		  "a6b84baae7a6ceb1d63ed704757500c510c0a8bdc22d2f42af09f79c815f37f3"
		  "3b67dad0b30f428fc1e2d355f7f91f65acbedd2fdd5b8c38dd890407",
		  "fe4c2c0242c5a295c008aeb87ae0815171de6173773292347f4f5ec07185c3f8"
		  "60b5667c199aad55" },
	};
	CK_BYTE ki[64], fixed[64], ko[64], got[64];
	CK_ULONG ki_len, fixed_len, ko_len, got_len;
	kb_layout lay;

	if (!kdf_begin())
		goto out;
	for (size_t i = 0; i < CH_T_ARRAY_LEN(cavp); i++) {
		CK_SP800_108_KDF_PARAMS cp;
		CK_MECHANISM m = { CKM_SP800_108_COUNTER_KDF, &cp, sizeof(cp) };
		CK_OBJECT_HANDLE base;

		ki_len = ch_t_unhex(cavp[i].ki, ki, sizeof(ki));
		fixed_len = ch_t_unhex(cavp[i].fixed, fixed, sizeof(fixed));
		ko_len = ch_t_unhex(cavp[i].ko, ko, sizeof(ko));
		kb_build(&lay, false, fixed, fixed_len, NULL, 0, false);
		cp = (CK_SP800_108_KDF_PARAMS){ cavp[i].prf, lay.n, lay.d, 0, NULL };
		if (!CHECK((base = base_key(cavp[i].kt, ki, ki_len, true)) != CK_INVALID_HANDLE))
			continue;
		got_len = 0;
		CHECK_RV(derive(&m, base, CKK_GENERIC_SECRET, ko_len, got, sizeof(got), &got_len),
		         CKR_OK);
		CHECK(same_bytes(cavp[i].ko, got, got_len, ko, ko_len));
	}
out:
	kdf_end();
}

static void test_sp800_108_unsupported_layouts_and_keys(void)
{
	CK_BYTE ki[32] = { 7 }, out[64], label[4] = { 'l' };
	CK_ULONG out_len;
	kb_layout lay;
	CK_SP800_108_KDF_PARAMS cp;
	CK_SP800_108_FEEDBACK_KDF_PARAMS fp;
	CK_MECHANISM cm = { CKM_SP800_108_COUNTER_KDF, &cp, sizeof(cp) };
	CK_MECHANISM fm = { CKM_SP800_108_FEEDBACK_KDF, &fp, sizeof(fp) };
	CK_DERIVED_KEY extra = { NULL, 0, NULL };
	CK_OBJECT_HANDLE gen, k384, aes, hkdf;

	REQUIRE(kdf_begin());
	REQUIRE((gen = base_key(CKK_GENERIC_SECRET, ki, 32, true)) != CK_INVALID_HANDLE);
	REQUIRE((k384 = base_key(CKK_SHA384_HMAC, ki, 32, true)) != CK_INVALID_HANDLE);
	REQUIRE((aes = base_key(CKK_AES, ki, 32, true)) != CK_INVALID_HANDLE);
	REQUIRE((hkdf = base_key(CKK_HKDF, ki, 32, true)) != CK_INVALID_HANDLE);
#define RESET_C()                                                                                  \
	(kb_build(&lay, false, label, sizeof(label), NULL, 0, true),                               \
	 cp = (CK_SP800_108_KDF_PARAMS){ CKM_SHA256_HMAC, lay.n, lay.d, 0, NULL })
#define RESET_F()                                                                                  \
	(kb_build(&lay, true, label, sizeof(label), NULL, 0, true),                                \
	 fp = (CK_SP800_108_FEEDBACK_KDF_PARAMS){ CKM_SHA256_HMAC, lay.n, lay.d, 0, NULL, 0,       \
	                                          NULL })
#define DC(base) derive(&cm, (base), CKK_GENERIC_SECRET, 32, out, sizeof(out), &out_len)
#define DF(base) derive(&fm, (base), CKK_GENERIC_SECRET, 32, out, sizeof(out), &out_len)
	RESET_C();
	CHECK_RV(DC(gen), CKR_OK);
	RESET_F();
	CHECK_RV(DF(gen), CKR_OK);

	RESET_C();
	lay.ctr.bLittleEndian = CK_TRUE;
	CHECK_RV(DC(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_C();
	lay.ctr.ulWidthInBits = 16;
	CHECK_RV(DC(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_C();
	lay.d[0].ulValueLen = 1;
	CHECK_RV(DC(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_C(); /* byte array before the counter */
	lay.d[0] = lay.d[1];
	lay.d[1] =
	        (CK_PRF_DATA_PARAM){ CK_SP800_108_ITERATION_VARIABLE, &lay.ctr, sizeof(lay.ctr) };
	CHECK_RV(DC(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_C(); /* DKM length before a byte array */
	lay.d[lay.n] = lay.d[lay.n - 2];
	lay.n++;
	cp.ulNumberOfDataParams = lay.n;
	CHECK_RV(DC(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_C();
	lay.dkm.dkmLengthMethod = CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS;
	CHECK_RV(DC(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_C();
	lay.dkm.ulWidthInBits = 16;
	CHECK_RV(DC(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_C(); /* a counter param is for the feedback mode */
	lay.d[1] = (CK_PRF_DATA_PARAM){ CK_SP800_108_COUNTER, &lay.ctr, sizeof(lay.ctr) };
	CHECK_RV(DC(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_C(); /* an empty byte array */
	lay.d[1].ulValueLen = 0;
	CHECK_RV(DC(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_C();
	cp.pAdditionalDerivedKeys = &extra;
	CHECK_RV(DC(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_C();
	cp.ulNumberOfDataParams = 0;
	CHECK_RV(DC(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_C();
	cp.pDataParams = NULL;
	CHECK_RV(DC(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_C();
	cp.ulAdditionalDerivedKeys = 1;
	cp.pAdditionalDerivedKeys = &extra;
	CHECK_RV(DC(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_C();
	cp.prfType = CKM_SHA256;
	CHECK_RV(DC(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_C();
	cm.ulParameterLen = sizeof(fp);
	CHECK_RV(DC(gen), CKR_MECHANISM_PARAM_INVALID);
	cm.ulParameterLen = sizeof(cp);

	RESET_F(); /* feedback without a counter */
	lay.d[1] = lay.d[2];
	lay.d[2] = lay.d[3];
	fp.ulNumberOfDataParams = lay.n - 1;
	CHECK_RV(DF(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_F();
	lay.d[0].pValue = &lay.ctr;
	lay.d[0].ulValueLen = sizeof(lay.ctr);
	CHECK_RV(DF(gen), CKR_MECHANISM_PARAM_INVALID);
	RESET_F();
	fp.ulIVLen = 4;
	CHECK_RV(DF(gen), CKR_MECHANISM_PARAM_INVALID);
	fp.ulIVLen = 0;
	fp.pIV = out;
	CHECK_RV(DF(gen), CKR_MECHANISM_PARAM_INVALID);
	fp.ulIVLen = 4;
	fp.pIV = out;
	CHECK_RV(DF(gen), CKR_MECHANISM_PARAM_INVALID); /* not the PRF's 32 bytes */
	fp.ulIVLen = 32;
	CHECK_RV(DF(gen), CKR_OK);

	/* Keys that do not fit the PRF. */
	RESET_C();
	CHECK_RV(DC(k384), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(DC(aes), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(DC(hkdf), CKR_KEY_TYPE_INCONSISTENT);
	cp.prfType = CKM_SHA384_HMAC;
	CHECK_RV(DC(k384), CKR_OK);
	cp.prfType = CKM_AES_CMAC;
	CHECK_RV(DC(gen), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(DC(aes), CKR_OK);
	CHECK_RV(derive(&cm, aes, CKK_GENERIC_SECRET, 0, out, sizeof(out), &out_len),
	         CKR_TEMPLATE_INCOMPLETE);
#undef RESET_C
#undef RESET_F
#undef DC
#undef DF
out:
	kdf_end();
}

static void test_kdf_mechanism_info(void)
{
	static const struct {
		CK_MECHANISM_TYPE mech;
		CK_ULONG min, max;
		CK_FLAGS flags;
	} want[] = {
		{ CKM_HKDF_KEY_GEN, 1, 512, CKF_GENERATE },
		{ CKM_HKDF_DERIVE, 1, 16384, CKF_DERIVE },
		{ CKM_PKCS5_PBKD2, 1, 512, CKF_GENERATE },
		{ CKM_SP800_108_COUNTER_KDF, 8, 16384 * 8, CKF_DERIVE }, /* bits */
		{ CKM_SP800_108_FEEDBACK_KDF, 8, 16384 * 8, CKF_DERIVE },
	};
	CK_MECHANISM_INFO info;

	if (!kdf_begin())
		goto out;
	for (size_t i = 0; i < CH_T_ARRAY_LEN(want); i++) {
		CHECK_RV(P11->C_GetMechanismInfo(kdf_env.slot, want[i].mech, &info), CKR_OK);
		CHECK_UL(info.ulMinKeySize, want[i].min);
		CHECK_UL(info.ulMaxKeySize, want[i].max);
		CHECK_UL(info.flags, want[i].flags);
	}
	CHECK_RV(P11->C_GetMechanismInfo(kdf_env.slot, CKM_SP800_108_DOUBLE_PIPELINE_KDF, &info),
	         CKR_MECHANISM_INVALID);
out:
	kdf_end();
}

/* ---- Through the module: CKM_HKDF_KEY_GEN and PBKDF2 ------------------- */

static void test_hkdf_key_gen_through_module(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_MECHANISM m = { CKM_HKDF_KEY_GEN, NULL, 0 };
	CK_ULONG len = 32, kt = 0, n, vlen = 0;
	CK_ATTRIBUTE t[] = { CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_BOOL(CKA_DERIVE, true) };
	CK_OBJECT_HANDLE k;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(P11->C_GenerateKey(h, &m, t, CH_T_ARRAY_LEN(t), &k), CKR_OK);
	n = sizeof(kt);
	CHECK_RV(ch_t_get(h, k, CKA_KEY_TYPE, &kt, &n), CKR_OK);
	CHECK_UL(kt, CKK_HKDF);
	n = sizeof(vlen);
	CHECK_RV(ch_t_get(h, k, CKA_VALUE_LEN, &vlen, &n), CKR_OK);
	CHECK_UL(vlen, 32);
	CHECK(ch_t_get_bool(h, k, CKA_DERIVE) == 1);
	len = 513;
	CHECK_RV(P11->C_GenerateKey(h, &m, t, CH_T_ARRAY_LEN(t), &k), CKR_KEY_SIZE_RANGE);
	CHECK_RV(P11->C_GenerateKey(h, &m, t + 1, 1, &k), CKR_TEMPLATE_INCOMPLETE);
out:
	ch_t_env_free(&e);
}

/* C_GenerateKey with CKM_PKCS5_PBKD2 into a generic secret of len bytes,
 * its value read back into out. */
static CK_RV pbkdf2(CK_SESSION_HANDLE h, CK_PKCS5_PBKD2_PARAMS2 *p, CK_KEY_TYPE kt, CK_ULONG len,
                    CK_BYTE *out, CK_ULONG *out_len)
{
	CK_MECHANISM m = { CKM_PKCS5_PBKD2, p, sizeof(*p) };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_ULONG(CKA_VALUE_LEN, &len),
	};
	CK_OBJECT_HANDLE k;
	CK_RV rv;

	rv = P11->C_GenerateKey(h, &m, t, len > 0 ? 3 : 2, &k);
	if (rv != CKR_OK)
		return rv;
	rv = ch_t_get(h, k, CKA_VALUE, out, out_len);
	(void)P11->C_DestroyObject(h, k);
	return rv;
}

static void pbkdf2_params(CK_PKCS5_PBKD2_PARAMS2 *p, CK_ULONG prf, const void *pw, CK_ULONG pw_len,
                          const void *salt, CK_ULONG salt_len, CK_ULONG iter)
{
	memset(p, 0, sizeof(*p));
	p->saltSource = CKZ_SALT_SPECIFIED;
	p->pSaltSourceData = (CK_VOID_PTR)salt;
	p->ulSaltSourceDataLen = salt_len;
	p->iterations = iter;
	p->prf = prf;
	p->pPassword = (CK_UTF8CHAR_PTR)pw;
	p->ulPasswordLen = pw_len;
}

static void test_pbkdf2_rfc6070_and_rfc7914(void)
{
	static const struct {
		CK_ULONG prf;
		const char *pw;
		CK_ULONG pw_len;
		const char *salt;
		CK_ULONG salt_len, iter;
		const char *dk;
	} kats[] = {
		/* RFC 6070 (PBKDF2-HMAC-SHA1). */
		{ CKP_PKCS5_PBKD2_HMAC_SHA1, "password", 8, "salt", 4, 1,
		  "0c60c80f961f0e71f3a9b524af6012062fe037a6" },
		{ CKP_PKCS5_PBKD2_HMAC_SHA1, "password", 8, "salt", 4, 2,
		  "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957" },
		{ CKP_PKCS5_PBKD2_HMAC_SHA1, "password", 8, "salt", 4, 4096,
		  "4b007901b765489abead49d926f721d065a429c1" },
		{ CKP_PKCS5_PBKD2_HMAC_SHA1, "passwordPASSWORDpassword", 24,
		  "saltSALTsaltSALTsaltSALTsaltSALTsalt", 36, 4096,
		  "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038" },
		{ CKP_PKCS5_PBKD2_HMAC_SHA1, "pass\0word", 9, "sa\0lt", 5, 4096,
		  "56fa6aa75548099dcc37d7f03425e0c3" },
		/* RFC 7914 section 11 (PBKDF2-HMAC-SHA256). */
		{ CKP_PKCS5_PBKD2_HMAC_SHA256, "passwd", 6, "salt", 4, 1,
		  "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
		  "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783" },
		{ CKP_PKCS5_PBKD2_HMAC_SHA256, "Password", 8, "NaCl", 4, 80000,
		  "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
		  "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d" },
	};
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_PKCS5_PBKD2_PARAMS2 p;
	CK_BYTE want[64], got[600];
	CK_ULONG wlen, glen;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	for (size_t i = 0; i < CH_T_ARRAY_LEN(kats); i++) {
		wlen = ch_t_unhex(kats[i].dk, want, sizeof(want));
		pbkdf2_params(&p, kats[i].prf, kats[i].pw, kats[i].pw_len, kats[i].salt,
		              kats[i].salt_len, kats[i].iter);
		glen = sizeof(got);
		CHECK_RV(pbkdf2(h, &p, CKK_GENERIC_SECRET, wlen, got, &glen), CKR_OK);
		CHECK(same_bytes(kats[i].pw, got, glen, want, wlen));
	}

	/* Into an AES key: the leading bytes of the same stream. */
	pbkdf2_params(&p, CKP_PKCS5_PBKD2_HMAC_SHA256, "passwd", 6, "salt", 4, 1);
	wlen = ch_t_unhex(kats[5].dk, want, sizeof(want));
	glen = sizeof(got);
	CHECK_RV(pbkdf2(h, &p, CKK_AES, 16, got, &glen), CKR_OK);
	CHECK(same_bytes("PBKDF2 into AES-128", got, glen, want, 16));
	/* Every PRF runs. */
	{
		static const CK_ULONG prfs[] = {
			CKP_PKCS5_PBKD2_HMAC_SHA224,     CKP_PKCS5_PBKD2_HMAC_SHA384,
			CKP_PKCS5_PBKD2_HMAC_SHA512,     CKP_PKCS5_PBKD2_HMAC_SHA512_224,
			CKP_PKCS5_PBKD2_HMAC_SHA512_256,
		};

		for (size_t i = 0; i < CH_T_ARRAY_LEN(prfs); i++) {
			pbkdf2_params(&p, prfs[i], "pw", 2, "salt", 4, 3);
			glen = sizeof(got);
			CHECK_RV(pbkdf2(h, &p, CKK_GENERIC_SECRET, 512, got, &glen), CKR_OK);
			CHECK_UL(glen, 512);
		}
	}
out:
	ch_t_env_free(&e);
}

static void test_pbkdf2_parameter_errors(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_PKCS5_PBKD2_PARAMS2 p;
	CK_MECHANISM m = { CKM_PKCS5_PBKD2, &p, sizeof(p) - 1 };
	CK_BYTE got[600], prf_data[4] = { 0 };
	CK_ULONG glen, len = 16;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_ATTRIBUTE t[] = { CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_ULONG(CKA_CLASS, &cls),
		             CH_T_ULONG(CKA_KEY_TYPE, &kt) };
	CK_OBJECT_HANDLE k;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
#define GEN(kt, l) (glen = sizeof(got), pbkdf2(h, &p, (kt), (l), got, &glen))
#define RESET()    pbkdf2_params(&p, CKP_PKCS5_PBKD2_HMAC_SHA256, "pw", 2, "salt", 4, 2)
	RESET();
	CHECK_RV(GEN(CKK_GENERIC_SECRET, 16), CKR_OK);
	CHECK_RV(P11->C_GenerateKey(h, &m, t, 3, &k), CKR_MECHANISM_PARAM_INVALID);
	/* The key type is the template's to say. */
	m.ulParameterLen = sizeof(p);
	CHECK_RV(P11->C_GenerateKey(h, &m, t, 1, &k), CKR_TEMPLATE_INCOMPLETE);
	p.saltSource = 2;
	CHECK_RV(GEN(CKK_GENERIC_SECRET, 16), CKR_MECHANISM_PARAM_INVALID);
	RESET();
	p.pSaltSourceData = NULL;
	CHECK_RV(GEN(CKK_GENERIC_SECRET, 16), CKR_MECHANISM_PARAM_INVALID);
	RESET();
	p.iterations = 0;
	CHECK_RV(GEN(CKK_GENERIC_SECRET, 16), CKR_MECHANISM_PARAM_INVALID);
	RESET();
	p.prf = CKP_PKCS5_PBKD2_HMAC_GOSTR3411;
	CHECK_RV(GEN(CKK_GENERIC_SECRET, 16), CKR_MECHANISM_PARAM_INVALID);
	RESET();
	p.pPrfData = prf_data;
	p.ulPrfDataLen = sizeof(prf_data);
	CHECK_RV(GEN(CKK_GENERIC_SECRET, 16), CKR_MECHANISM_PARAM_INVALID);
	RESET();
	p.pPassword = NULL;
	CHECK_RV(GEN(CKK_GENERIC_SECRET, 16), CKR_MECHANISM_PARAM_INVALID);
	RESET();
	/* A 2.20 caller's CK_ULONG_PTR read as a length: refused, not read. */
	p.ulPasswordLen = (CK_ULONG)(uintptr_t)&len;
	CHECK_RV(GEN(CKK_GENERIC_SECRET, 16), CKR_MECHANISM_PARAM_INVALID);
	RESET();
	CHECK_RV(GEN(CKK_GENERIC_SECRET, 513), CKR_KEY_SIZE_RANGE);
	CHECK_RV(GEN(CKK_GENERIC_SECRET, 0), CKR_TEMPLATE_INCOMPLETE);
	CHECK_RV(GEN(CKK_AES, 0), CKR_TEMPLATE_INCOMPLETE);
	CHECK_RV(GEN(CKK_AES, 20), CKR_ATTRIBUTE_VALUE_INVALID);
	/* Empty password and salt are well-defined. */
	pbkdf2_params(&p, CKP_PKCS5_PBKD2_HMAC_SHA1, NULL, 0, NULL, 0, 1);
	CHECK_RV(GEN(CKK_GENERIC_SECRET, 20), CKR_OK);
#undef GEN
#undef RESET
out:
	ch_t_env_free(&e);
}

int main(void)
{
	static const ch_t_case cases[] = {
		CH_T_CASE(test_hkdf_wycheproof),
		CH_T_CASE(test_hkdf_extract_then_expand_equals_both),
		CH_T_CASE(test_hkdf_data_makes_a_data_object),
		CH_T_CASE(test_hkdf_salt_from_a_key),
		CH_T_CASE(test_hkdf_parameter_and_key_errors),
		CH_T_CASE(test_sp800_108_counter_and_feedback_match_the_construction),
		CH_T_CASE(test_sp800_108_nist_cavp_counter_vectors),
		CH_T_CASE(test_sp800_108_unsupported_layouts_and_keys),
		CH_T_CASE(test_kdf_mechanism_info),
		CH_T_CASE(test_hkdf_key_gen_through_module),
		CH_T_CASE(test_pbkdf2_rfc6070_and_rfc7914),
		CH_T_CASE(test_pbkdf2_parameter_errors),
	};

	return ch_t_run(cases, CH_T_ARRAY_LEN(cases));
}
