/*
 * Key encodings for wrapping: what C_WrapKey encrypts and C_UnwrapKey
 * decrypts (PKCS#11 3.0 section 5.18).
 *
 * A secret key is wrapped as its CKA_VALUE bytes.  A private key is wrapped
 * as a PKCS#8 PrivateKeyInfo (RFC 5208, DER), the encoding every token and
 * library agrees on: the asymmetric families turn the key object into an
 * EVP_PKEY (their *_pkey_load codecs, mech_impl.h) and OpenSSL's encoder
 * writes the DER; unwrapping decodes the DER, checks that its algorithm is
 * the key type the template asked for, and lets the family write the
 * components back.  Nothing else is wrappable: public keys, certificates
 * and data objects are not secrets and get CKR_KEY_NOT_WRAPPABLE.
 *
 * Every buffer that holds key bytes is wiped when freed.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "mech_impl.h"

/* The codec of an asymmetric key type, or NULL. */
typedef CK_RV pkey_load_fn(const ch_attrs *key, bool priv, EVP_PKEY **out);
typedef CK_RV pkey_store_fn(EVP_PKEY *pkey, ch_attrs *key);

static bool codec_of(CK_ULONG kt, pkey_load_fn **load, pkey_store_fn **store)
{
	switch (kt) {
	case CKK_RSA:
		*load = ch_rsa_pkey_load;
		*store = ch_rsa_pkey_store;
		return true;
	case CKK_EC:
		*load = ch_ec_pkey_load;
		*store = ch_ec_pkey_store;
		return true;
	case CKK_EC_EDWARDS:
	case CKK_EC_MONTGOMERY:
		*load = ch_ecx_pkey_load;
		*store = ch_ecx_pkey_store;
		return true;
	default:
		return false;
	}
}

void ch_key_parse(ch_attrs *key)
{
	pkey_load_fn *load;
	pkey_store_fn *store;
	CK_ULONG cls, kt;
	EVP_PKEY *pkey = NULL;
	bool priv;

	if (!ch_attrs_ulong(key, CKA_CLASS, &cls) || !ch_attrs_ulong(key, CKA_KEY_TYPE, &kt) ||
	    (cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY) || !codec_of(kt, &load, &store))
		return;
	priv = cls == CKO_PRIVATE_KEY;
	ERR_set_mark();
	if (load(key, priv, &pkey) == CKR_OK)
		ch_attrs_set_parsed(key, priv, pkey);
	ERR_pop_to_mark();
}

static CK_RV copy_out(const CK_BYTE *p, size_t len, CK_BYTE **out, CK_ULONG *out_len)
{
	CK_BYTE *b = OPENSSL_malloc(len > 0 ? len : 1);

	if (b == NULL)
		return CKR_HOST_MEMORY;
	if (len > 0)
		memcpy(b, p, len);
	*out = b;
	*out_len = len;
	return CKR_OK;
}

static CK_RV export_private(const ch_attrs *key, CK_ULONG kt, CK_BYTE **out, CK_ULONG *out_len)
{
	pkey_load_fn *load;
	pkey_store_fn *store;
	EVP_PKEY *pkey = NULL;
	OSSL_ENCODER_CTX *enc = NULL;
	unsigned char *der = NULL;
	size_t der_len = 0;
	CK_RV rv = CKR_KEY_NOT_WRAPPABLE;

	if (!codec_of(kt, &load, &store))
		goto out;
	if ((rv = load(key, true, &pkey)) != CKR_OK) {
		rv = rv == CKR_HOST_MEMORY ? rv : CKR_KEY_NOT_WRAPPABLE;
		goto out;
	}
	rv = CKR_HOST_MEMORY;
	enc = OSSL_ENCODER_CTX_new_for_pkey(pkey, OSSL_KEYMGMT_SELECT_KEYPAIR, "DER",
	                                    "PrivateKeyInfo", NULL);
	if (enc == NULL || OSSL_ENCODER_CTX_get_num_encoders(enc) == 0)
		goto out;
	/* OpenSSL encodes no RSA key without its CRT components: such a key
	 * cannot be wrapped here. */
	rv = CKR_KEY_NOT_WRAPPABLE;
	if (OSSL_ENCODER_to_data(enc, &der, &der_len) != 1)
		goto out;
	rv = copy_out(der, der_len, out, out_len);
out:
	OPENSSL_clear_free(der, der_len);
	OSSL_ENCODER_CTX_free(enc);
	EVP_PKEY_free(pkey);
	return rv;
}

CK_RV ch_key_export(const ch_attrs *key, CK_BYTE **out, CK_ULONG *out_len)
{
	const ch_attr *v;
	CK_ULONG cls, kt;
	CK_RV rv = CKR_KEY_NOT_WRAPPABLE;

	if (key == NULL || out == NULL || out_len == NULL)
		return CKR_ARGUMENTS_BAD;
	*out = NULL;
	*out_len = 0;
	ERR_set_mark();
	if (!ch_attrs_ulong(key, CKA_CLASS, &cls) || !ch_attrs_ulong(key, CKA_KEY_TYPE, &kt))
		goto out;
	if (cls == CKO_SECRET_KEY) {
		v = ch_attrs_get(key, CKA_VALUE);
		if (v != NULL && v->value != NULL)
			rv = copy_out(v->value, v->len, out, out_len);
	} else if (cls == CKO_PRIVATE_KEY) {
		rv = export_private(key, kt, out, out_len);
	}
out:
	ERR_pop_to_mark();
	return rv;
}

