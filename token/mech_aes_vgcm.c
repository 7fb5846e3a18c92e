/*
 * CKM_CH_AES_GCM_VERSIONED (issue 8): AES-256-GCM whose ciphertext names
 * the key version that made it, so decryption finds its key by itself.
 *
 * Output of an encryption (or wrap) with a family's primary:
 *
 *   'C' 'H' 0x01 kind | family id (8) | version (4, BE) | IV (12)
 *   | ciphertext | tag (16)
 *
 * The fourth byte is the kind: 0x00 for data (C_Encrypt), 0x01 for a
 * wrapped key (C_WrapKey), so neither opens as the other.  The GCM additional
 * data is the 28-byte header followed by the mechanism's parameter (the
 * caller's own AAD, possibly empty), so every header byte is authenticated.
 * The IV is fresh from the DRBG for every message.
 *
 * GCM does not run under the stored key K but under
 *   K' = HKDF-SHA256(ikm K, salt = the header's first 16 bytes (magic, kind,
 *        family id, version), info "cipherhub versioned aes-gcm v1")
 * so no standard mechanism opens a versioned output: without that, plain
 * CKM_AES_GCM with the header's IV and AAD would unwrap a data key under a
 * family whose policy keeps its plaintext in, as an extractable key.  K' is
 * worked out once per key and operation, not per message.
 *
 * A decryption (or unwrap) starts from any version of the family and holds
 * a small key set: the key it was started with and whatever versions the
 * backend adds (ch_op_add_key: the family's versions the caller may decrypt
 * with).  The one-shot call reads the header and decrypts with the version
 * it names: a header that is malformed or of another family, and a tag that
 * does not match, are CKR_ENCRYPTED_DATA_INVALID; a version not in the set
 * is CKR_CH_KEY_VERSION_UNUSABLE.  Single-part only.
 *
 * The family id and version of a key (ch_key_family) are the ones the
 * rotation code gives CKA_ID (soft_version.c): a plain key's is the first 8
 * bytes of its CKA_UNIQUE_ID (hex), version 1, which its first rotation
 * keeps, so its ciphertexts stay readable.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "cipherhub/vendor.h"
#include "mech_aes.h"
#include "seal.h"

#define VGCM_KEY_LEN  32
#define VGCM_IV_LEN   12
#define VGCM_IV_AT    16 /* the IV's offset in the header, and the salt's length */
#define VGCM_INFO     "cipherhub versioned aes-gcm v1"
#define VGCM_DATA     0x00 /* the kind byte: C_Encrypt / C_Decrypt */
#define VGCM_WRAPPED  0x01 /* C_WrapKey / C_UnwrapKey */
#define VGCM_OVERHEAD (CH_VERSIONED_HEADER_LEN + CH_VERSIONED_TAG_LEN)

typedef struct vgcm_key {
	CK_ULONG version;
	CK_BYTE key[VGCM_KEY_LEN]; /* K' for this op's kind (see the top) */
} vgcm_key;

typedef struct vgcm_state {
	CK_BYTE fam[CH_FAMILY_ID_LEN]; /* the family of the op's keys */
	CK_ULONG version;              /* the version the op started with */
	CK_BYTE *aad;                  /* a copy of the parameter */
	size_t aad_len;
	vgcm_key *keys; /* encryption: one; decryption: the key set */
	size_t n, cap;
} vgcm_state;

CK_RV ch_key_family(const ch_attrs *key, CK_BYTE fam[CH_FAMILY_ID_LEN], CK_ULONG *version)
{
	const ch_attr *id = ch_attrs_get(key, CKA_ID);
	const ch_attr *u = ch_attrs_get(key, CKA_UNIQUE_ID);
	CK_ULONG ver = 1;

	(void)ch_attrs_ulong(key, CKA_CH_VERSION, &ver);
	if (version != NULL)
		*version = ver;
	if (ver > 1 && id != NULL && id->len == CH_FAMILY_ID_LEN + 4) {
		memcpy(fam, id->value, CH_FAMILY_ID_LEN);
		return CKR_OK;
	}
	if (u == NULL || u->len < 2 * CH_FAMILY_ID_LEN)
		return CKR_KEY_TYPE_INCONSISTENT;
	for (int i = 0; i < CH_FAMILY_ID_LEN; i++) {
		unsigned int b;
		char two[3] = { (char)u->value[2 * i], (char)u->value[2 * i + 1], '\0' };

		if (sscanf(two, "%2x", &b) != 1)
			return CKR_KEY_TYPE_INCONSISTENT;
		fam[i] = (CK_BYTE)b;
	}
	return CKR_OK;
}

