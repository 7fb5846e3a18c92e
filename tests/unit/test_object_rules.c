/*
 * The object model (token/object.c): the PKCS#11 3.0 attribute rules.
 *
 * Every footnote of the spec's attribute tables (1-12) is exercised at least
 * once, as is every return code object.h promises, for building (each
 * origin), finishing, changing, copying, destroying, reading and matching.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "object.h"

/* A result pointer that a failing call must reset to NULL. */
static ch_attrs not_set;

#define N(t) ((CK_ULONG)(sizeof(t) / sizeof((t)[0])))

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS c_data = CKO_DATA, c_cert = CKO_CERTIFICATE, c_pub = CKO_PUBLIC_KEY,
                       c_priv = CKO_PRIVATE_KEY, c_secret = CKO_SECRET_KEY;
static CK_KEY_TYPE k_aes = CKK_AES, k_rsa = CKK_RSA, k_ec = CKK_EC, k_generic = CKK_GENERIC_SECRET,
                   k_chacha = CKK_CHACHA20, k_hmac = CKK_SHA256_HMAC;
static CK_CERTIFICATE_TYPE x509 = CKC_X_509;
static CK_BYTE aes32[32] = { 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
	                     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
/* P-256 OID, a point and a scalar: shapes only, not a real key. */
static CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static CK_BYTE point[] = { 0x04, 0x41, 0x04, 1, 2, 3 };
static CK_BYTE scalar[] = { 9, 8, 7, 6, 5 };
static CK_BYTE modulus[] = { 0x00, 0x01, 0xff, 0x11 }; /* 17 significant bits */
static CK_BYTE pubexp[] = { 0x01, 0x00, 0x01 };
static CK_BYTE privexp[] = { 0x12, 0x34 };

static const ch_object_env user = { .so = false };
static const ch_object_env so = { .so = true };

/* clang-format off */
#define A(type, var)     {(type), &(var), sizeof(var)}
#define AB(type, bytes)  {(type), (bytes), sizeof(bytes)}
#define AS(type, string) {(type), (string), sizeof(string) - 1}
/* clang-format on */

/* C_CreateObject's half of the model. */
static CK_RV create(const CK_ATTRIBUTE *t, CK_ULONG n, const ch_object_env *env, ch_attrs **out)
{
	return ch_object_build(CH_ORIGIN_CREATE, CK_UNAVAILABLE_INFORMATION,
	                       CK_UNAVAILABLE_INFORMATION, t, n, env, out);
}

/* C_CreateObject of an AES key: class, key type, 32-byte value, plus extra. */
static CK_RV create_aes(const CK_ATTRIBUTE *extra, CK_ULONG n, const ch_object_env *env,
                        ch_attrs **out)
{
	CK_ATTRIBUTE t[24] = {
		A(CKA_CLASS, c_secret),
		A(CKA_KEY_TYPE, k_aes),
		AB(CKA_VALUE, aes32),
	};

	if (n > N(t) - 3)
		return CKR_ARGUMENTS_BAD;
	if (n != 0)
		memcpy(t + 3, extra, n * sizeof(*extra));
	return create(t, n + 3, env, out);
}

/* An AES key with the given extra template; NULL (and a failed check) if
 * creating it fails. */
static ch_attrs *aes_key(const CK_ATTRIBUTE *extra, CK_ULONG n)
{
	ch_attrs *a = NULL;

	CHECK_RV(create_aes(extra, n, &user, &a), CKR_OK);
	return a;
}

static bool has_bool(const ch_attrs *a, CK_ATTRIBUTE_TYPE type, bool v)
{
	const ch_attr *at = ch_attrs_get(a, type);

	return at != NULL && at->len == 1 && at->value[0] == (v ? CK_TRUE : CK_FALSE);
}

static bool has_ulong(const ch_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
	CK_ULONG got;

	return ch_attrs_ulong(a, type, &got) && got == v;
}

static bool has_empty(const ch_attrs *a, CK_ATTRIBUTE_TYPE type)
{
	const ch_attr *at = ch_attrs_get(a, type);

	return at != NULL && at->len == 0;
}

/* ---------------------------------------------------------------------- */
/* Creation: classes, defaults, footnotes 1, 2, 9, 10                      */
/* ---------------------------------------------------------------------- */

static void test_create_secret_key_gets_spec_and_token_defaults(void)
{
	ch_attrs *a = aes_key(NULL, 0);

	if (a == NULL)
		return;
	CHECK(has_ulong(a, CKA_CLASS, CKO_SECRET_KEY));
	CHECK(has_ulong(a, CKA_KEY_TYPE, CKK_AES));
	CHECK(has_bool(a, CKA_TOKEN, false));
	CHECK(has_bool(a, CKA_PRIVATE, true)); /* token-specific (9) */
	CHECK(has_bool(a, CKA_MODIFIABLE, true));
	CHECK(has_bool(a, CKA_COPYABLE, true));
	CHECK(has_bool(a, CKA_DESTROYABLE, true));
	CHECK(has_empty(a, CKA_LABEL));
	CHECK(has_empty(a, CKA_ID));
	CHECK(has_empty(a, CKA_START_DATE));
	CHECK(has_empty(a, CKA_END_DATE));
	CHECK(has_bool(a, CKA_SENSITIVE, false));
	CHECK(has_bool(a, CKA_EXTRACTABLE, true));
	CHECK(has_bool(a, CKA_ENCRYPT, false));
	CHECK(has_bool(a, CKA_DECRYPT, false));
	CHECK(has_bool(a, CKA_SIGN, false));
	CHECK(has_bool(a, CKA_VERIFY, false));
	CHECK(has_bool(a, CKA_WRAP, false));
	CHECK(has_bool(a, CKA_UNWRAP, false));
	CHECK(has_bool(a, CKA_DERIVE, false));
	CHECK(has_bool(a, CKA_LOCAL, false));
	CHECK(has_ulong(a, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION));
	CHECK(has_bool(a, CKA_ALWAYS_SENSITIVE, false));
	CHECK(has_bool(a, CKA_NEVER_EXTRACTABLE, false));
	CHECK(has_bool(a, CKA_WRAP_WITH_TRUSTED, false));
	CHECK(has_bool(a, CKA_TRUSTED, false));
	CHECK(has_ulong(a, CKA_VALUE_LEN, 32)); /* computed */
	CHECK(ch_attrs_get(a, CKA_UNIQUE_ID) == NULL);
	CHECK(ch_attrs_get(a, CKA_ALLOWED_MECHANISMS) == NULL);
	CHECK(ch_object_class(a) == CKO_SECRET_KEY);
	CHECK(!ch_object_is_token(a));
	CHECK(ch_object_is_private(a));
	ch_attrs_free(a);
}

static void test_create_private_defaults_by_class(void)
{
	CK_ATTRIBUTE data[] = { A(CKA_CLASS, c_data) };
	CK_ATTRIBUTE pub[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_ec), AB(CKA_EC_PARAMS, p256),
		               AB(CKA_EC_POINT, point) };
	CK_ATTRIBUTE priv[] = { A(CKA_CLASS, c_priv), A(CKA_KEY_TYPE, k_ec),
		                AB(CKA_EC_PARAMS, p256), AB(CKA_VALUE, scalar) };
	ch_attrs *a = NULL;

	CHECK_RV(create(data, N(data), &user, &a), CKR_OK);
	CHECK(has_bool(a, CKA_PRIVATE, false));
	CHECK(has_empty(a, CKA_APPLICATION));
	CHECK(has_empty(a, CKA_OBJECT_ID));
	CHECK(has_empty(a, CKA_VALUE));
	CHECK(!ch_object_is_private(a));
	ch_attrs_free(a);

	CHECK_RV(create(pub, N(pub), &user, &a), CKR_OK);
	CHECK(has_bool(a, CKA_PRIVATE, false));
	CHECK(has_bool(a, CKA_VERIFY, false));
	CHECK(has_bool(a, CKA_TRUSTED, false));
	CHECK(ch_attrs_get(a, CKA_SENSITIVE) == NULL); /* not a public key attribute */
	ch_attrs_free(a);

	CHECK_RV(create(priv, N(priv), &user, &a), CKR_OK);
	CHECK(has_bool(a, CKA_PRIVATE, true));
	CHECK(has_bool(a, CKA_SIGN, false));
	CHECK(has_bool(a, CKA_ALWAYS_AUTHENTICATE, false));
	CHECK(has_bool(a, CKA_EXTRACTABLE, true));
	ch_attrs_free(a);
}

static void test_create_caller_values_override_defaults(void)
{
	CK_ATTRIBUTE extra[] = {
		A(CKA_TOKEN, yes),     A(CKA_PRIVATE, no),  A(CKA_ENCRYPT, yes),
		A(CKA_SENSITIVE, yes), AS(CKA_LABEL, "k1"), AS(CKA_ID, "\x01\x02")
	};
	ch_attrs *a = aes_key(extra, N(extra));

	if (a == NULL)
		return;
	CHECK(has_bool(a, CKA_TOKEN, true));
	CHECK(ch_object_is_token(a));
	CHECK(has_bool(a, CKA_PRIVATE, false));
	CHECK(has_bool(a, CKA_ENCRYPT, true));
	CHECK(has_bool(a, CKA_SENSITIVE, true));
	CHECK(ch_attrs_get(a, CKA_LABEL)->len == 2);
	CHECK(ch_attrs_get(a, CKA_ID)->len == 2);
	ch_attrs_free(a);
}

