/*
 * The store's cryptography (token/seal.c): PIN-wrapped registration keys,
 * sealed attribute values bound to their place, object MACs and blind
 * indexes.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "seal.h"

static const uint8_t uuid_a[CH_UUID_LEN] = "registration-aaa";
static const uint8_t uuid_b[CH_UUID_LEN] = "registration-bbb";
static const CK_UTF8CHAR pin[] = "correct horse";

static ch_kdf_params cheap_kdf(void)
{
	ch_kdf_params k;

	ch_kdf_defaults(&k);
	k.iterations = 1000;
	return k;
}

static void test_pin_wrap_roundtrip_and_wrong_pin_incorrect(void)
{
	ch_kdf_params k = cheap_kdf();
	ch_wrapped_key w;
	uint8_t key[CH_REGKEY_LEN], out[CH_REGKEY_LEN];

	CHECK_RV(ch_seal_random(key, sizeof(key)), CKR_OK);
	CHECK_RV(ch_pin_wrap(&k, pin, 13, uuid_a, CKU_USER, "", key, &w), CKR_OK);
	CHECK(w.kdf.iterations == 1000);
	CHECK(memmem(&w, sizeof(w), key, sizeof(key)) == NULL);
	CHECK_RV(ch_pin_unwrap(&w, pin, 13, uuid_a, CKU_USER, "", out), CKR_OK);
	CHECK(memcmp(key, out, sizeof(key)) == 0);
	CHECK_RV(ch_pin_unwrap(&w, (const CK_UTF8CHAR *)"correct horsf", 13, uuid_a, CKU_USER, "",
	                       out),
	         CKR_PIN_INCORRECT);
	CHECK_RV(ch_pin_unwrap(&w, pin, 12, uuid_a, CKU_USER, "", out), CKR_PIN_INCORRECT);
}

static void test_pin_wrap_bound_to_registration_user_and_name(void)
{
	ch_kdf_params k = cheap_kdf();
	ch_wrapped_key w;
	uint8_t key[CH_REGKEY_LEN] = { 1, 2, 3 }, out[CH_REGKEY_LEN];

	CHECK_RV(ch_pin_wrap(&k, pin, 13, uuid_a, CKU_USER, "", key, &w), CKR_OK);
	CHECK_RV(ch_pin_unwrap(&w, pin, 13, uuid_b, CKU_USER, "", out), CKR_PIN_INCORRECT);
	CHECK_RV(ch_pin_unwrap(&w, pin, 13, uuid_a, CKU_SO, "", out), CKR_PIN_INCORRECT);
	CHECK_RV(ch_pin_unwrap(&w, pin, 13, uuid_a, CKU_USER, "alice", out), CKR_PIN_INCORRECT);
	w.blob[20] ^= 1;
	CHECK_RV(ch_pin_unwrap(&w, pin, 13, uuid_a, CKU_USER, "", out), CKR_PIN_INCORRECT);
}

static void test_pin_wrap_scrypt(void)
{
	ch_kdf_params k = cheap_kdf();
	ch_wrapped_key w;
	uint8_t key[CH_REGKEY_LEN] = { 9 }, out[CH_REGKEY_LEN];

	k.alg = CH_KDF_SCRYPT;
	k.log2n = 10;
	CHECK_RV(ch_pin_wrap(&k, pin, 13, uuid_a, CKU_SO, "", key, &w), CKR_OK);
	CHECK_RV(ch_pin_unwrap(&w, pin, 13, uuid_a, CKU_SO, "", out), CKR_OK);
	CHECK(memcmp(key, out, sizeof(key)) == 0);
	CHECK_RV(ch_pin_unwrap(&w, pin, 4, uuid_a, CKU_SO, "", out), CKR_PIN_INCORRECT);
}

static ch_seal *seal_for(const uint8_t *uuid)
{
	uint8_t key[CH_REGKEY_LEN];

	memset(key, 0x42, sizeof(key));
	return ch_seal_new(key, uuid);
}

static void test_sealed_value_opens_only_in_its_place(void)
{
	ch_seal *s = seal_for(uuid_a), *other = seal_for(uuid_b);
	static const uint8_t secret[] = "sixteen byte key";
	uint8_t *ct = NULL, *pt = NULL;
	size_t ct_len = 0, pt_len = 0;

	CHECK(s != NULL && other != NULL);
	CHECK_RV(ch_seal_encrypt(s, 7, CKA_VALUE, secret, 16, &ct, &ct_len), CKR_OK);
	CHECK(ct_len == 16 + CH_SEAL_OVERHEAD);
	CHECK(memmem(ct, ct_len, secret, 16) == NULL);
	CHECK_RV(ch_seal_decrypt(s, 7, CKA_VALUE, ct, ct_len, &pt, &pt_len), CKR_OK);
	CHECK(pt_len == 16 && memcmp(pt, secret, 16) == 0);
	free(pt);
	pt = NULL;
	CHECK_RV(ch_seal_decrypt(s, 8, CKA_VALUE, ct, ct_len, &pt, &pt_len), CKR_DEVICE_ERROR);
	CHECK(pt == NULL);
	CHECK_RV(ch_seal_decrypt(s, 7, CKA_LABEL, ct, ct_len, &pt, &pt_len), CKR_DEVICE_ERROR);
	CHECK_RV(ch_seal_decrypt(other, 7, CKA_VALUE, ct, ct_len, &pt, &pt_len), CKR_DEVICE_ERROR);
	ct[ct_len - 20] ^= 0x80;
	CHECK_RV(ch_seal_decrypt(s, 7, CKA_VALUE, ct, ct_len, &pt, &pt_len), CKR_DEVICE_ERROR);
	CHECK_RV(ch_seal_decrypt(s, 7, CKA_VALUE, ct, 10, &pt, &pt_len), CKR_DEVICE_ERROR);
	free(ct);
	ch_seal_free(s);
	ch_seal_free(other);
}

static void test_two_seals_of_one_value_differ(void)
{
	ch_seal *s = seal_for(uuid_a);
	uint8_t *c1 = NULL, *c2 = NULL;
	size_t l1 = 0, l2 = 0;

	CHECK_RV(ch_seal_encrypt(s, 1, CKA_VALUE, (const uint8_t *)"same", 4, &c1, &l1), CKR_OK);
	CHECK_RV(ch_seal_encrypt(s, 1, CKA_VALUE, (const uint8_t *)"same", 4, &c2, &l2), CKR_OK);
	CHECK(l1 == l2 && memcmp(c1, c2, l1) != 0);
	free(c1);
	free(c2);
	ch_seal_free(s);
}

static void test_object_mac_covers_every_row(void)
{
	ch_seal *s = seal_for(uuid_a);
	uint8_t t = 1, f = 0, m0[CH_MAC_LEN], m1[CH_MAC_LEN];
	ch_stored_attr rows[2] = { { CKA_CLASS, 0, (const uint8_t *)"\x04\0\0\0\0\0\0\0", 8 },
		                   { CKA_EXTRACTABLE, 0, &f, 1 } };

	CHECK_RV(ch_seal_mac(s, 5, rows, 2, m0), CKR_OK);
	CHECK_RV(ch_seal_mac(s, 5, rows, 2, m1), CKR_OK);
	CHECK(memcmp(m0, m1, CH_MAC_LEN) == 0);
	rows[1].value = &t; /* CKA_EXTRACTABLE flipped in the file */
	CHECK_RV(ch_seal_mac(s, 5, rows, 2, m1), CKR_OK);
	CHECK(memcmp(m0, m1, CH_MAC_LEN) != 0);
	rows[1].value = &f;
	CHECK_RV(ch_seal_mac(s, 5, rows, 1, m1), CKR_OK); /* a row dropped */
	CHECK(memcmp(m0, m1, CH_MAC_LEN) != 0);
	CHECK_RV(ch_seal_mac(s, 6, rows, 2, m1), CKR_OK); /* moved to another object */
	CHECK(memcmp(m0, m1, CH_MAC_LEN) != 0);
	rows[1].sealed = 1;
	CHECK_RV(ch_seal_mac(s, 5, rows, 2, m1), CKR_OK);
	CHECK(memcmp(m0, m1, CH_MAC_LEN) != 0);
	ch_seal_free(s);
}

