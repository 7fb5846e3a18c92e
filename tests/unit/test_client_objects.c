/*
 * What OpenSSL's libp11 engine, NSS and the other real clients (issue 5)
 * rely on in the objects and mechanisms of a token, each in the shape those
 * clients ask for it:
 *   - private key, public key and certificate paired by CKA_ID (found with a
 *     template of CKA_CLASS and CKA_ID);
 *   - RSA private keys expose CKA_MODULUS and CKA_PUBLIC_EXPONENT (libp11
 *     builds the EVP_PKEY from the private key alone);
 *   - certificates with CKA_SUBJECT, CKA_ISSUER and CKA_SERIAL_NUMBER;
 *   - CKA_ALWAYS_AUTHENTICATE readable on private keys;
 *   - an inapplicable attribute in C_GetAttributeValue gets
 *     CKR_ATTRIBUTE_TYPE_INVALID (its length CK_UNAVAILABLE_INFORMATION)
 *     while the others are still filled;
 *   - C_CopyObject with an empty template (NSS), of keys and certificates;
 *   - raw CKM_RSA_PKCS over a DigestInfo equals multi-part
 *     CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS_PSS with parameters, raw CKM_ECDSA.
 */
#include <openssl/evp.h>

#include "module.h"

static ch_t_env env;
static CK_SESSION_HANDLE sess;

static const CK_BYTE id_rsa[] = { 0x11 }, id_ec[] = { 0x12 };
static const CK_BYTE subject[] = { 0x30, 0x0f, 0x31, 0x0d, 0x30, 0x0b, 0x06, 0x03, 0x55,
	                           0x04, 0x03, 0x0c, 0x04, 't',  'e',  's',  't' };
static const CK_BYTE serial[] = { 0x02, 0x01, 0x07 };
/* Not a real certificate: the token stores CKA_VALUE as given. */
static const CK_BYTE cert_der[] = { 0x30, 0x03, 0x02, 0x01, 0x07 };
static const CK_BYTE msg[] = "the message a TLS handshake would sign";

static CK_OBJECT_HANDLE rsa_pub, rsa_priv, ec_pub, ec_priv, cert;

static CK_RV gen_rsa(void)
{
	CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ULONG bits = 2048;
	CK_ATTRIBUTE pt[] = { CH_T_ULONG(CKA_MODULUS_BITS, &bits), CH_T_BOOL(CKA_VERIFY, true),
		              CH_T_BOOL(CKA_TOKEN, true), CH_T_ATTR(CKA_ID, id_rsa, 1) };
	CK_ATTRIBUTE st[] = { CH_T_BOOL(CKA_SIGN, true), CH_T_BOOL(CKA_TOKEN, true),
		              CH_T_BOOL(CKA_SENSITIVE, true), CH_T_ATTR(CKA_ID, id_rsa, 1) };

	return P11->C_GenerateKeyPair(sess, &m, pt, CH_T_ARRAY_LEN(pt), st, CH_T_ARRAY_LEN(st),
	                              &rsa_pub, &rsa_priv);
}

static CK_RV gen_ec(void)
{
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt[] = { CH_T_ATTR(CKA_EC_PARAMS, ch_t_p256_params, sizeof(ch_t_p256_params)),
		              CH_T_BOOL(CKA_VERIFY, true), CH_T_BOOL(CKA_TOKEN, true),
		              CH_T_ATTR(CKA_ID, id_ec, 1) };
	CK_ATTRIBUTE st[] = { CH_T_BOOL(CKA_SIGN, true), CH_T_BOOL(CKA_TOKEN, true),
		              CH_T_ATTR(CKA_ID, id_ec, 1) };

	return P11->C_GenerateKeyPair(sess, &m, pt, CH_T_ARRAY_LEN(pt), st, CH_T_ARRAY_LEN(st),
	                              &ec_pub, &ec_priv);
}

static CK_RV create_cert(void)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_CERTIFICATE_TYPE, &ct),
		CH_T_BOOL(CKA_TOKEN, true),
		CH_T_ATTR(CKA_ID, id_rsa, 1),
		CH_T_ATTR(CKA_SUBJECT, subject, sizeof(subject)),
		CH_T_ATTR(CKA_ISSUER, subject, sizeof(subject)),
		CH_T_ATTR(CKA_SERIAL_NUMBER, serial, sizeof(serial)),
		CH_T_ATTR(CKA_VALUE, cert_der, sizeof(cert_der)),
		CH_T_STR(CKA_LABEL, "rsa-cert"),
	};

	return P11->C_CreateObject(sess, t, CH_T_ARRAY_LEN(t), &cert);
}

/* The one object of class cls with CKA_ID id, or CK_INVALID_HANDLE. */
static CK_OBJECT_HANDLE find_by_id(CK_OBJECT_CLASS cls, const CK_BYTE *id)
{
	CK_ATTRIBUTE t[] = { CH_T_ULONG(CKA_CLASS, &cls), CH_T_ATTR(CKA_ID, id, 1) };
	CK_OBJECT_HANDLE out[4];
	CK_ULONG n = 0;

	if (ch_t_find(sess, t, 2, out, 4, &n) != CKR_OK || n != 1)
		return CK_INVALID_HANDLE;
	return out[0];
}