static void test_create_stores_booleans_normalised(void)
{
	CK_BBOOL odd = 0x5a;
	CK_ATTRIBUTE extra[] = { A(CKA_TOKEN, odd) };
	ch_attrs *a = aes_key(extra, N(extra));

	if (a == NULL)
		return;
	CHECK(has_bool(a, CKA_TOKEN, true));
	ch_attrs_free(a);
}

static void test_create_requires_class(void)
{
	CK_ATTRIBUTE t[] = { A(CKA_KEY_TYPE, k_aes), AB(CKA_VALUE, aes32) };
	ch_attrs *a = &not_set;

	CHECK_RV(create(t, N(t), &user, &a), CKR_TEMPLATE_INCOMPLETE);
	CHECK(a == NULL);
}

/* Footnote 1, for every class and key type family. */
static void test_create_requires_footnote_1_attributes(void)
{
	CK_ATTRIBUTE no_key_type[] = { A(CKA_CLASS, c_secret), AB(CKA_VALUE, aes32) };
	CK_ATTRIBUTE no_value[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_aes) };
	CK_ATTRIBUTE no_cert_type[] = { A(CKA_CLASS, c_cert), AS(CKA_SUBJECT, "s"),
		                        AS(CKA_VALUE, "v") };
	CK_ATTRIBUTE no_subject[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509),
		                      AS(CKA_VALUE, "v") };
	CK_ATTRIBUTE no_cert_value[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509),
		                         AS(CKA_SUBJECT, "s") };
	CK_ATTRIBUTE rsa_no_exp[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_rsa),
		                      AB(CKA_MODULUS, modulus) };
	CK_ATTRIBUTE rsa_no_mod[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_rsa),
		                      AB(CKA_PUBLIC_EXPONENT, pubexp) };
	CK_ATTRIBUTE rsa_priv_no_d[] = { A(CKA_CLASS, c_priv), A(CKA_KEY_TYPE, k_rsa),
		                         AB(CKA_MODULUS, modulus) };
	CK_ATTRIBUTE ec_pub_no_point[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_ec),
		                           AB(CKA_EC_PARAMS, p256) };
	CK_ATTRIBUTE ec_pub_no_params[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_ec),
		                            AB(CKA_EC_POINT, point) };
	CK_ATTRIBUTE ec_priv_no_value[] = { A(CKA_CLASS, c_priv), A(CKA_KEY_TYPE, k_ec),
		                            AB(CKA_EC_PARAMS, p256) };
	const struct {
		const CK_ATTRIBUTE *t;
		CK_ULONG n;
	} cases[] = {
		{ no_key_type, N(no_key_type) },
		{ no_value, N(no_value) },
		{ no_cert_type, N(no_cert_type) },
		{ no_subject, N(no_subject) },
		{ no_cert_value, N(no_cert_value) },
		{ rsa_no_exp, N(rsa_no_exp) },
		{ rsa_no_mod, N(rsa_no_mod) },
		{ rsa_priv_no_d, N(rsa_priv_no_d) },
		{ ec_pub_no_point, N(ec_pub_no_point) },
		{ ec_pub_no_params, N(ec_pub_no_params) },
		{ ec_priv_no_value, N(ec_priv_no_value) },
	};

	for (size_t i = 0; i < N(cases); i++) {
		ch_attrs *a = NULL;

		if (!CHECK_RV(create(cases[i].t, cases[i].n, &user, &a), CKR_TEMPLATE_INCOMPLETE))
			fprintf(stderr, "\tcase %zu\n", i);
		CHECK(a == NULL);
		ch_attrs_free(a);
	}
}

static void test_create_complete_objects_of_every_class(void)
{
	CK_ATTRIBUTE cert[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509),
		                AS(CKA_SUBJECT, "subject"), AS(CKA_VALUE, "der") };
	CK_ATTRIBUTE rsa_pub[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_rsa),
		                   AB(CKA_MODULUS, modulus), AB(CKA_PUBLIC_EXPONENT, pubexp) };
	CK_ATTRIBUTE rsa_priv[] = { A(CKA_CLASS, c_priv),
		                    A(CKA_KEY_TYPE, k_rsa),
		                    AB(CKA_MODULUS, modulus),
		                    AB(CKA_PRIVATE_EXPONENT, privexp),
		                    AB(CKA_PUBLIC_EXPONENT, pubexp),
		                    AB(CKA_PRIME_1, privexp),
		                    AB(CKA_PRIME_2, privexp),
		                    AB(CKA_EXPONENT_1, privexp),
		                    AB(CKA_EXPONENT_2, privexp),
		                    AB(CKA_COEFFICIENT, privexp) };
	CK_KEY_TYPE ed = CKK_EC_EDWARDS, mont = CKK_EC_MONTGOMERY;
	CK_ATTRIBUTE ed_priv[] = { A(CKA_CLASS, c_priv), A(CKA_KEY_TYPE, ed),
		                   AB(CKA_EC_PARAMS, p256), AB(CKA_VALUE, scalar) };
	CK_ATTRIBUTE mont_pub[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, mont),
		                    AB(CKA_EC_PARAMS, p256), AB(CKA_EC_POINT, point) };
	CK_ATTRIBUTE hmac[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_hmac),
		                AS(CKA_VALUE, "any length key") };
	CK_ATTRIBUTE chacha[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_chacha),
		                  AB(CKA_VALUE, aes32) };
	ch_attrs *a = NULL;

	CHECK_RV(create(cert, N(cert), &user, &a), CKR_OK);
	CHECK(has_ulong(a, CKA_CERTIFICATE_CATEGORY, CK_CERTIFICATE_CATEGORY_UNSPECIFIED));
	CHECK(has_bool(a, CKA_TRUSTED, false));
	CHECK(has_empty(a, CKA_ISSUER));
	CHECK(has_empty(a, CKA_SERIAL_NUMBER));
	CHECK(has_bool(a, CKA_PRIVATE, false));
	ch_attrs_free(a);

	CHECK_RV(create(rsa_pub, N(rsa_pub), &user, &a), CKR_OK);
	CHECK(has_ulong(a, CKA_MODULUS_BITS, 17)); /* computed from the modulus */
	ch_attrs_free(a);

	CHECK_RV(create(rsa_priv, N(rsa_priv), &user, &a), CKR_OK);
	CHECK(ch_attrs_get(a, CKA_COEFFICIENT) != NULL);
	CHECK(ch_attrs_get(a, CKA_MODULUS_BITS) == NULL);
	ch_attrs_free(a);

	CHECK_RV(create(ed_priv, N(ed_priv), &user, &a), CKR_OK);
	ch_attrs_free(a);
	CHECK_RV(create(mont_pub, N(mont_pub), &user, &a), CKR_OK);
	ch_attrs_free(a);
	CHECK_RV(create(hmac, N(hmac), &user, &a), CKR_OK);
	CHECK(has_ulong(a, CKA_VALUE_LEN, 14));
	ch_attrs_free(a);
	CHECK_RV(create(chacha, N(chacha), &user, &a), CKR_OK);
	ch_attrs_free(a);
}

/* Footnote 2, on attributes the token alone computes. */
static void test_create_rejects_local(void)
{
	CK_ATTRIBUTE extra[] = { A(CKA_LOCAL, yes) };
	ch_attrs *a = &not_set;

	CHECK_RV(create_aes(extra, N(extra), &user, &a), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(a == NULL);
}

static void test_create_rejects_computed_attributes(void)
{
	CK_ULONG mech = CKM_AES_KEY_GEN;
	CK_ATTRIBUTE cases[] = { A(CKA_KEY_GEN_MECHANISM, mech), A(CKA_ALWAYS_SENSITIVE, no),
		                 A(CKA_NEVER_EXTRACTABLE, no), AS(CKA_UNIQUE_ID, "1234") };

	for (size_t i = 0; i < N(cases); i++) {
		ch_attrs *a = NULL;

		CHECK_RV(create_aes(&cases[i], 1, &user, &a), CKR_ATTRIBUTE_READ_ONLY);
		ch_attrs_free(a);
	}
}

/* Footnote 2, on attributes another origin may give. */
static void test_create_rejects_value_len(void)
{
	CK_ULONG len = 32;
	CK_ATTRIBUTE extra[] = { A(CKA_VALUE_LEN, len) };
	ch_attrs *a = NULL;

	CHECK_RV(create_aes(extra, N(extra), &user, &a), CKR_TEMPLATE_INCONSISTENT);
	CHECK(a == NULL);
}

static void test_create_rejects_modulus_bits(void)
{
	CK_ULONG bits = 2048;
	CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_rsa), AB(CKA_MODULUS, modulus),
		             AB(CKA_PUBLIC_EXPONENT, pubexp), A(CKA_MODULUS_BITS, bits) };
	ch_attrs *a = NULL;

	CHECK_RV(create(t, N(t), &user, &a), CKR_TEMPLATE_INCONSISTENT);
	CHECK(a == NULL);
}