/* The OpenSSL key types a PKCS#8 blob may hold for a CKK_*. */
static bool pkey_is(EVP_PKEY *pkey, CK_ULONG kt)
{
	switch (kt) {
	case CKK_RSA:
		return EVP_PKEY_is_a(pkey, "RSA");
	case CKK_EC:
		return EVP_PKEY_is_a(pkey, "EC");
	case CKK_EC_EDWARDS:
		return EVP_PKEY_is_a(pkey, "ED25519") || EVP_PKEY_is_a(pkey, "ED448");
	case CKK_EC_MONTGOMERY:
		return EVP_PKEY_is_a(pkey, "X25519") || EVP_PKEY_is_a(pkey, "X448");
	default:
		return false;
	}
}

static CK_RV import_private(ch_attrs *key, CK_ULONG kt, const CK_BYTE *in, CK_ULONG in_len)
{
	pkey_load_fn *load;
	pkey_store_fn *store;
	EVP_PKEY *pkey = NULL;
	OSSL_DECODER_CTX *dec = NULL;
	const unsigned char *p = in;
	size_t left = in_len;
	CK_RV rv = CKR_WRAPPED_KEY_INVALID;

	if (!codec_of(kt, &load, &store))
		goto out;
	rv = CKR_HOST_MEMORY;
	dec = OSSL_DECODER_CTX_new_for_pkey(&pkey, "DER", "PrivateKeyInfo", NULL,
	                                    OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL);
	if (dec == NULL)
		goto out;
	rv = CKR_WRAPPED_KEY_INVALID;
	if (OSSL_DECODER_from_data(dec, &p, &left) != 1 || pkey == NULL || left != 0 ||
	    !pkey_is(pkey, kt))
		goto out;
	rv = store(pkey, key);
out:
	OSSL_DECODER_CTX_free(dec);
	EVP_PKEY_free(pkey);
	return rv;
}

/* A secret key's value.  Block modes without padding (ECB, CBC) wrap a key
 * padded with zeros to the block: the template's CKA_VALUE_LEN says how much
 * of the plaintext is the key (PKCS#11 3.0 section 2.13, unwrap). */
static CK_RV import_secret(ch_attrs *key, const CK_BYTE *in, CK_ULONG in_len)
{
	CK_ULONG want;

	if (ch_attrs_ulong(key, CKA_VALUE_LEN, &want)) {
		if (want == 0 || want > in_len)
			return CKR_WRAPPED_KEY_INVALID;
		in_len = want;
	}
	if (in_len == 0)
		return CKR_WRAPPED_KEY_INVALID;
	return ch_attrs_set(key, CKA_VALUE, in, in_len);
}

CK_RV ch_key_import(ch_attrs *key, const CK_BYTE *in, CK_ULONG in_len)
{
	CK_ULONG cls, kt;
	CK_RV rv = CKR_WRAPPED_KEY_INVALID;

	if (key == NULL || (in == NULL && in_len > 0))
		return CKR_ARGUMENTS_BAD;
	ERR_set_mark();
	if (!ch_attrs_ulong(key, CKA_CLASS, &cls) || !ch_attrs_ulong(key, CKA_KEY_TYPE, &kt))
		goto out;
	if (cls == CKO_SECRET_KEY)
		rv = import_secret(key, in, in_len);
	else if (cls == CKO_PRIVATE_KEY)
		rv = import_private(key, kt, in, in_len);
out:
	ERR_pop_to_mark();
	return rv;
}

/* SP 800-57 part 1, table 2: RSA modulus bits to security strength. */
static unsigned rsa_strength(size_t modulus_bits)
{
	if (modulus_bits >= 15360)
		return 256;
	if (modulus_bits >= 7680)
		return 192;
	if (modulus_bits >= 3072)
		return 128;
	if (modulus_bits >= 2048)
		return 112;
	return 80;
}

unsigned ch_key_strength(const ch_attrs *key)
{
	pkey_load_fn *load;
	pkey_store_fn *store;
	const ch_attr *v;
	EVP_PKEY *pkey = NULL;
	CK_ULONG cls, kt;
	unsigned bits = 0;
	int sb;

	if (key == NULL || !ch_attrs_ulong(key, CKA_CLASS, &cls) ||
	    !ch_attrs_ulong(key, CKA_KEY_TYPE, &kt))
		return 0;
	if (cls == CKO_SECRET_KEY) {
		v = ch_attrs_get(key, CKA_VALUE);
		if (v == NULL)
			return 0;
		return v->len >= 32 ? 256 : (unsigned)v->len * 8;
	}
	if (kt == CKK_RSA) {
		size_t i = 0, n;

		v = ch_attrs_get(key, CKA_MODULUS);
		if (v == NULL)
			return 0;
		while (i < v->len && v->value[i] == 0)
			i++; /* leading zero bytes */
		if (i == v->len)
			return 0;
		n = (v->len - i) * 8;
		for (CK_BYTE top = v->value[i]; !(top & 0x80); top <<= 1)
			n--; /* leading zero bits of the first non-zero byte */
		return rsa_strength(n);
	}
	if (!codec_of(kt, &load, &store))
		return 0;
	ERR_set_mark();
	if (load(key, cls == CKO_PRIVATE_KEY, &pkey) == CKR_OK &&
	    (sb = EVP_PKEY_get_security_bits(pkey)) > 0)
		bits = (unsigned)sb;
	EVP_PKEY_free(pkey);
	ERR_pop_to_mark();
	return bits;
}
