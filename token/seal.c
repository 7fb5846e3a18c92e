/*
 * Sealing: PIN-wrapped registration keys, attribute encryption, object MACs
 * and blind indexes (see seal.h for the scheme).
 *
 * Everything here is called from the token store on every object load or
 * save, so the fetched OpenSSL algorithms are cached once per process and
 * the keyed HMAC contexts are built once per login and duplicated per use.
 * A ch_seal is read-only after ch_seal_new, so threads share it freely.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "seal.h"

#define NONCE_LEN 12
#define TAG_LEN   16

struct ch_seal {
	uint8_t enc[32];
	uint8_t uuid[CH_UUID_LEN];
	EVP_MAC_CTX *mac;   /* keyed with the MAC key; duplicated per use */
	EVP_MAC_CTX *index; /* keyed with the index key */
	EVP_MAC_CTX *audit; /* keyed with the audit key */
};

static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *aes_gcm;
static EVP_MAC *hmac;
static EVP_KDF *hkdf;

static void algs_fetch(void)
{
	aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
}

static int algs_ready(void)
{
	pthread_once(&algs_once, algs_fetch);
	return aes_gcm != NULL && hmac != NULL && hkdf != NULL;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

void ch_kdf_defaults(ch_kdf_params *p)
{
	p->alg = CH_KDF_PBKDF2_SHA256;
	p->iterations = 600000;
	p->log2n = 17;
	p->r = 8;
	p->p = 1;
}

const char *ch_kdf_name(ch_kdf_alg alg)
{
	return alg == CH_KDF_SCRYPT ? "scrypt" : "pbkdf2-sha256";
}

CK_RV ch_seal_random(uint8_t *out, size_t len)
{
	return RAND_priv_bytes(out, (int)len) == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
}

/* See seal.h; the nonce is random (at most 2^32 uses per key, far beyond
 * what one registration key seals). */
int ch_seal_gcm(int enc, const uint8_t key[32], const uint8_t *aad, size_t aad_len,
                const uint8_t *in, size_t in_len, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	int ok = 0, n = 0, fin = 0;
	size_t body;

	if (!algs_ready())
		return 0;
	if (!enc && in_len < NONCE_LEN + TAG_LEN)
		return 0;
	body = enc ? in_len : in_len - NONCE_LEN - TAG_LEN;
	if (body > INT32_MAX || (ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	if (enc) {
		if (RAND_bytes(out, NONCE_LEN) != 1)
			goto out;
		if (!EVP_EncryptInit_ex2(ctx, aes_gcm, key, out, NULL) ||
		    !EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) ||
		    !EVP_EncryptUpdate(ctx, out + NONCE_LEN, &n, in, (int)body) ||
		    !EVP_EncryptFinal_ex(ctx, out + NONCE_LEN + n, &fin) ||
		    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
		                         out + NONCE_LEN + body))
			goto out;
	} else {
		uint8_t tag[TAG_LEN];

		memcpy(tag, in + in_len - TAG_LEN, TAG_LEN);
		if (!EVP_DecryptInit_ex2(ctx, aes_gcm, key, in, NULL) ||
		    !EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) ||
		    !EVP_DecryptUpdate(ctx, out, &n, in + NONCE_LEN, (int)body) ||
		    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) ||
		    EVP_DecryptFinal_ex(ctx, out + n, &fin) <= 0) {
			OPENSSL_cleanse(out, body);
			goto out;
		}
	}
	ok = 1;
out:
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

static int pin_kek(const ch_kdf_params *kdf, const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                   const uint8_t salt[CH_SALT_LEN], uint8_t kek[32])
{
	if (kdf->alg == CH_KDF_SCRYPT) {
		uint64_t n = (uint64_t)1 << kdf->log2n;
		uint64_t maxmem = 128 * (uint64_t)kdf->r * (n + kdf->p + 2) + (1 << 20);

		if (kdf->log2n < 1 || kdf->log2n > 30)
			return 0;
		return EVP_PBE_scrypt((const char *)pin, pin_len, salt, CH_SALT_LEN, n, kdf->r,
		                      kdf->p, maxmem, kek, 32) == 1;
	}
	if (kdf->alg != CH_KDF_PBKDF2_SHA256 || kdf->iterations < 1 || kdf->iterations > INT32_MAX)
		return 0;
	return PKCS5_PBKDF2_HMAC((const char *)pin, (int)pin_len, salt, CH_SALT_LEN,
	                         (int)kdf->iterations, EVP_sha256(), 32, kek) == 1;
}

/* Associated data of a wrapped registration key. */
static size_t pin_aad(uint8_t *buf, size_t cap, const uint8_t uuid[CH_UUID_LEN], CK_USER_TYPE who,
                      const char *name)
{
	size_t name_len = strlen(name), len = 6 + CH_UUID_LEN + 8 + name_len;

	if (len > cap)
		return 0;
	memcpy(buf, "CHpin1", 6);
	memcpy(buf + 6, uuid, CH_UUID_LEN);
	put_be64(buf + 6 + CH_UUID_LEN, who);
	memcpy(buf + 6 + CH_UUID_LEN + 8, name, name_len);
	return len;
}