/* The kind byte of op's outputs. */
static CK_BYTE kind_of(const ch_op *op)
{
	return op->kind == CH_OP_WRAP || op->kind == CH_OP_UNWRAP ? VGCM_WRAPPED : VGCM_DATA;
}

/* The first 16 header bytes for kind, family and version. */
static void header_prefix(CK_BYTE out[VGCM_IV_AT], CK_BYTE kind,
                          const CK_BYTE fam[CH_FAMILY_ID_LEN], CK_ULONG ver)
{
	out[0] = 'C';
	out[1] = 'H';
	out[2] = 0x01;
	out[3] = kind;
	memcpy(out + 4, fam, CH_FAMILY_ID_LEN);
	for (int i = 0; i < 4; i++)
		out[12 + i] = (CK_BYTE)(ver >> (8 * (3 - i)));
}

/* K' = HKDF-SHA256(key, salt = prefix, info VGCM_INFO) into out (the
 * store's HKDF, fetched once: seal.h). */
static CK_RV derive(const CK_BYTE *key, const CK_BYTE prefix[VGCM_IV_AT], CK_BYTE out[VGCM_KEY_LEN])
{
	return ch_seal_hkdf(key, VGCM_KEY_LEN, prefix, VGCM_IV_AT, VGCM_INFO, out, VGCM_KEY_LEN)
	               ? CKR_OK
	               : CKR_FUNCTION_FAILED;
}

/* Adds key (checked: class, type, usage) to op's set, if it is of the
 * op's family and its version is not there yet. */
static CK_RV set_add(ch_op *op, const ch_attrs *key)
{
	vgcm_state *st = op->st;
	const ch_attr *v = ch_attrs_get(key, CKA_VALUE);
	CK_BYTE fam[CH_FAMILY_ID_LEN];
	CK_ULONG ver;
	CK_RV rv;

	if (v == NULL || v->value == NULL)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (v->len != VGCM_KEY_LEN)
		return CKR_KEY_SIZE_RANGE;
	if ((rv = ch_key_family(key, fam, &ver)) != CKR_OK)
		return rv;
	if (st->n == 0) {
		memcpy(st->fam, fam, sizeof(fam));
		st->version = ver;
	} else if (memcmp(fam, st->fam, sizeof(fam)) != 0) {
		return CKR_KEY_TYPE_INCONSISTENT;
	}
	for (size_t i = 0; i < st->n; i++)
		if (st->keys[i].version == ver)
			return CKR_OK;
	if (st->n == st->cap) {
		size_t ncap = st->cap ? st->cap * 2 : 4;
		vgcm_key *nk = OPENSSL_secure_zalloc(ncap * sizeof(*nk));

		if (nk == NULL)
			return CKR_HOST_MEMORY;
		if (st->n > 0)
			memcpy(nk, st->keys, st->n * sizeof(*nk));
		OPENSSL_secure_clear_free(st->keys, st->cap * sizeof(*st->keys));
		st->keys = nk;
		st->cap = ncap;
	}
	{
		CK_BYTE prefix[VGCM_IV_AT];

		header_prefix(prefix, kind_of(op), fam, ver);
		if ((rv = derive(v->value, prefix, st->keys[st->n].key)) != CKR_OK)
			return rv;
	}
	st->keys[st->n].version = ver;
	st->n++;
	return CKR_OK;
}

static CK_RV vgcm_param(ch_op *op, const CK_MECHANISM *m)
{
	vgcm_state *st = op->st;

	if (m->ulParameterLen == 0)
		return CKR_OK;
	if (m->pParameter == NULL)
		return CKR_MECHANISM_PARAM_INVALID;
	if ((st->aad = OPENSSL_malloc(m->ulParameterLen)) == NULL)
		return CKR_HOST_MEMORY;
	memcpy(st->aad, m->pParameter, m->ulParameterLen);
	st->aad_len = m->ulParameterLen;
	return CKR_OK;
}