/* Footnote 10. */
static void test_trusted_only_so_may_set_true(void)
{
	CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509),
		             AS(CKA_SUBJECT, "s"), AS(CKA_VALUE, "v"), A(CKA_TRUSTED, yes) };
	CK_ATTRIBUTE untrust[] = { A(CKA_TRUSTED, no) };
	CK_ATTRIBUTE trust[] = { A(CKA_TRUSTED, yes) };
	ch_attrs *a = NULL, *b = NULL;

	CHECK_RV(create(t, N(t), &user, &a), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(a == NULL);
	CHECK_RV(create_aes(trust, 1, &user, &a), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(a == NULL);
	/* FALSE is anyone's to give. */
	t[4].pValue = &no;
	CHECK_RV(create(t, N(t), &user, &a), CKR_OK);
	ch_attrs_free(a);
	a = NULL;
	t[4].pValue = &yes;
	CHECK_RV(create(t, N(t), &so, &a), CKR_OK);
	if (!CHECK(a != NULL))
		return;
	CHECK(has_bool(a, CKA_TRUSTED, true));
	/* After creation, only the SO changes it, either way. */
	CHECK_RV(ch_object_set(a, untrust, 1, &user, &b), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(b == NULL);
	CHECK_RV(ch_object_set(a, untrust, 1, NULL, &b), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(ch_object_set(a, untrust, 1, &so, &b), CKR_OK);
	CHECK(has_bool(b, CKA_TRUSTED, false));
	ch_attrs_free(b);
	ch_attrs_free(a);
}

/* ---------------------------------------------------------------------- */
/* Creation: what is not allowed at all                                    */
/* ---------------------------------------------------------------------- */

static void test_create_rejects_unknown_and_foreign_types(void)
{
	CK_ULONG v = 1;
	CK_ATTRIBUTE unknown[] = { { 0x7777UL, &v, sizeof(v) } };
	CK_ATTRIBUTE vendor[] = { { CKA_VENDOR_DEFINED | 1, &v, sizeof(v) } };
	CK_ATTRIBUTE foreign[] = { AB(CKA_MODULUS, modulus) };      /* RSA, not AES */
	CK_ATTRIBUTE not_secret[] = { A(CKA_VERIFY_RECOVER, yes) }; /* public keys only */
	CK_ATTRIBUTE pub_sign[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_ec),
		                    AB(CKA_EC_PARAMS, p256), AB(CKA_EC_POINT, point),
		                    A(CKA_SIGN, yes) };
	CK_ATTRIBUTE data_key_type[] = { A(CKA_CLASS, c_data), A(CKA_KEY_TYPE, k_aes) };
	ch_attrs *a = NULL;

	CHECK_RV(create_aes(unknown, 1, &user, &a), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK_RV(create_aes(vendor, 1, &user, &a), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK_RV(create_aes(foreign, 1, &user, &a), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK_RV(create_aes(not_secret, 1, &user, &a), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK_RV(create(pub_sign, N(pub_sign), &user, &a), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK_RV(create(data_key_type, N(data_key_type), &user, &a), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK(a == NULL);
}

static void test_create_checks_value_sizes_and_forms(void)
{
	CK_BYTE two[2] = { 1, 0 };
	unsigned int small = 5;
	CK_BYTE bad_utf8[] = { 'a', 0xc0, 0x80 };   /* overlong NUL */
	CK_BYTE surrogate[] = { 0xed, 0xa0, 0x80 }; /* U+D800 */
	CK_BYTE cut_utf8[] = { 'a', 0xe2, 0x82 };   /* truncated */
	CK_ATTRIBUTE cases[] = {
		{ CKA_TOKEN, two, sizeof(two) }, /* bool of 2 bytes */
		{ CKA_SENSITIVE, NULL, 0 },      /* bool of 0 bytes */
		{ CKA_ID, NULL, 3 },             /* length without a value */
		AS(CKA_START_DATE, "2024131"),   /* 7 bytes */
		AS(CKA_START_DATE, "20241301"),  /* month 13 */
		AS(CKA_END_DATE, "2024x101"),    /* not digits */
		AS(CKA_END_DATE, "20240100"),    /* day 0 */
		AB(CKA_LABEL, bad_utf8),         /* not UTF-8 */
		AB(CKA_LABEL, surrogate),
		AB(CKA_LABEL, cut_utf8),
		AS(CKA_ALLOWED_MECHANISMS, "abc"), /* not whole CK_ULONGs */
	};

	for (size_t i = 0; i < N(cases); i++) {
		ch_attrs *a = NULL;

		if (!CHECK_RV(create_aes(&cases[i], 1, &user, &a), CKR_ATTRIBUTE_VALUE_INVALID))
			fprintf(stderr, "\tcase %zu\n", i);
		CHECK(a == NULL);
		ch_attrs_free(a);
	}
	if (sizeof(small) != sizeof(CK_ULONG)) {
		CK_ATTRIBUTE t[] = { { CKA_CLASS, &small, sizeof(small) },
			             A(CKA_KEY_TYPE, k_aes),
			             AB(CKA_VALUE, aes32) };
		ch_attrs *a = NULL;

		CHECK_RV(create(t, N(t), &user, &a), CKR_ATTRIBUTE_VALUE_INVALID);
		CHECK(a == NULL);
	}
	{
		/* Good forms pass: a date, UTF-8 beyond ASCII, a mechanism list. */
		CK_MECHANISM_TYPE mechs[] = { CKM_AES_GCM, CKM_AES_KEY_WRAP };
		CK_ATTRIBUTE good[] = { AS(CKA_START_DATE, "20240229"),
			                AS(CKA_LABEL, "cl\xc3\xa9 \xf0\x9f\x94\x91"),
			                AB(CKA_ALLOWED_MECHANISMS, mechs) };
		ch_attrs *a = aes_key(good, N(good));

		CHECK(a != NULL && ch_attrs_get(a, CKA_ALLOWED_MECHANISMS)->len == sizeof(mechs));
		ch_attrs_free(a);
	}
}

static void test_create_rejects_unknown_class_key_and_certificate_type(void)
{
	CK_OBJECT_CLASS mech_class = CKO_MECHANISM;
	CK_KEY_TYPE des3 = CKK_DES3;
	CK_CERTIFICATE_TYPE wtls = CKC_WTLS;
	CK_ATTRIBUTE bad_class[] = { A(CKA_CLASS, mech_class) };
	CK_ATTRIBUTE bad_kt[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, des3),
		                  AB(CKA_VALUE, aes32) };
	CK_ATTRIBUTE bad_cert[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, wtls),
		                    AS(CKA_SUBJECT, "s"), AS(CKA_VALUE, "v") };
	ch_attrs *a = NULL;

	CHECK_RV(create(bad_class, N(bad_class), &user, &a), CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK_RV(create(bad_kt, N(bad_kt), &user, &a), CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK_RV(create(bad_cert, N(bad_cert), &user, &a), CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK(a == NULL);
}

static void test_create_rejects_key_type_of_another_class(void)
{
	CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_aes), AB(CKA_VALUE, aes32) };
	CK_ATTRIBUTE u[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_rsa), AB(CKA_VALUE, aes32) };
	ch_attrs *a = NULL;

	CHECK_RV(create(t, N(t), &user, &a), CKR_TEMPLATE_INCONSISTENT);
	CHECK_RV(create(u, N(u), &user, &a), CKR_TEMPLATE_INCONSISTENT);
	CHECK(a == NULL);
}

static void test_create_rejects_duplicate_attribute(void)
{
	CK_ATTRIBUTE extra[] = { A(CKA_ENCRYPT, yes), A(CKA_ENCRYPT, no) };
	ch_attrs *a = NULL;

	CHECK_RV(create_aes(extra, N(extra), &user, &a), CKR_TEMPLATE_INCONSISTENT);
	CHECK(a == NULL);
}

static void test_aes_value_length_checked(void)
{
	static const CK_ULONG lens[] = { 0, 1, 15, 17, 20, 31, 33, 64 };
	CK_BYTE buf[64] = { 0 };

	for (size_t i = 0; i < N(lens); i++) {
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret),
			             A(CKA_KEY_TYPE, k_aes),
			             { CKA_VALUE, buf, lens[i] } };
		ch_attrs *a = NULL;

		if (!CHECK_RV(create(t, N(t), &user, &a), CKR_ATTRIBUTE_VALUE_INVALID))
			fprintf(stderr, "\tlength %lu\n", lens[i]);
		CHECK(a == NULL);
	}
	for (CK_ULONG len = 16; len <= 32; len += 8) {
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret),
			             A(CKA_KEY_TYPE, k_aes),
			             { CKA_VALUE, buf, len } };
		ch_attrs *a = NULL;

		CHECK_RV(create(t, N(t), &user, &a), CKR_OK);
		CHECK(has_ulong(a, CKA_VALUE_LEN, len));
		ch_attrs_free(a);
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret),
			             A(CKA_KEY_TYPE, k_chacha),
			             { CKA_VALUE, buf, 16 } };
		ch_attrs *a = NULL;

		CHECK_RV(create(t, N(t), &user, &a), CKR_ATTRIBUTE_VALUE_INVALID);
	}
}

static void test_certificate_category_range_checked(void)
{
	CK_ULONG cat = 4;
	CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509),
		             AS(CKA_SUBJECT, "s"), AS(CKA_VALUE, "v"),
		             A(CKA_CERTIFICATE_CATEGORY, cat) };
	ch_attrs *a = NULL;

	CHECK_RV(create(t, N(t), &user, &a), CKR_ATTRIBUTE_VALUE_INVALID);
	cat = CK_CERTIFICATE_CATEGORY_AUTHORITY;
	CHECK_RV(create(t, N(t), &user, &a), CKR_OK);
	CHECK(has_ulong(a, CKA_CERTIFICATE_CATEGORY, CK_CERTIFICATE_CATEGORY_AUTHORITY));
	ch_attrs_free(a);
}

/* ---------------------------------------------------------------------- */
/* Generate, unwrap, derive: footnotes 3-6, finish                         */
/* ---------------------------------------------------------------------- */