CK_RV ch_pin_wrap(const ch_kdf_params *kdf, const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                  const uint8_t uuid[CH_UUID_LEN], CK_USER_TYPE who, const char *name,
                  const uint8_t regkey[CH_REGKEY_LEN], ch_wrapped_key *out)
{
	uint8_t kek[32], aad[300];
	size_t aad_len;
	CK_RV rv = CKR_FUNCTION_FAILED;

	aad_len = pin_aad(aad, sizeof(aad), uuid, who, name);
	if (aad_len == 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	out->kdf = *kdf;
	if (ch_seal_random(out->salt, sizeof(out->salt)) != CKR_OK ||
	    !pin_kek(kdf, pin, pin_len, out->salt, kek) ||
	    !ch_seal_gcm(1, kek, aad, aad_len, regkey, CH_REGKEY_LEN, out->blob))
		goto out;
	rv = CKR_OK;
out:
	OPENSSL_cleanse(kek, sizeof(kek));
	return rv;
}

CK_RV ch_pin_unwrap(const ch_wrapped_key *w, const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                    const uint8_t uuid[CH_UUID_LEN], CK_USER_TYPE who, const char *name,
                    uint8_t regkey[CH_REGKEY_LEN])
{
	uint8_t kek[32], aad[300];
	size_t aad_len;
	CK_RV rv = CKR_FUNCTION_FAILED;

	aad_len = pin_aad(aad, sizeof(aad), uuid, who, name);
	if (aad_len == 0 || !pin_kek(&w->kdf, pin, pin_len, w->salt, kek))
		goto out;
	if (!ch_seal_gcm(0, kek, aad, aad_len, w->blob, sizeof(w->blob), regkey)) {
		rv = CKR_PIN_INCORRECT;
		goto out;
	}
	rv = CKR_OK;
out:
	OPENSSL_cleanse(kek, sizeof(kek));
	return rv;
}

int ch_seal_hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                 const char *info, uint8_t *out, size_t out_len)
{
	EVP_KDF_CTX *ctx;
	OSSL_PARAM params[5], *p = params;
	int ok;

	if (!algs_ready() || (ctx = EVP_KDF_CTX_new(hkdf)) == NULL)
		return 0;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
	if (salt != NULL)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt,
		                                         salt_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info));
	*p = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(ctx, out, out_len, params) == 1;
	EVP_KDF_CTX_free(ctx);
	return ok;
}

/* HKDF-SHA256(regkey, info) -> out[32]. */
static int derive(const uint8_t regkey[CH_REGKEY_LEN], const char *info, uint8_t out[32])
{
	return ch_seal_hkdf(regkey, CH_REGKEY_LEN, NULL, 0, info, out, 32);
}