static CK_RV vgcm_start(ch_op *op, const CK_MECHANISM *m, const ch_attrs *key)
{
	(void)m;
	return set_add(op, key);
}

static CK_RV vgcm_out_len(const ch_op *op, ch_stage stage, CK_ULONG in_len, CK_ULONG *need)
{
	(void)stage; /* single-part */
	if (ch_op_encrypts(op)) {
		if (in_len > ULONG_MAX - VGCM_OVERHEAD)
			return CKR_DATA_LEN_RANGE;
		*need = in_len + VGCM_OVERHEAD;
		return CKR_OK;
	}
	if (in_len < VGCM_OVERHEAD)
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	*need = in_len - VGCM_OVERHEAD;
	return CKR_OK;
}

/* Sets up c for AES-256-GCM with key and the header's IV, and feeds it the
 * additional data (header, then the caller's). */
static CK_RV gcm_setup(const vgcm_state *st, EVP_CIPHER_CTX *c, bool enc, const CK_BYTE *key,
                       const CK_BYTE *hdr)
{
	const EVP_CIPHER *cipher = ch_mech_cipher(CH_CIPHER_AES_256_GCM);
	size_t w = 0;
	CK_RV rv;

	if (cipher == NULL)
		return CKR_GENERAL_ERROR;
	if (EVP_CipherInit_ex2(c, cipher, key, hdr + VGCM_IV_AT, enc ? 1 : 0, NULL) != 1)
		return CKR_FUNCTION_FAILED;
	if ((rv = ch_cipher_run(c, NULL, hdr, CH_VERSIONED_HEADER_LEN, &w)) != CKR_OK)
		return rv;
	if (st->aad_len > 0 && (rv = ch_cipher_run(c, NULL, st->aad, st->aad_len, &w)) != CKR_OK)
		return rv;
	return CKR_OK;
}

static CK_RV vgcm_seal(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                       CK_ULONG *out_len)
{
	vgcm_state *st = op->st;
	EVP_CIPHER_CTX *c = NULL;
	CK_BYTE *hdr = out, *ct = out + CH_VERSIONED_HEADER_LEN, tail[EVP_MAX_BLOCK_LENGTH];
	OSSL_PARAM prm[2];
	size_t w = 0;
	int f = 0;
	CK_RV rv = CKR_GENERAL_ERROR;

	if (st->n != 1)
		goto out;
	header_prefix(hdr, kind_of(op), st->fam, st->version);
	if ((rv = ch_random(hdr + VGCM_IV_AT, VGCM_IV_LEN)) != CKR_OK)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	if ((rv = gcm_setup(st, c, true, st->keys[0].key, hdr)) != CKR_OK)
		goto out;
	if (in_len > 0 && (rv = ch_cipher_run(c, ct, in, in_len, &w)) != CKR_OK)
		goto out;
	rv = CKR_FUNCTION_FAILED;
	if (w != in_len || EVP_EncryptFinal_ex(c, tail, &f) != 1 || f != 0)
		goto out;
	prm[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, ct + in_len,
	                                           CH_VERSIONED_TAG_LEN);
	prm[1] = OSSL_PARAM_construct_end();
	if (EVP_CIPHER_CTX_get_params(c, prm) != 1)
		goto out;
	*out_len = in_len + VGCM_OVERHEAD;
	rv = CKR_OK;
out:
	if (rv != CKR_OK)
		OPENSSL_cleanse(out, *out_len);
	EVP_CIPHER_CTX_free(c);
	return rv;
}