/* Footnote 3. */
static void test_generate_requires_footnote_3_attributes(void)
{
	CK_ATTRIBUTE none[] = { A(CKA_ENCRYPT, yes) };
	CK_ATTRIBUTE ec_pub[] = { A(CKA_VERIFY, yes) };
	ch_attrs *a = NULL;

	CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_AES, none, N(none), &user,
	                         &a),
	         CKR_TEMPLATE_INCOMPLETE);
	CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_GENERIC_SECRET, none,
	                         N(none), &user, &a),
	         CKR_TEMPLATE_INCOMPLETE);
	CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_PUBLIC_KEY, CKK_EC, ec_pub, N(ec_pub),
	                         &user, &a),
	         CKR_TEMPLATE_INCOMPLETE);
	CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_PUBLIC_KEY, CKK_RSA, ec_pub, N(ec_pub),
	                         &user, &a),
	         CKR_TEMPLATE_INCOMPLETE);
	CHECK(a == NULL);
	/* ChaCha20 has one key size: no length needed. */
	CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_CHACHA20, none, N(none),
	                         &user, &a),
	         CKR_OK);
	ch_attrs_free(a);
}

/* Footnote 4. */
static void test_generate_rejects_footnote_4_attributes(void)
{
	CK_ULONG len = 32;
	CK_ATTRIBUTE value[] = { A(CKA_VALUE_LEN, len), AB(CKA_VALUE, aes32) };
	CK_ATTRIBUTE ec_priv[] = { AB(CKA_EC_PARAMS, p256) };
	CK_ATTRIBUTE ec_pub[] = { AB(CKA_EC_PARAMS, p256), AB(CKA_EC_POINT, point) };
	CK_ATTRIBUTE rsa_pub[] = { A(CKA_MODULUS_BITS, len), AB(CKA_MODULUS, modulus) };
	ch_attrs *a = NULL;

	CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_AES, value, N(value),
	                         &user, &a),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_PRIVATE_KEY, CKK_EC, ec_priv, N(ec_priv),
	                         &user, &a),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_PUBLIC_KEY, CKK_EC, ec_pub, N(ec_pub),
	                         &user, &a),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_PUBLIC_KEY, CKK_RSA, rsa_pub, N(rsa_pub),
	                         &user, &a),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK(a == NULL);
}

static void test_generate_rejects_other_class_or_key_type(void)
{
	CK_ULONG len = 32;
	CK_ATTRIBUTE other_kt[] = { A(CKA_VALUE_LEN, len), A(CKA_KEY_TYPE, k_generic) };
	CK_ATTRIBUTE other_class[] = { A(CKA_VALUE_LEN, len), A(CKA_CLASS, c_priv) };
	CK_ATTRIBUTE same[] = { A(CKA_VALUE_LEN, len), A(CKA_CLASS, c_secret),
		                A(CKA_KEY_TYPE, k_aes) };
	CK_ATTRIBUTE data[] = { A(CKA_CLASS, c_data) };
	ch_attrs *a = NULL;

	CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_AES, other_kt, N(other_kt),
	                         &user, &a),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_AES, other_class,
	                         N(other_class), &user, &a),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK_RV(ch_object_build(CH_ORIGIN_UNWRAP, CK_UNAVAILABLE_INFORMATION,
	                         CK_UNAVAILABLE_INFORMATION, data, N(data), &user, &a),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK(a == NULL);
	CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_AES, same, N(same), &user,
	                         &a),
	         CKR_OK);
	ch_attrs_free(a);
}

static void test_finish_generate_sets_local_and_lifelong_flags(void)
{
	CK_ULONG len = 16;
	CK_ATTRIBUTE t[] = { A(CKA_VALUE_LEN, len), A(CKA_SENSITIVE, yes), A(CKA_EXTRACTABLE, no),
		             A(CKA_ENCRYPT, yes) };
	ch_attrs *a = NULL;

	if (!CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_AES, t, N(t), &user,
	                              &a),
	              CKR_OK))
		return;
	CHECK(has_bool(a, CKA_LOCAL, false));                    /* not finished yet */
	CHECK_RV(ch_attrs_set(a, CKA_VALUE, aes32, 16), CKR_OK); /* the mechanism's part */
	CHECK_RV(ch_object_finish(CH_ORIGIN_GENERATE, CKM_AES_KEY_GEN, a), CKR_OK);
	CHECK(has_bool(a, CKA_LOCAL, true));
	CHECK(has_ulong(a, CKA_KEY_GEN_MECHANISM, CKM_AES_KEY_GEN));
	CHECK(has_bool(a, CKA_ALWAYS_SENSITIVE, true));
	CHECK(has_bool(a, CKA_NEVER_EXTRACTABLE, true));
	CHECK(has_ulong(a, CKA_VALUE_LEN, 16));
	CHECK(has_bool(a, CKA_ENCRYPT, true));
	ch_attrs_free(a);

	/* Generated but neither sensitive nor unextractable. */
	CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_AES, t, 1, &user, &a),
	         CKR_OK);
	CHECK_RV(ch_attrs_set(a, CKA_VALUE, aes32, 16), CKR_OK);
	CHECK_RV(ch_object_finish(CH_ORIGIN_GENERATE, CKM_AES_KEY_GEN, a), CKR_OK);
	CHECK(has_bool(a, CKA_ALWAYS_SENSITIVE, false));
	CHECK(has_bool(a, CKA_NEVER_EXTRACTABLE, false));
	ch_attrs_free(a);
}

static void test_finish_key_pair_from_generate(void)
{
	CK_ULONG bits = 2048;
	CK_ATTRIBUTE pub_t[] = { A(CKA_MODULUS_BITS, bits), A(CKA_VERIFY, yes) };
	CK_ATTRIBUTE priv_t[] = { A(CKA_SIGN, yes), A(CKA_SENSITIVE, yes) };
	ch_attrs *pub = NULL, *priv = NULL;

	CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_PUBLIC_KEY, CKK_RSA, pub_t, N(pub_t),
	                         &user, &pub),
	         CKR_OK);
	CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_PRIVATE_KEY, CKK_RSA, priv_t, N(priv_t),
	                         &user, &priv),
	         CKR_OK);
	if (!CHECK(pub != NULL && priv != NULL))
		goto out;
	/* Material missing: incomplete, and nothing changes. */
	CHECK_RV(ch_object_finish(CH_ORIGIN_GENERATE, CKM_RSA_PKCS_KEY_PAIR_GEN, pub),
	         CKR_TEMPLATE_INCOMPLETE);
	CHECK(has_bool(pub, CKA_LOCAL, false));
	CHECK_RV(ch_attrs_set(pub, CKA_MODULUS, modulus, sizeof(modulus)), CKR_OK);
	CHECK_RV(ch_attrs_set(pub, CKA_PUBLIC_EXPONENT, pubexp, sizeof(pubexp)), CKR_OK);
	CHECK_RV(ch_attrs_set(priv, CKA_MODULUS, modulus, sizeof(modulus)), CKR_OK);
	CHECK_RV(ch_attrs_set(priv, CKA_PRIVATE_EXPONENT, privexp, sizeof(privexp)), CKR_OK);
	CHECK_RV(ch_object_finish(CH_ORIGIN_GENERATE, CKM_RSA_PKCS_KEY_PAIR_GEN, pub), CKR_OK);
	CHECK_RV(ch_object_finish(CH_ORIGIN_GENERATE, CKM_RSA_PKCS_KEY_PAIR_GEN, priv), CKR_OK);
	CHECK(has_bool(pub, CKA_LOCAL, true));
	CHECK(has_ulong(pub, CKA_MODULUS_BITS, 17)); /* what the modulus really has */
	CHECK(ch_attrs_get(pub, CKA_ALWAYS_SENSITIVE) == NULL);
	CHECK(has_bool(priv, CKA_LOCAL, true));
	CHECK(has_ulong(priv, CKA_KEY_GEN_MECHANISM, CKM_RSA_PKCS_KEY_PAIR_GEN));
	CHECK(has_bool(priv, CKA_ALWAYS_SENSITIVE, true));
	CHECK(has_bool(priv, CKA_NEVER_EXTRACTABLE, false));
out:
	ch_attrs_free(pub);
	ch_attrs_free(priv);
}