static EVP_MAC_CTX *hmac_keyed(const uint8_t key[32])
{
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac);
	OSSL_PARAM params[2];

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (ctx != NULL && EVP_MAC_init(ctx, key, 32, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

ch_seal *ch_seal_new(const uint8_t regkey[CH_REGKEY_LEN], const uint8_t uuid[CH_UUID_LEN])
{
	ch_seal *s = NULL, *ret = NULL;
	uint8_t mac_key[32], index_key[32], audit_key[32];

	if (!algs_ready() || (s = OPENSSL_secure_zalloc(sizeof(*s))) == NULL)
		goto out;
	memcpy(s->uuid, uuid, CH_UUID_LEN);
	if (!derive(regkey, "cipherhub v1 attribute encryption", s->enc) ||
	    !derive(regkey, "cipherhub v1 object mac", mac_key) ||
	    !derive(regkey, "cipherhub v1 blind index", index_key) ||
	    !derive(regkey, "cipherhub v1 audit", audit_key) ||
	    (s->mac = hmac_keyed(mac_key)) == NULL || (s->index = hmac_keyed(index_key)) == NULL ||
	    (s->audit = hmac_keyed(audit_key)) == NULL)
		goto out;
	ret = s;
	s = NULL; /* transferred */
out:
	OPENSSL_cleanse(mac_key, sizeof(mac_key));
	OPENSSL_cleanse(index_key, sizeof(index_key));
	OPENSSL_cleanse(audit_key, sizeof(audit_key));
	ch_seal_free(s);
	return ret;
}

void ch_seal_free(ch_seal *s)
{
	if (s == NULL)
		return;
	EVP_MAC_CTX_free(s->mac);
	EVP_MAC_CTX_free(s->index);
	EVP_MAC_CTX_free(s->audit);
	OPENSSL_secure_clear_free(s, sizeof(*s));
}

/* Associated data of a sealed attribute value. */
static void attr_aad(const ch_seal *s, uint64_t obj, CK_ATTRIBUTE_TYPE type, uint8_t aad[38])
{
	memcpy(aad, "CHatt1", 6);
	memcpy(aad + 6, s->uuid, CH_UUID_LEN);
	put_be64(aad + 6 + CH_UUID_LEN, obj);
	put_be64(aad + 6 + CH_UUID_LEN + 8, type);
}

CK_RV ch_seal_encrypt(const ch_seal *s, uint64_t obj, CK_ATTRIBUTE_TYPE type, const uint8_t *in,
                      size_t len, uint8_t **out, size_t *out_len)
{
	uint8_t aad[38], *buf;

	*out = NULL;
	if ((buf = malloc(len + CH_SEAL_OVERHEAD)) == NULL)
		return CKR_HOST_MEMORY;
	attr_aad(s, obj, type, aad);
	if (!ch_seal_gcm(1, s->enc, aad, sizeof(aad), in, len, buf)) {
		free(buf);
		return CKR_FUNCTION_FAILED;
	}
	*out = buf;
	*out_len = len + CH_SEAL_OVERHEAD;
	return CKR_OK;
}

CK_RV ch_seal_decrypt(const ch_seal *s, uint64_t obj, CK_ATTRIBUTE_TYPE type, const uint8_t *in,
                      size_t len, uint8_t **out, size_t *out_len)
{
	uint8_t aad[38], *buf;
	size_t plain;

	*out = NULL;
	if (len < CH_SEAL_OVERHEAD)
		return CKR_DEVICE_ERROR;
	plain = len - CH_SEAL_OVERHEAD;
	if ((buf = malloc(plain ? plain : 1)) == NULL)
		return CKR_HOST_MEMORY;
	attr_aad(s, obj, type, aad);
	if (!ch_seal_gcm(0, s->enc, aad, sizeof(aad), in, len, buf)) {
		free(buf); /* ch_seal_gcm() wiped it */
		return CKR_DEVICE_ERROR;
	}
	*out = buf;
	*out_len = plain;
	return CKR_OK;
}

/* HMAC with a duplicate of a keyed context over a list of pieces. */
static int hmac_pieces(EVP_MAC_CTX *keyed, const uint8_t *const *piece, const size_t *len, size_t n,
                       uint8_t *out, size_t out_len)
{
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(keyed);
	uint8_t full[32];
	size_t got = 0;
	int ok = 0;

	if (ctx == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (len[i] != 0 && EVP_MAC_update(ctx, piece[i], len[i]) != 1)
			goto out;
	if (EVP_MAC_final(ctx, full, &got, sizeof(full)) != 1 || got < out_len)
		goto out;
	memcpy(out, full, out_len);
	ok = 1;
out:
	OPENSSL_cleanse(full, sizeof(full));
	EVP_MAC_CTX_free(ctx);
	return ok;
}

CK_RV ch_seal_lookup(const ch_seal *s, CK_ATTRIBUTE_TYPE type, const uint8_t *value, size_t len,
                     uint8_t out[CH_LOOKUP_LEN])
{
	uint8_t t[8];
	const uint8_t *piece[2] = { t, value };
	size_t lens[2] = { sizeof(t), len };

	put_be64(t, type);
	return hmac_pieces(s->index, piece, lens, 2, out, CH_LOOKUP_LEN) ? CKR_OK
	                                                                 : CKR_FUNCTION_FAILED;
}

CK_RV ch_seal_audit_mac(const ch_seal *s, const uint8_t *data, size_t len, uint8_t out[CH_MAC_LEN])
{
	const uint8_t *piece[1] = { data };
	size_t lens[1] = { len };

	return hmac_pieces(s->audit, piece, lens, 1, out, CH_MAC_LEN) ? CKR_OK
	                                                              : CKR_FUNCTION_FAILED;
}

CK_RV ch_seal_mac(const ch_seal *s, uint64_t obj, const ch_stored_attr *rows, size_t n,
                  uint8_t out[CH_MAC_LEN])
{
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(s->mac);
	uint8_t head[6 + CH_UUID_LEN + 8], row[13];
	size_t got = 0;
	CK_RV rv = CKR_FUNCTION_FAILED;

	if (ctx == NULL)
		goto out;
	memcpy(head, "CHmac1", 6);
	memcpy(head + 6, s->uuid, CH_UUID_LEN);
	put_be64(head + 6 + CH_UUID_LEN, obj);
	if (EVP_MAC_update(ctx, head, sizeof(head)) != 1)
		goto out;
	for (size_t i = 0; i < n; i++) {
		put_be64(row, rows[i].type);
		row[8] = rows[i].sealed ? 1 : 0;
		row[9] = (uint8_t)(rows[i].len >> 24);
		row[10] = (uint8_t)(rows[i].len >> 16);
		row[11] = (uint8_t)(rows[i].len >> 8);
		row[12] = (uint8_t)rows[i].len;
		if (EVP_MAC_update(ctx, row, sizeof(row)) != 1 ||
		    (rows[i].len != 0 && EVP_MAC_update(ctx, rows[i].value, rows[i].len) != 1))
			goto out;
	}
	if (EVP_MAC_final(ctx, out, &got, CH_MAC_LEN) != 1 || got != CH_MAC_LEN)
		goto out;
	rv = CKR_OK;
out:
	EVP_MAC_CTX_free(ctx);
	return rv;
}