static void test_key_pair_and_certificate_paired_by_id(void)
{
	CHECK(find_by_id(CKO_PRIVATE_KEY, id_rsa) == rsa_priv);
	CHECK(find_by_id(CKO_PUBLIC_KEY, id_rsa) == rsa_pub);
	CHECK(find_by_id(CKO_CERTIFICATE, id_rsa) == cert);
	CHECK(find_by_id(CKO_PRIVATE_KEY, id_ec) == ec_priv);
	CHECK(find_by_id(CKO_PUBLIC_KEY, id_ec) == ec_pub);
}

static void test_certificate_subject_issuer_serial(void)
{
	CK_BYTE s[64], i[64], n[16];
	CK_ATTRIBUTE t[] = { CH_T_ATTR(CKA_SUBJECT, s, sizeof(s)),
		             CH_T_ATTR(CKA_ISSUER, i, sizeof(i)),
		             CH_T_ATTR(CKA_SERIAL_NUMBER, n, sizeof(n)) };

	REQUIRE_RV(P11->C_GetAttributeValue(sess, cert, t, 3), CKR_OK);
	CHECK(t[0].ulValueLen == sizeof(subject) && memcmp(s, subject, sizeof(subject)) == 0);
	CHECK(t[1].ulValueLen == sizeof(subject) && memcmp(i, subject, sizeof(subject)) == 0);
	CHECK(t[2].ulValueLen == sizeof(serial) && memcmp(n, serial, sizeof(serial)) == 0);
out:
	return;
}

static void test_rsa_private_key_exposes_modulus_and_exponent(void)
{
	CK_BYTE n1[512], n2[512], e[8];
	CK_ULONG l1 = sizeof(n1), l2 = sizeof(n2), le = sizeof(e);

	REQUIRE_RV(ch_t_get(sess, rsa_priv, CKA_MODULUS, n1, &l1), CKR_OK);
	REQUIRE_RV(ch_t_get(sess, rsa_pub, CKA_MODULUS, n2, &l2), CKR_OK);
	CHECK(l1 == 256 && l1 == l2 && memcmp(n1, n2, l1) == 0);
	REQUIRE_RV(ch_t_get(sess, rsa_priv, CKA_PUBLIC_EXPONENT, e, &le), CKR_OK);
	CHECK(le == 3 && e[0] == 1 && e[1] == 0 && e[2] == 1);
out:
	return;
}

static void test_always_authenticate_is_readable(void)
{
	CHECK(ch_t_get_bool(sess, rsa_priv, CKA_ALWAYS_AUTHENTICATE) == 0);
	CHECK(ch_t_get_bool(sess, ec_priv, CKA_ALWAYS_AUTHENTICATE) == 0);
}