static void test_finish_rejects_wrong_material(void)
{
	CK_ULONG len = 16;
	CK_ATTRIBUTE t[] = { A(CKA_VALUE_LEN, len) };
	ch_attrs *a = NULL;
	size_t n_before;

	if (!CHECK_RV(ch_object_build(CH_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_AES, t, N(t), &user,
	                              &a),
	              CKR_OK))
		return;
	CHECK_RV(ch_attrs_set(a, CKA_VALUE, aes32, 32), CKR_OK);
	n_before = a->n;
	CHECK_RV(ch_object_finish(CH_ORIGIN_GENERATE, CKM_AES_KEY_GEN, a),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK(has_ulong(a, CKA_VALUE_LEN, 16) && has_bool(a, CKA_LOCAL, false));
	CHECK_UL(a->n, n_before);
	ch_attrs_remove(a, CKA_VALUE_LEN);
	CHECK_RV(ch_attrs_set(a, CKA_VALUE, aes32, 20), CKR_OK);
	CHECK_RV(ch_object_finish(CH_ORIGIN_UNWRAP, CK_UNAVAILABLE_INFORMATION, a),
	         CKR_ATTRIBUTE_VALUE_INVALID);
	ch_attrs_free(a);
}

/* Footnotes 5 and 6. */
static void test_unwrap_requires_key_type_and_rejects_footnote_6(void)
{
	CK_ULONG len = 32;
	CK_ATTRIBUTE no_kt[] = { A(CKA_CLASS, c_secret) };
	CK_ATTRIBUTE no_class[] = { A(CKA_KEY_TYPE, k_aes) };
	CK_ATTRIBUTE with_len[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_aes),
		                    A(CKA_VALUE_LEN, len) };
	CK_ATTRIBUTE with_value[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_aes),
		                      AB(CKA_VALUE, aes32) };
	CK_ATTRIBUTE rsa_mod[] = { A(CKA_CLASS, c_priv), A(CKA_KEY_TYPE, k_rsa),
		                   AB(CKA_MODULUS, modulus) };
	CK_ATTRIBUTE good[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_aes),
		                A(CKA_SENSITIVE, yes), A(CKA_EXTRACTABLE, no) };
	ch_attrs *a = NULL;

	CHECK_RV(ch_object_build(CH_ORIGIN_UNWRAP, CK_UNAVAILABLE_INFORMATION,
	                         CK_UNAVAILABLE_INFORMATION, no_kt, N(no_kt), &user, &a),
	         CKR_TEMPLATE_INCOMPLETE);
	CHECK_RV(ch_object_build(CH_ORIGIN_UNWRAP, CK_UNAVAILABLE_INFORMATION,
	                         CK_UNAVAILABLE_INFORMATION, no_class, N(no_class), &user, &a),
	         CKR_TEMPLATE_INCOMPLETE);
	CHECK_RV(ch_object_build(CH_ORIGIN_UNWRAP, CK_UNAVAILABLE_INFORMATION,
	                         CK_UNAVAILABLE_INFORMATION, with_len, N(with_len), &user, &a),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK_RV(ch_object_build(CH_ORIGIN_UNWRAP, CK_UNAVAILABLE_INFORMATION,
	                         CK_UNAVAILABLE_INFORMATION, with_value, N(with_value), &user, &a),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK_RV(ch_object_build(CH_ORIGIN_UNWRAP, CK_UNAVAILABLE_INFORMATION,
	                         CK_UNAVAILABLE_INFORMATION, rsa_mod, N(rsa_mod), &user, &a),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK(a == NULL);

	CHECK_RV(ch_object_build(CH_ORIGIN_UNWRAP, CK_UNAVAILABLE_INFORMATION,
	                         CK_UNAVAILABLE_INFORMATION, good, N(good), &user, &a),
	         CKR_OK);
	if (!CHECK(a != NULL))
		return;
	CHECK_RV(ch_attrs_set(a, CKA_VALUE, aes32, 24), CKR_OK);
	CHECK_RV(ch_object_finish(CH_ORIGIN_UNWRAP, CK_UNAVAILABLE_INFORMATION, a), CKR_OK);
	/* Unwrapped keys were outside the token: never "always" anything. */
	CHECK(has_bool(a, CKA_LOCAL, false));
	CHECK(has_ulong(a, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION));
	CHECK(has_bool(a, CKA_ALWAYS_SENSITIVE, false));
	CHECK(has_bool(a, CKA_NEVER_EXTRACTABLE, false));
	CHECK(has_ulong(a, CKA_VALUE_LEN, 24));
	ch_attrs_free(a);
}

static void test_derive_allows_value_len_but_not_value(void)
{
	CK_ULONG len = 16;
	CK_ATTRIBUTE with_len[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_generic),
		                    A(CKA_VALUE_LEN, len) };
	CK_ATTRIBUTE with_value[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_generic),
		                      AB(CKA_VALUE, aes32) };
	ch_attrs *a = NULL;

	CHECK_RV(ch_object_build(CH_ORIGIN_DERIVE, CKO_SECRET_KEY, CK_UNAVAILABLE_INFORMATION,
	                         with_value, N(with_value), &user, &a),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK_RV(ch_object_build(CH_ORIGIN_DERIVE, CKO_SECRET_KEY, CK_UNAVAILABLE_INFORMATION,
	                         with_len, N(with_len), &user, &a),
	         CKR_OK);
	if (!CHECK(a != NULL))
		return;
	CHECK_RV(ch_attrs_set(a, CKA_VALUE, aes32, 16), CKR_OK);
	CHECK_RV(ch_object_finish(CH_ORIGIN_DERIVE, CKM_ECDH1_DERIVE, a), CKR_OK);
	CHECK(has_bool(a, CKA_LOCAL, false));
	CHECK(has_ulong(a, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION));
	ch_attrs_free(a);
}

/* ---------------------------------------------------------------------- */
/* C_SetAttributeValue: footnotes 8, 11, 12                                */
/* ---------------------------------------------------------------------- */

/* Footnote 8. */
static void test_set_changes_modifiable_attributes(void)
{
	CK_ATTRIBUTE t[] = { AS(CKA_LABEL, "renamed"), A(CKA_ENCRYPT, yes),
		             AS(CKA_END_DATE, "20301231") };
	ch_attrs *a = aes_key(NULL, 0), *b = NULL;

	if (a == NULL)
		return;
	CHECK_RV(ch_object_set(a, t, N(t), &user, &b), CKR_OK);
	if (CHECK(b != NULL)) {
		CHECK(ch_attrs_get(b, CKA_LABEL)->len == 7);
		CHECK(has_bool(b, CKA_ENCRYPT, true));
		CHECK(ch_attrs_get(b, CKA_END_DATE)->len == 8);
	}
	/* cur untouched. */
	CHECK(has_empty(a, CKA_LABEL));
	CHECK(has_bool(a, CKA_ENCRYPT, false));
	ch_attrs_free(a);
	ch_attrs_free(b);
}

static void test_set_rejects_attributes_without_footnote_8(void)
{
	CK_ULONG len = 16, kt = CKK_GENERIC_SECRET, cls = CKO_DATA;
	CK_ATTRIBUTE cases[] = {
		AB(CKA_VALUE, aes32),  A(CKA_VALUE_LEN, len), A(CKA_KEY_TYPE, kt),
		A(CKA_CLASS, cls),     A(CKA_TOKEN, yes),     A(CKA_PRIVATE, no),
		A(CKA_MODIFIABLE, no), A(CKA_LOCAL, yes),     A(CKA_ALWAYS_SENSITIVE, yes),
		AS(CKA_UNIQUE_ID, "x")
	};
	ch_attrs *a = aes_key(NULL, 0);

	if (a == NULL)
		return;
	for (size_t i = 0; i < N(cases); i++) {
		ch_attrs *b = &not_set;

		if (!CHECK_RV(ch_object_set(a, &cases[i], 1, &user, &b), CKR_ATTRIBUTE_READ_ONLY))
			fprintf(stderr, "\tcase %zu\n", i);
		CHECK(b == NULL);
	}
	ch_attrs_free(a);
}

static void test_set_rejects_type_invalid_for_class(void)
{
	CK_ATTRIBUTE t[] = { A(CKA_VERIFY_RECOVER, yes) };
	CK_ATTRIBUTE v[] = { { CKA_VENDOR_DEFINED, &yes, 1 } };
	ch_attrs *a = aes_key(NULL, 0), *b = NULL;

	if (a == NULL)
		return;
	CHECK_RV(ch_object_set(a, t, 1, &user, &b), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK_RV(ch_object_set(a, v, 1, &user, &b), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK(b == NULL);
	ch_attrs_free(a);
}

static void test_set_checks_values(void)
{
	CK_BYTE two[2] = { 0, 0 };
	CK_ATTRIBUTE t[] = { { CKA_ENCRYPT, two, 2 } };
	CK_ATTRIBUTE dup[] = { A(CKA_ENCRYPT, yes), A(CKA_ENCRYPT, yes) };
	ch_attrs *a = aes_key(NULL, 0), *b = NULL;

	if (a == NULL)
		return;
	CHECK_RV(ch_object_set(a, t, 1, &user, &b), CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK_RV(ch_object_set(a, dup, 2, &user, &b), CKR_TEMPLATE_INCONSISTENT);
	CHECK(b == NULL);
	ch_attrs_free(a);
}

static void test_set_is_all_or_nothing(void)
{
	CK_ATTRIBUTE t[] = { AS(CKA_LABEL, "new"), A(CKA_SIGN, yes), AB(CKA_VALUE, aes32) };
	ch_attrs *a = aes_key(NULL, 0), *b = &not_set;

	if (a == NULL)
		return;
	CHECK_RV(ch_object_set(a, t, N(t), &user, &b), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(b == NULL);
	CHECK(has_empty(a, CKA_LABEL));
	CHECK(has_bool(a, CKA_SIGN, false));
	ch_attrs_free(a);
}

static void test_set_prohibited_when_not_modifiable(void)
{
	CK_ATTRIBUTE extra[] = { A(CKA_MODIFIABLE, no) };
	CK_ATTRIBUTE t[] = { AS(CKA_LABEL, "x") };
	ch_attrs *a = aes_key(extra, 1), *b = NULL;

	if (a == NULL)
		return;
	CHECK_RV(ch_object_set(a, t, 1, &user, &b), CKR_ACTION_PROHIBITED);
	CHECK_RV(ch_object_set(a, t, 1, &so, &b), CKR_ACTION_PROHIBITED);
	CHECK(b == NULL);
	ch_attrs_free(a);
}

/* Footnote 11. */
static void test_object_sensitive_cannot_be_unset(void)
{
	CK_ATTRIBUTE on[] = { A(CKA_SENSITIVE, yes) };
	CK_ATTRIBUTE off[] = { A(CKA_SENSITIVE, no) };
	ch_attrs *a = aes_key(NULL, 0), *b = NULL, *c = NULL;

	if (a == NULL)
		return;
	CHECK_RV(ch_object_set(a, on, 1, &user, &b), CKR_OK);
	if (!CHECK(b != NULL))
		goto out;
	CHECK(has_bool(b, CKA_SENSITIVE, true));
	/* Raising it later does not make it "always" sensitive. */
	CHECK(has_bool(b, CKA_ALWAYS_SENSITIVE, false));
	CHECK_RV(ch_object_set(b, off, 1, &user, &c), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(ch_object_set(b, off, 1, &so, &c), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(c == NULL);
	/* Restating TRUE is no change. */
	CHECK_RV(ch_object_set(b, on, 1, &user, &c), CKR_OK);
out:
	ch_attrs_free(a);
	ch_attrs_free(b);
	ch_attrs_free(c);
}

static void test_wrap_with_trusted_cannot_be_unset(void)
{
	CK_ATTRIBUTE on[] = { A(CKA_WRAP_WITH_TRUSTED, yes) };
	CK_ATTRIBUTE off[] = { A(CKA_WRAP_WITH_TRUSTED, no) };
	ch_attrs *a = aes_key(NULL, 0), *b = NULL, *c = NULL;

	if (a == NULL)
		return;
	CHECK_RV(ch_object_set(a, on, 1, &user, &b), CKR_OK);
	CHECK(has_bool(b, CKA_WRAP_WITH_TRUSTED, true));
	CHECK_RV(ch_object_set(b, off, 1, &user, &c), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(c == NULL);
	ch_attrs_free(a);
	ch_attrs_free(b);
}

/* Footnote 12. */
static void test_extractable_cannot_be_restored(void)
{
	CK_ATTRIBUTE off[] = { A(CKA_EXTRACTABLE, no) };
	CK_ATTRIBUTE on[] = { A(CKA_EXTRACTABLE, yes) };
	ch_attrs *a = aes_key(NULL, 0), *b = NULL, *c = NULL;

	if (a == NULL)
		return;
	CHECK_RV(ch_object_set(a, off, 1, &user, &b), CKR_OK);
	CHECK(has_bool(b, CKA_EXTRACTABLE, false));
	CHECK(has_bool(b, CKA_NEVER_EXTRACTABLE, false));
	CHECK_RV(ch_object_set(b, on, 1, &user, &c), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(c == NULL);
	ch_attrs_free(a);
	ch_attrs_free(b);
}

static void test_copyable_and_destroyable_only_tighten(void)
{
	CK_ATTRIBUTE off[] = { A(CKA_COPYABLE, no), A(CKA_DESTROYABLE, no) };
	CK_ATTRIBUTE on_c[] = { A(CKA_COPYABLE, yes) };
	CK_ATTRIBUTE on_d[] = { A(CKA_DESTROYABLE, yes) };
	ch_attrs *a = aes_key(NULL, 0), *b = NULL, *c = NULL;

	if (a == NULL)
		return;
	CHECK_RV(ch_object_set(a, off, 2, &user, &b), CKR_OK);
	CHECK(has_bool(b, CKA_COPYABLE, false) && has_bool(b, CKA_DESTROYABLE, false));
	CHECK_RV(ch_object_set(b, on_c, 1, &so, &c), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(ch_object_set(b, on_d, 1, &so, &c), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(c == NULL);
	ch_attrs_free(a);
	ch_attrs_free(b);
}

static void test_certificate_only_id_issuer_serial_change(void)
{
	CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509),
		             AS(CKA_SUBJECT, "s"), AS(CKA_VALUE, "v") };
	CK_ATTRIBUTE ok[] = { AS(CKA_ID, "id"), AS(CKA_ISSUER, "i"), AS(CKA_SERIAL_NUMBER, "1"),
		              AS(CKA_LABEL, "l") };
	CK_ATTRIBUTE subject[] = { AS(CKA_SUBJECT, "other") };
	CK_ATTRIBUTE value[] = { AS(CKA_VALUE, "other") };
	ch_attrs *a = NULL, *b = NULL;

	if (!CHECK_RV(create(t, N(t), &user, &a), CKR_OK))
		return;
	CHECK_RV(ch_object_set(a, ok, N(ok), &user, &b), CKR_OK);
	ch_attrs_free(b);
	b = NULL;
	CHECK_RV(ch_object_set(a, subject, 1, &user, &b), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(ch_object_set(a, value, 1, &user, &b), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(b == NULL);
	ch_attrs_free(a);
}

static void test_data_object_value_may_change(void)
{
	CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_data), AS(CKA_VALUE, "v1"),
		             AS(CKA_APPLICATION, "app") };
	CK_ATTRIBUTE u[] = { AS(CKA_VALUE, "v2 longer") };
	ch_attrs *a = NULL, *b = NULL;

	if (!CHECK_RV(create(t, N(t), &user, &a), CKR_OK))
		return;
	CHECK_RV(ch_object_set(a, u, 1, &user, &b), CKR_OK);
	CHECK(b != NULL && ch_attrs_get(b, CKA_VALUE)->len == 9);
	CHECK(!ch_object_attr_is_secret(b, CKA_VALUE));
	ch_attrs_free(a);
	ch_attrs_free(b);
}

/* ---------------------------------------------------------------------- */
/* C_CopyObject, C_DestroyObject                                           */
/* ---------------------------------------------------------------------- */

static void test_copy_respects_copyable(void)
{
	CK_ATTRIBUTE extra[] = { A(CKA_COPYABLE, no) };
	ch_attrs *a = aes_key(extra, 1), *b = &not_set;

	if (a == NULL)
		return;
	CHECK_RV(ch_object_copy(a, NULL, 0, &user, &b), CKR_ACTION_PROHIBITED);
	CHECK(b == NULL);
	CHECK_RV(ch_object_copy(a, NULL, 0, &so, &b), CKR_ACTION_PROHIBITED);
	ch_attrs_free(a);
}

static void test_copy_may_change_token_and_private(void)
{
	CK_ATTRIBUTE t[] = { A(CKA_TOKEN, yes), A(CKA_PRIVATE, no), AS(CKA_LABEL, "copy") };
	ch_attrs *a = aes_key(NULL, 0), *b = NULL;

	if (a == NULL)
		return;
	CHECK_RV(ch_attrs_set(a, CKA_UNIQUE_ID, "0123", 4), CKR_OK); /* as the store would */
	CHECK_RV(ch_object_copy(a, t, N(t), &user, &b), CKR_OK);
	if (CHECK(b != NULL)) {
		CHECK(has_bool(b, CKA_TOKEN, true));
		CHECK(has_bool(b, CKA_PRIVATE, false));
		CHECK(ch_attrs_get(b, CKA_LABEL)->len == 4);
		CHECK(ch_attrs_get(b, CKA_UNIQUE_ID) == NULL);
		CHECK(ch_attrs_get(b, CKA_VALUE)->len == 32);
	}
	CHECK(ch_attrs_get(a, CKA_UNIQUE_ID) != NULL);
	CHECK(has_bool(a, CKA_TOKEN, false));
	ch_attrs_free(a);
	ch_attrs_free(b);
}

static void test_copy_modifiable_only_true_to_false(void)
{
	CK_ATTRIBUTE freeze[] = { A(CKA_MODIFIABLE, no) };
	CK_ATTRIBUTE thaw[] = { A(CKA_MODIFIABLE, yes) };
	ch_attrs *a = aes_key(NULL, 0), *b = NULL, *c = NULL;

	if (a == NULL)
		return;
	CHECK_RV(ch_object_copy(a, freeze, 1, &user, &b), CKR_OK);
	CHECK(has_bool(b, CKA_MODIFIABLE, false));
	CHECK_RV(ch_object_copy(b, thaw, 1, &user, &c), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(c == NULL);
	CHECK_RV(ch_object_copy(b, freeze, 1, &user, &c), CKR_OK);
	ch_attrs_free(c);
	c = NULL;
	ch_attrs_free(a);
	ch_attrs_free(b);
}

static void test_copy_of_unmodifiable_keeps_everything_else(void)
{
	CK_ATTRIBUTE extra[] = { A(CKA_MODIFIABLE, no) };
	CK_ATTRIBUTE usage[] = { A(CKA_ENCRYPT, yes) };
	CK_ATTRIBUTE where[] = { A(CKA_TOKEN, yes), A(CKA_PRIVATE, yes) };
	ch_attrs *a = aes_key(extra, 1), *b = NULL;

	if (a == NULL)
		return;
	CHECK_RV(ch_object_copy(a, usage, 1, &user, &b), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(b == NULL);
	CHECK_RV(ch_object_copy(a, where, 2, &user, &b), CKR_OK);
	CHECK(has_bool(b, CKA_TOKEN, true) && has_bool(b, CKA_MODIFIABLE, false));
	ch_attrs_free(a);
	ch_attrs_free(b);
}

static void test_copy_keeps_one_way_flags(void)
{
	CK_ATTRIBUTE extra[] = { A(CKA_SENSITIVE, yes), A(CKA_EXTRACTABLE, no) };
	CK_ATTRIBUTE unsens[] = { A(CKA_SENSITIVE, no) };
	CK_ATTRIBUTE extr[] = { A(CKA_EXTRACTABLE, yes) };
	CK_ATTRIBUTE local[] = { A(CKA_LOCAL, yes) };
	ch_attrs *a = aes_key(extra, 2), *b = NULL;

	if (a == NULL)
		return;
	CHECK_RV(ch_object_copy(a, unsens, 1, &user, &b), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(ch_object_copy(a, extr, 1, &user, &b), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(ch_object_copy(a, local, 1, &user, &b), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(b == NULL);
	ch_attrs_free(a);
}

static void test_destroy_respects_destroyable(void)
{
	CK_ATTRIBUTE extra[] = { A(CKA_DESTROYABLE, no) };
	ch_attrs *a = aes_key(NULL, 0), *b = aes_key(extra, 1);

	CHECK_RV(ch_object_may_destroy(a), CKR_OK);
	CHECK_RV(ch_object_may_destroy(b), CKR_ACTION_PROHIBITED);
	ch_attrs_free(a);
	ch_attrs_free(b);
}

/* ---------------------------------------------------------------------- */
/* C_GetAttributeValue: footnote 7 and the five steps                      */
/* ---------------------------------------------------------------------- */

static void test_secret_value_hidden_when_sensitive(void)
{
	CK_ATTRIBUTE extra[] = { A(CKA_SENSITIVE, yes) };
	ch_attrs *a = aes_key(extra, 1);
	CK_BYTE buf[64];
	CK_ATTRIBUTE t[] = { { CKA_VALUE, buf, sizeof(buf) } };

	if (a == NULL)
		return;
	memset(buf, 0xee, sizeof(buf));
	CHECK_RV(ch_object_get(a, t, 1), CKR_ATTRIBUTE_SENSITIVE);
	CHECK_UL(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CHECK(buf[0] == 0xee && buf[31] == 0xee);
	t[0].pValue = NULL;
	CHECK_RV(ch_object_get(a, t, 1), CKR_ATTRIBUTE_SENSITIVE);
	CHECK_UL(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	ch_attrs_free(a);
}

static void test_secret_value_hidden_when_unextractable(void)
{
	CK_ATTRIBUTE extra[] = { A(CKA_EXTRACTABLE, no) };
	ch_attrs *a = aes_key(extra, 1);
	CK_BYTE buf[64];
	CK_ATTRIBUTE t[] = { { CKA_VALUE, buf, sizeof(buf) } };

	if (a == NULL)
		return;
	CHECK_RV(ch_object_get(a, t, 1), CKR_ATTRIBUTE_SENSITIVE);
	CHECK_UL(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	ch_attrs_free(a);
}

static void test_secret_value_readable_when_neither(void)
{
	ch_attrs *a = aes_key(NULL, 0);
	CK_BYTE buf[64];
	CK_ATTRIBUTE t[] = { { CKA_VALUE, buf, sizeof(buf) } };

	if (a == NULL)
		return;
	CHECK_RV(ch_object_get(a, t, 1), CKR_OK);
	CHECK_UL(t[0].ulValueLen, 32);
	CHECK(memcmp(buf, aes32, 32) == 0);
	ch_attrs_free(a);
}

static void test_rsa_private_components_hidden_but_public_ones_not(void)
{
	CK_ATTRIBUTE tmpl[] = { A(CKA_CLASS, c_priv),
		                A(CKA_KEY_TYPE, k_rsa),
		                AB(CKA_MODULUS, modulus),
		                AB(CKA_PRIVATE_EXPONENT, privexp),
		                AB(CKA_PUBLIC_EXPONENT, pubexp),
		                AB(CKA_PRIME_1, privexp),
		                AB(CKA_COEFFICIENT, privexp),
		                A(CKA_SENSITIVE, yes) };
	CK_ATTRIBUTE t[] = { { CKA_PRIVATE_EXPONENT, NULL, 0 },
		             { CKA_PRIME_1, NULL, 0 },
		             { CKA_COEFFICIENT, NULL, 0 },
		             { CKA_MODULUS, NULL, 0 },
		             { CKA_PUBLIC_EXPONENT, NULL, 0 } };
	ch_attrs *a = NULL;

	if (!CHECK_RV(create(tmpl, N(tmpl), &user, &a), CKR_OK))
		return;
	CHECK_RV(ch_object_get(a, t, N(t)), CKR_ATTRIBUTE_SENSITIVE);
	CHECK_UL(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CHECK_UL(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CHECK_UL(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CHECK_UL(t[3].ulValueLen, sizeof(modulus));
	CHECK_UL(t[4].ulValueLen, sizeof(pubexp));
	CHECK(ch_object_attr_is_secret(a, CKA_PRIVATE_EXPONENT));
	CHECK(ch_object_attr_is_secret(a, CKA_PRIME_2));
	CHECK(ch_object_attr_is_secret(a, CKA_EXPONENT_1));
	CHECK(ch_object_attr_is_secret(a, CKA_EXPONENT_2));
	CHECK(ch_object_attr_is_secret(a, CKA_VALUE));
	CHECK(!ch_object_attr_is_secret(a, CKA_MODULUS));
	CHECK(!ch_object_attr_is_secret(a, CKA_LABEL));
	ch_attrs_free(a);
}

static void test_get_null_pvalue_returns_length(void)
{
	CK_ATTRIBUTE extra[] = { AS(CKA_LABEL, "twelve chars") };
	ch_attrs *a = aes_key(extra, 1);
	CK_ATTRIBUTE t[] = { { CKA_LABEL, NULL, 0 }, { CKA_CLASS, NULL, 99 }, { CKA_ID, NULL, 5 } };

	if (a == NULL)
		return;
	CHECK_RV(ch_object_get(a, t, N(t)), CKR_OK);
	CHECK_UL(t[0].ulValueLen, 12);
	CHECK_UL(t[1].ulValueLen, sizeof(CK_ULONG));
	CHECK_UL(t[2].ulValueLen, 0);
	ch_attrs_free(a);
}

static void test_get_buffer_too_small_marks_unavailable(void)
{
	CK_ATTRIBUTE extra[] = { AS(CKA_LABEL, "twelve chars") };
	ch_attrs *a = aes_key(extra, 1);
	char buf[11];
	CK_ATTRIBUTE t[] = { { CKA_LABEL, buf, sizeof(buf) } };

	if (a == NULL)
		return;
	CHECK_RV(ch_object_get(a, t, 1), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	ch_attrs_free(a);
}

static void test_get_unknown_type_marks_unavailable(void)
{
	ch_attrs *a = aes_key(NULL, 0);
	CK_BYTE buf[8];
	CK_ATTRIBUTE t[] = { { CKA_MODULUS, buf, sizeof(buf) } };

	if (a == NULL)
		return;
	CHECK_RV(ch_object_get(a, t, 1), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK_UL(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	ch_attrs_free(a);
}

static void test_get_processes_every_entry(void)
{
	CK_ATTRIBUTE extra[] = { A(CKA_SENSITIVE, yes), AS(CKA_LABEL, "label") };
	ch_attrs *a = aes_key(extra, N(extra));
	CK_BYTE small[2], big[64];
	CK_ULONG cls = 0;
	CK_ATTRIBUTE t[] = {
		{ CKA_VALUE, big, sizeof(big) },     /* hidden */
		{ CKA_LABEL, small, sizeof(small) }, /* too small */
		{ CKA_MODULUS, big, sizeof(big) },   /* not an AES attribute */
		{ CKA_CLASS, &cls, sizeof(cls) },    /* fine */
		{ CKA_ID, NULL, 0 },                 /* fine, length only */
	};
	CK_RV rv;

	if (a == NULL)
		return;
	rv = ch_object_get(a, t, N(t));
	CHECK(rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_BUFFER_TOO_SMALL ||
	      rv == CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK_UL(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CHECK_UL(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CHECK_UL(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CHECK_UL(t[3].ulValueLen, sizeof(CK_ULONG));
	CHECK_UL(cls, CKO_SECRET_KEY);
	CHECK_UL(t[4].ulValueLen, 0);
	ch_attrs_free(a);
}

/* ---------------------------------------------------------------------- */
/* Array attributes                                                        */
/* ---------------------------------------------------------------------- */

static void test_wrap_template_stored_and_returned_by_nested_rules(void)
{
	CK_BBOOL odd = 7;
	CK_ATTRIBUTE inner[] = { A(CKA_SENSITIVE, odd), A(CKA_EXTRACTABLE, no) };
	CK_ATTRIBUTE extra[] = { { CKA_WRAP_TEMPLATE, inner, sizeof(inner) } };
	ch_attrs *a = aes_key(extra, 1), *set = NULL;
	CK_ATTRIBUTE out[2];
	CK_BYTE v0 = 0x55, v1 = 0x55;
	CK_ATTRIBUTE t[] = { { CKA_WRAP_TEMPLATE, NULL, 0 } };

	if (a == NULL)
		return;
	/* Step 3: the length of the array. */
	CHECK_RV(ch_object_get(a, t, 1), CKR_OK);
	CHECK_UL(t[0].ulValueLen, 2 * sizeof(CK_ATTRIBUTE));
	/* Too small an array. */
	t[0].pValue = out;
	t[0].ulValueLen = sizeof(CK_ATTRIBUTE);
	CHECK_RV(ch_object_get(a, t, 1), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	/* Types and lengths, then values. */
	memset(out, 0, sizeof(out));
	t[0].ulValueLen = sizeof(out);
	CHECK_RV(ch_object_get(a, t, 1), CKR_OK);
	CHECK_UL(t[0].ulValueLen, sizeof(out));
	CHECK_UL(out[0].type, CKA_SENSITIVE);
	CHECK_UL(out[0].ulValueLen, 1);
	CHECK_UL(out[1].type, CKA_EXTRACTABLE);
	CHECK_UL(out[1].ulValueLen, 1);
	out[0].pValue = &v0;
	out[1].pValue = &v1;
	CHECK_RV(ch_object_get(a, t, 1), CKR_OK);
	CHECK_UL(v0, CK_TRUE); /* normalised from 7 */
	CHECK_UL(v1, CK_FALSE);
	/* An inner buffer too small. */
	out[0].ulValueLen = 0;
	CHECK_RV(ch_object_get(a, t, 1), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(out[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);

	/* The wrap code sees it as a set. */
	CHECK_RV(ch_object_template(a, CKA_WRAP_TEMPLATE, &set), CKR_OK);
	if (CHECK(set != NULL)) {
		CHECK_UL(set->n, 2);
		CHECK(has_bool(set, CKA_SENSITIVE, true));
		CHECK(has_bool(set, CKA_EXTRACTABLE, false));
	}
	ch_attrs_free(set);
	CHECK_RV(ch_object_template(a, CKA_UNWRAP_TEMPLATE, &set), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK(set == NULL);

	/* Matching compares the stored template, whatever the caller's order. */
	{
		CK_ATTRIBUTE rev[] = { A(CKA_EXTRACTABLE, no), A(CKA_SENSITIVE, yes) };
		CK_ATTRIBUTE f[] = { { CKA_WRAP_TEMPLATE, rev, sizeof(rev) } };
		CK_ATTRIBUTE g[] = { { CKA_WRAP_TEMPLATE, rev, sizeof(rev[0]) } };

		CHECK(ch_object_match(a, f, 1));
		CHECK(!ch_object_match(a, g, 1));
	}
	ch_attrs_free(a);
}

static void test_array_attribute_values_checked(void)
{
	CK_BYTE two[2] = { 1, 1 };
	CK_ATTRIBUTE nested_inner[] = { A(CKA_ENCRYPT, yes) };
	CK_ATTRIBUTE nested[] = { { CKA_WRAP_TEMPLATE, nested_inner, sizeof(nested_inner) } };
	CK_ATTRIBUTE bad_bool[] = { { CKA_ENCRYPT, two, 2 } };
	CK_ATTRIBUTE unknown[] = { { 0x7777UL, two, 2 } };
	CK_ATTRIBUTE dup[] = { A(CKA_ENCRYPT, yes), A(CKA_ENCRYPT, no) };
	CK_ATTRIBUTE cases[] = {
		{ CKA_UNWRAP_TEMPLATE, nested, sizeof(nested) },
		{ CKA_UNWRAP_TEMPLATE, bad_bool, sizeof(bad_bool) },
		{ CKA_UNWRAP_TEMPLATE, unknown, sizeof(unknown) },
		{ CKA_UNWRAP_TEMPLATE, dup, sizeof(dup) },
		{ CKA_DERIVE_TEMPLATE, dup, sizeof(dup) - 1 },
	};

	for (size_t i = 0; i < N(cases); i++) {
		ch_attrs *a = NULL;

		if (!CHECK_RV(create_aes(&cases[i], 1, &user, &a), CKR_ATTRIBUTE_VALUE_INVALID))
			fprintf(stderr, "\tcase %zu\n", i);
		ch_attrs_free(a);
	}
	/* Not after creation (no footnote 8). */
	{
		ch_attrs *a = aes_key(NULL, 0), *b = NULL;
		CK_ATTRIBUTE ok[] = { { CKA_DERIVE_TEMPLATE, nested_inner, sizeof(nested_inner) } };

		CHECK_RV(ch_object_set(a, ok, 1, &user, &b), CKR_ATTRIBUTE_READ_ONLY);
		ch_attrs_free(a);
	}
}

/* ---------------------------------------------------------------------- */
/* Matching, size, accessors                                               */
/* ---------------------------------------------------------------------- */

static void test_match_normalises_booleans_and_hides_secrets(void)
{
	CK_BBOOL odd = 0x80;
	CK_ATTRIBUTE extra[] = { A(CKA_ENCRYPT, yes), AS(CKA_LABEL, "k") };
	ch_attrs *a = aes_key(extra, N(extra));
	CK_ATTRIBUTE by_odd[] = { A(CKA_ENCRYPT, odd), A(CKA_CLASS, c_secret) };
	CK_ATTRIBUTE by_false[] = { A(CKA_ENCRYPT, no) };
	CK_ATTRIBUTE by_value[] = { AB(CKA_VALUE, aes32) };
	CK_ATTRIBUTE by_label[] = { AS(CKA_LABEL, "k") };
	CK_ATTRIBUTE sens[] = { A(CKA_SENSITIVE, yes) };
	ch_attrs *b = NULL;

	if (a == NULL)
		return;
	CHECK(ch_object_match(a, by_odd, N(by_odd)));
	CHECK(!ch_object_match(a, by_false, 1));
	CHECK(ch_object_match(a, by_label, 1));
	CHECK(ch_object_match(a, by_value, 1)); /* extractable, not sensitive */
	CHECK(ch_object_match(a, NULL, 0));
	CHECK_RV(ch_object_set(a, sens, 1, &user, &b), CKR_OK);
	CHECK(b != NULL && !ch_object_match(b, by_value, 1));
	ch_attrs_free(a);
	ch_attrs_free(b);
}

static void test_size_is_deterministic(void)
{
	ch_attrs *a = aes_key(NULL, 0), *b = aes_key(NULL, 0);
	CK_ULONG expect = 0;

	if (a == NULL || b == NULL)
		goto out;
	for (size_t i = 0; i < a->n; i++)
		expect += a->v[i].len + 16;
	CHECK_UL(ch_object_size(a), expect);
	CHECK_UL(ch_object_size(a), ch_object_size(b));
	CHECK_RV(ch_attrs_set(b, CKA_LABEL, "abc", 3), CKR_OK);
	CHECK_UL(ch_object_size(b), expect + 3);
out:
	ch_attrs_free(a);
	ch_attrs_free(b);
}

static void test_accessors_fail_safe_on_missing_attributes(void)
{
	ch_attrs *a = ch_attrs_new();

	if (!CHECK(a != NULL))
		return;
	CHECK_UL(ch_object_class(a), CK_UNAVAILABLE_INFORMATION);
	CHECK(!ch_object_is_token(a));
	CHECK(ch_object_is_private(a));
	CHECK_RV(ch_object_may_destroy(a), CKR_OK);
	/* Not an object: nothing can be set, copied or finished on it. */
	{
		CK_ATTRIBUTE t[] = { AS(CKA_LABEL, "x") };
		ch_attrs *b = NULL;

		CHECK_RV(ch_object_set(a, t, 1, &user, &b), CKR_GENERAL_ERROR);
		CHECK_RV(ch_object_finish(CH_ORIGIN_GENERATE, CKM_AES_KEY_GEN, a),
		         CKR_GENERAL_ERROR);
	}
	/* A key missing its protection flags counts as sensitive. */
	CHECK_RV(ch_attrs_set_ulong(a, CKA_CLASS, CKO_SECRET_KEY), CKR_OK);
	CHECK_RV(ch_attrs_set(a, CKA_VALUE, aes32, 16), CKR_OK);
	{
		CK_BYTE buf[16];
		CK_ATTRIBUTE t[] = { { CKA_VALUE, buf, sizeof(buf) } };

		CHECK_RV(ch_object_get(a, t, 1), CKR_ATTRIBUTE_SENSITIVE);
	}
	ch_attrs_free(a);
}

int main(void)
{
	test_create_secret_key_gets_spec_and_token_defaults();
	test_create_private_defaults_by_class();
	test_create_caller_values_override_defaults();
	test_create_stores_booleans_normalised();
	test_create_requires_class();
	test_create_requires_footnote_1_attributes();
	test_create_complete_objects_of_every_class();
	test_create_rejects_local();
	test_create_rejects_computed_attributes();
	test_create_rejects_value_len();
	test_create_rejects_modulus_bits();
	test_trusted_only_so_may_set_true();
	test_create_rejects_unknown_and_foreign_types();
	test_create_checks_value_sizes_and_forms();
	test_create_rejects_unknown_class_key_and_certificate_type();
	test_create_rejects_key_type_of_another_class();
	test_create_rejects_duplicate_attribute();
	test_aes_value_length_checked();
	test_certificate_category_range_checked();

	test_generate_requires_footnote_3_attributes();
	test_generate_rejects_footnote_4_attributes();
	test_generate_rejects_other_class_or_key_type();
	test_finish_generate_sets_local_and_lifelong_flags();
	test_finish_key_pair_from_generate();
	test_finish_rejects_wrong_material();
	test_unwrap_requires_key_type_and_rejects_footnote_6();
	test_derive_allows_value_len_but_not_value();

	test_set_changes_modifiable_attributes();
	test_set_rejects_attributes_without_footnote_8();
	test_set_rejects_type_invalid_for_class();
	test_set_checks_values();
	test_set_is_all_or_nothing();
	test_set_prohibited_when_not_modifiable();
	test_object_sensitive_cannot_be_unset();
	test_wrap_with_trusted_cannot_be_unset();
	test_extractable_cannot_be_restored();
	test_copyable_and_destroyable_only_tighten();
	test_certificate_only_id_issuer_serial_change();
	test_data_object_value_may_change();

	test_copy_respects_copyable();
	test_copy_may_change_token_and_private();
	test_copy_modifiable_only_true_to_false();
	test_copy_of_unmodifiable_keeps_everything_else();
	test_copy_keeps_one_way_flags();
	test_destroy_respects_destroyable();

	test_secret_value_hidden_when_sensitive();
	test_secret_value_hidden_when_unextractable();
	test_secret_value_readable_when_neither();
	test_rsa_private_components_hidden_but_public_ones_not();
	test_get_null_pvalue_returns_length();
	test_get_buffer_too_small_marks_unavailable();
	test_get_unknown_type_marks_unavailable();
	test_get_processes_every_entry();

	test_wrap_template_stored_and_returned_by_nested_rules();
	test_array_attribute_values_checked();

	test_match_normalises_booleans_and_hides_secrets();
	test_size_is_deterministic();
	test_accessors_fail_safe_on_missing_attributes();
	return ch_test_done();
}