static void test_lookup_is_deterministic_and_typed(void)
{
	ch_seal *s = seal_for(uuid_a), *other = seal_for(uuid_b);
	uint8_t a[CH_LOOKUP_LEN], b[CH_LOOKUP_LEN], c[CH_LOOKUP_LEN];

	CHECK_RV(ch_seal_lookup(s, CKA_LABEL, (const uint8_t *)"payments", 8, a), CKR_OK);
	CHECK_RV(ch_seal_lookup(s, CKA_LABEL, (const uint8_t *)"payments", 8, b), CKR_OK);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	CHECK_RV(ch_seal_lookup(s, CKA_ID, (const uint8_t *)"payments", 8, c), CKR_OK);
	CHECK(memcmp(a, c, sizeof(a)) != 0);
	/* Another registration key gives another index: nothing links the
	 * labels of two registrations. */
	uint8_t k2[CH_REGKEY_LEN];
	memset(k2, 0x43, sizeof(k2));
	ch_seal *s2 = ch_seal_new(k2, uuid_a);
	CHECK_RV(ch_seal_lookup(s2, CKA_LABEL, (const uint8_t *)"payments", 8, c), CKR_OK);
	CHECK(memcmp(a, c, sizeof(a)) != 0);
	ch_seal_free(s2);
	ch_seal_free(s);
	ch_seal_free(other);
}

int main(void)
{
	test_pin_wrap_roundtrip_and_wrong_pin_incorrect();
	test_pin_wrap_bound_to_registration_user_and_name();
	test_pin_wrap_scrypt();
	test_sealed_value_opens_only_in_its_place();
	test_two_seals_of_one_value_differ();
	test_object_mac_covers_every_row();
	test_lookup_is_deterministic_and_typed();
	return ch_test_done();
}