static void test_inapplicable_attribute_others_still_filled(void)
{
	CK_KEY_TYPE kt = 0xAA;
	CK_BYTE mod[512], id[8], params[32];
	CK_ATTRIBUTE t[] = { CH_T_ATTR(CKA_ID, id, sizeof(id)),
		             CH_T_ATTR(CKA_MODULUS, mod, sizeof(mod)),
		             CH_T_ULONG(CKA_KEY_TYPE, &kt),
		             CH_T_ATTR(CKA_EC_PARAMS, params, sizeof(params)) };

	CHECK_RV(P11->C_GetAttributeValue(sess, ec_priv, t, CH_T_ARRAY_LEN(t)),
	         CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK(t[0].ulValueLen == 1 && id[0] == id_ec[0]);
	CHECK(t[1].ulValueLen == CK_UNAVAILABLE_INFORMATION);
	CHECK(t[2].ulValueLen == sizeof(CK_ULONG) && kt == CKK_EC);
	CHECK(t[3].ulValueLen == sizeof(ch_t_p256_params) &&
	      memcmp(params, ch_t_p256_params, sizeof(ch_t_p256_params)) == 0);
}

static void test_copy_with_empty_template(void)
{
	CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
	CK_OBJECT_HANDLE kc = CK_INVALID_HANDLE, cc = CK_INVALID_HANDLE;
	CK_BYTE sig[256];
	CK_ULONG sig_len = sizeof(sig);

	REQUIRE_RV(P11->C_CopyObject(sess, rsa_priv, NULL, 0, &kc), CKR_OK);
	CHECK(kc != rsa_priv);
	/* An empty template may also come as a non-NULL pointer with count 0. */
	REQUIRE_RV(P11->C_CopyObject(sess, cert, (CK_ATTRIBUTE_PTR)&m, 0, &cc), CKR_OK);
	CHECK(cc != cert);
	/* The copies are whole: the key signs, the certificate keeps its fields. */
	REQUIRE_RV(P11->C_SignInit(sess, &m, kc), CKR_OK);
	REQUIRE_RV(P11->C_Sign(sess, (CK_BYTE_PTR)msg, sizeof(msg), sig, &sig_len), CKR_OK);
	REQUIRE_RV(P11->C_VerifyInit(sess, &m, rsa_pub), CKR_OK);
	CHECK_RV(P11->C_Verify(sess, (CK_BYTE_PTR)msg, sizeof(msg), sig, sig_len), CKR_OK);
	{
		CK_BYTE n[16];
		CK_ULONG nl = sizeof(n);

		CHECK_RV(ch_t_get(sess, cc, CKA_SERIAL_NUMBER, n, &nl), CKR_OK);
		CHECK(nl == sizeof(serial) && memcmp(n, serial, nl) == 0);
	}
	CHECK(ch_t_get_bool(sess, kc, CKA_TOKEN) == 1);
out:
	if (kc != CK_INVALID_HANDLE)
		(void)P11->C_DestroyObject(sess, kc);
	if (cc != CK_INVALID_HANDLE)
		(void)P11->C_DestroyObject(sess, cc);
}

static void test_raw_rsa_pkcs_equals_multipart_sha256_rsa_pkcs(void)
{
	static const CK_BYTE prefix[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
		                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
		                          0x01, 0x05, 0x00, 0x04, 0x20 };
	CK_MECHANISM raw = { CKM_RSA_PKCS, NULL, 0 }, hashed = { CKM_SHA256_RSA_PKCS, NULL, 0 };
	CK_BYTE di[sizeof(prefix) + 32], s1[256], s2[256];
	CK_ULONG l1 = sizeof(s1), l2 = sizeof(s2);
	unsigned int dl = 32;

	memcpy(di, prefix, sizeof(prefix));
	REQUIRE(EVP_Digest(msg, sizeof(msg), di + sizeof(prefix), &dl, EVP_sha256(), NULL) == 1);
	REQUIRE_RV(P11->C_SignInit(sess, &raw, rsa_priv), CKR_OK);
	REQUIRE_RV(P11->C_Sign(sess, di, sizeof(di), s1, &l1), CKR_OK);
	REQUIRE_RV(P11->C_SignInit(sess, &hashed, rsa_priv), CKR_OK);
	REQUIRE_RV(P11->C_SignUpdate(sess, (CK_BYTE_PTR)msg, 5), CKR_OK);
	REQUIRE_RV(P11->C_SignUpdate(sess, (CK_BYTE_PTR)msg + 5, sizeof(msg) - 5), CKR_OK);
	REQUIRE_RV(P11->C_SignFinal(sess, s2, &l2), CKR_OK);
	CHECK(l1 == 256 && l1 == l2 && memcmp(s1, s2, l1) == 0);
out:
	return;
}

static void test_pss_with_parameters_and_raw_ecdsa(void)
{
	CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
	CK_MECHANISM mp = { CKM_RSA_PKCS_PSS, &pss, sizeof(pss) }, me = { CKM_ECDSA, NULL, 0 };
	CK_BYTE digest[32], sig[256];
	CK_ULONG sl = sizeof(sig);
	unsigned int dl = 32;

	REQUIRE(EVP_Digest(msg, sizeof(msg), digest, &dl, EVP_sha256(), NULL) == 1);
	REQUIRE_RV(P11->C_SignInit(sess, &mp, rsa_priv), CKR_OK);
	REQUIRE_RV(P11->C_Sign(sess, digest, 32, sig, &sl), CKR_OK);
	REQUIRE_RV(P11->C_VerifyInit(sess, &mp, rsa_pub), CKR_OK);
	CHECK_RV(P11->C_Verify(sess, digest, 32, sig, sl), CKR_OK);
	sl = sizeof(sig);
	REQUIRE_RV(P11->C_SignInit(sess, &me, ec_priv), CKR_OK);
	REQUIRE_RV(P11->C_Sign(sess, digest, 32, sig, &sl), CKR_OK);
	CHECK(sl == 64); /* r || s, not DER */
	REQUIRE_RV(P11->C_VerifyInit(sess, &me, ec_pub), CKR_OK);
	CHECK_RV(P11->C_Verify(sess, digest, 32, sig, sl), CKR_OK);
out:
	return;
}

int main(void)
{
	if (CHECK(ch_t_setup(&env)) && CHECK_RV(ch_t_user_session(&env, true, &sess), CKR_OK) &&
	    CHECK_RV(gen_rsa(), CKR_OK) && CHECK_RV(gen_ec(), CKR_OK) &&
	    CHECK_RV(create_cert(), CKR_OK)) {
		test_key_pair_and_certificate_paired_by_id();
		test_certificate_subject_issuer_serial();
		test_rsa_private_key_exposes_modulus_and_exponent();
		test_always_authenticate_is_readable();
		test_inapplicable_attribute_others_still_filled();
		test_copy_with_empty_template();
		test_raw_rsa_pkcs_equals_multipart_sha256_rsa_pkcs();
		test_pss_with_parameters_and_raw_ecdsa();
	}
	ch_t_env_free(&env);
	return ch_test_done();
}