static CK_RV vgcm_open(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                       CK_ULONG *out_len)
{
	const CK_BYTE magic[4] = { 'C', 'H', 0x01, kind_of(op) };
	vgcm_state *st = op->st;
	EVP_CIPHER_CTX *c = NULL;
	const vgcm_key *k = NULL;
	CK_ULONG n = in_len - VGCM_OVERHEAD, ver = 0;
	CK_BYTE tag[CH_VERSIONED_TAG_LEN], tail[EVP_MAX_BLOCK_LENGTH];
	OSSL_PARAM prm[2];
	size_t w = 0;
	int f = 0;
	CK_RV rv = CKR_ENCRYPTED_DATA_INVALID;

	if (memcmp(in, magic, sizeof(magic)) != 0 || memcmp(in + 4, st->fam, CH_FAMILY_ID_LEN) != 0)
		goto out;
	for (int i = 0; i < 4; i++)
		ver = (ver << 8) | in[12 + i];
	if (ver == 0)
		goto out;
	for (size_t i = 0; i < st->n && k == NULL; i++)
		if (st->keys[i].version == ver)
			k = &st->keys[i];
	rv = CKR_CH_KEY_VERSION_UNUSABLE;
	if (k == NULL)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	if ((rv = gcm_setup(st, c, false, k->key, in)) != CKR_OK)
		goto out;
	memcpy(tag, in + CH_VERSIONED_HEADER_LEN + n, sizeof(tag));
	prm[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, sizeof(tag));
	prm[1] = OSSL_PARAM_construct_end();
	rv = CKR_FUNCTION_FAILED;
	if (EVP_CIPHER_CTX_set_params(c, prm) != 1)
		goto out;
	if (n > 0 && (rv = ch_cipher_run(c, out, in + CH_VERSIONED_HEADER_LEN, n, &w)) != CKR_OK)
		goto out;
	rv = CKR_GENERAL_ERROR;
	if (w != n)
		goto out;
	/* The tag is compared inside OpenSSL's GCM. */
	rv = CKR_ENCRYPTED_DATA_INVALID;
	if (EVP_DecryptFinal_ex(c, tail, &f) != 1 || f != 0)
		goto out;
	*out_len = n;
	rv = CKR_OK;
out:
	if (rv != CKR_OK && n > 0)
		OPENSSL_cleanse(out, n);
	OPENSSL_cleanse(tail, sizeof(tail));
	EVP_CIPHER_CTX_free(c);
	return rv;
}

static CK_RV vgcm_oneshot(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                          CK_ULONG *out_len)
{
	static const CK_BYTE none[1];

	if (in == NULL)
		in = none; /* in_len is 0 */
	if (ch_op_encrypts(op))
		return vgcm_seal(op, in, in_len, out, out_len);
	return vgcm_open(op, in, in_len, out, out_len);
}

static void vgcm_cleanup(ch_op *op)
{
	vgcm_state *st = op->st;

	OPENSSL_clear_free(st->aad, st->aad_len);
	OPENSSL_secure_clear_free(st->keys, st->cap * sizeof(*st->keys));
	st->aad = NULL;
	st->keys = NULL;
}

static const ch_mech_ops vgcm_ops = {
	.state_size = sizeof(vgcm_state),
	.param = vgcm_param,
	.start = vgcm_start,
	.out_len = vgcm_out_len,
	.oneshot = vgcm_oneshot,
	.cleanup = vgcm_cleanup,
};

CK_RV ch_op_add_key(ch_op *op, const ch_attrs *key)
{
	CK_ULONG cls, kt;
	CK_RV rv;

	if (op == NULL || key == NULL || op->row->ops != &vgcm_ops || !ch_op_decrypts(op) ||
	    op->state != CH_OP_FRESH)
		return CKR_ARGUMENTS_BAD;
	if (!ch_attrs_ulong(key, CKA_CLASS, &cls) || cls != CKO_SECRET_KEY ||
	    !ch_attrs_ulong(key, CKA_KEY_TYPE, &kt) || kt != CKK_AES)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (!ch_attrs_bool(key, op->kind == CH_OP_DECRYPT ? CKA_DECRYPT : CKA_UNWRAP, false))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	ERR_set_mark();
	rv = set_add(op, key);
	ERR_pop_to_mark();
	return rv;
}

static const ch_mech vgcm_table[] = {
	{
	        .type = CKM_CH_AES_GCM_VERSIONED,
	        .info = { VGCM_KEY_LEN, VGCM_KEY_LEN,
	                  CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP },
	        .flags = CH_MECH_SINGLE_PART,
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_AES,
	        .ops = &vgcm_ops,
	},
};

const ch_mech_family ch_family_vgcm = CH_FAMILY(vgcm_table);
