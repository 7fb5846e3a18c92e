/*
 * The RSA family's operations (PKCS#11 3.0 mechanisms sections 2.1.6 to
 * 2.1.15): signatures with PKCS#1 v1.5, PSS and raw RSA, and encryption
 * (wrapping too) with PKCS#1 v1.5, OAEP and raw RSA, over OpenSSL's
 * EVP_PKEY_sign / verify / encrypt / decrypt.  Keys come from
 * ch_rsa_pkey_load (mech_rsa.c), the rows from mech_rsa.c's table.
 *
 * One set of hooks serves every row; the rows differ in their parameter
 * (one param hook per padding scheme) and in the hash their arg names.
 * Hash-then-sign rows (CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS, ...)
 * hash with a fetched EVP_MD over any number of updates and sign the
 * digest exactly as the raw row does (the padding's digest set on the
 * EVP_PKEY_CTX), so both share one path.
 *
 * Lengths, with k the modulus length in bytes and h the digest length:
 *   CKM_RSA_PKCS       sign, encrypt: at most k - 11 bytes in, k out;
 *                      decrypt: k in, at most k - 11 out;
 *   CKM_RSA_PKCS_OAEP  encrypt: at most k - 2h - 2 in; decrypt: k in;
 *   CKM_RSA_PKCS_PSS   sign: exactly h in (a digest of hashAlg);
 *   CKM_RSA_X_509      at most k bytes in, read as a number below the
 *                      modulus (left-padded with zeros); k bytes out.
 * Too much input is CKR_DATA_LEN_RANGE, a ciphertext of another length
 * than k CKR_ENCRYPTED_DATA_LEN_RANGE, a signature of another length
 * CKR_SIGNATURE_LEN_RANGE.
 *
 * No oracle: every way a PKCS#1 v1.5 or OAEP decryption can fail (padding,
 * label, a ciphertext above the modulus) is one call to EVP_PKEY_decrypt
 * that fails, and one code, CKR_ENCRYPTED_DATA_INVALID; the plaintext
 * lands in a wiped scratch buffer and reaches the caller only on success.
 * OpenSSL 3.2 and later answer a bad PKCS#1 v1.5 padding with a synthetic
 * plaintext (implicit rejection) unless told otherwise; where the headers
 * know that parameter it is turned off, so that an error is an error.
 *
 * Output lengths are bounds (out_is_bound): a decryption's length is known
 * only after it, so the run hooks answer CKR_BUFFER_TOO_SMALL themselves,
 * for signatures and encryption before doing any work.
 */
#include <limits.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "mech_rsa.h"

/* PKCS#1 v1.5 needs 11 bytes of padding (RFC 8017 sections 7.2.1, 8.2.1). */
#define PKCS1_OVERHEAD 11

typedef enum rsa_scheme {
	SCHEME_PKCS1, /* RSASSA-PKCS1-v1_5, RSAES-PKCS1-v1_5 */
	SCHEME_PSS,   /* RSASSA-PSS */
	SCHEME_OAEP,  /* RSAES-OAEP */
	SCHEME_X509,  /* raw RSA */
} rsa_scheme;

/* Per-operation state. */
typedef struct rsa_state {
	rsa_scheme scheme;
	ch_md_id hash;  /* what the token hashes the data with, or CH_MD_NONE */
	ch_md_id md;    /* the padding's digest (DigestInfo, PSS, OAEP), or NONE */
	ch_md_id mgf;   /* PSS and OAEP: the MGF1 digest */
	CK_ULONG salt;  /* PSS: sLen */
	bool label_set; /* OAEP: pSourceData given, to copy at start */
	size_t k;       /* modulus bytes */
} rsa_state;

/* The digests the PSS and OAEP parameters may name. */
static bool param_md_ok(ch_md_id md)
{
	switch (md) {
	case CH_MD_SHA1:
	case CH_MD_SHA224:
	case CH_MD_SHA256:
	case CH_MD_SHA384:
	case CH_MD_SHA512:
	case CH_MD_SHA3_224:
	case CH_MD_SHA3_256:
	case CH_MD_SHA3_384:
	case CH_MD_SHA3_512:
		return true;
	default:
		return false;
	}
}

/* CKM_RSA_PKCS and CKM_SHA*_RSA_PKCS: no parameter. */
static CK_RV pkcs1_param(ch_op *op, const CK_MECHANISM *m)
{
	rsa_state *st = op->st;

	st->scheme = SCHEME_PKCS1;
	st->hash = st->md = (ch_md_id)op->row->arg;
	return ch_mech_no_param(m);
}

static CK_RV x509_param(ch_op *op, const CK_MECHANISM *m)
{
	rsa_state *st = op->st;

	st->scheme = SCHEME_X509;
	st->hash = st->md = CH_MD_NONE;
	return ch_mech_no_param(m);
}

/* CK_RSA_PKCS_PSS_PARAMS: hashAlg (which a hash-then-sign row fixes), mgf
 * and sLen (checked against the key at start). */
static CK_RV pss_param(ch_op *op, const CK_MECHANISM *m)
{
	rsa_state *st = op->st;
	CK_RSA_PKCS_PSS_PARAMS p;

	st->scheme = SCHEME_PSS;
	st->hash = (ch_md_id)op->row->arg;
	if (m->pParameter == NULL || m->ulParameterLen != sizeof(p))
		return CKR_MECHANISM_PARAM_INVALID;
	memcpy(&p, m->pParameter, sizeof(p));
	st->md = ch_md_from_mech(p.hashAlg);
	st->mgf = ch_md_from_mgf(p.mgf);
	st->salt = p.sLen;
	if (!param_md_ok(st->md) || !param_md_ok(st->mgf))
		return CKR_MECHANISM_PARAM_INVALID;
	if (st->hash != CH_MD_NONE && st->md != st->hash)
		return CKR_MECHANISM_PARAM_INVALID;
	return CKR_OK;
}

/* CK_RSA_PKCS_OAEP_PARAMS: hashAlg, mgf, and the label as
 * CKZ_DATA_SPECIFIED data.  A source of 0 with no data is taken as no
 * label too (pkcs11-tool and other clients send that). */
static CK_RV oaep_param(ch_op *op, const CK_MECHANISM *m)
{
	rsa_state *st = op->st;
	CK_RSA_PKCS_OAEP_PARAMS p;

	st->scheme = SCHEME_OAEP;
	st->hash = CH_MD_NONE;
	if (m->pParameter == NULL || m->ulParameterLen != sizeof(p))
		return CKR_MECHANISM_PARAM_INVALID;
	memcpy(&p, m->pParameter, sizeof(p));
	st->md = ch_md_from_mech(p.hashAlg);
	st->mgf = ch_md_from_mgf(p.mgf);
	if (!param_md_ok(st->md) || !param_md_ok(st->mgf))
		return CKR_MECHANISM_PARAM_INVALID;
	if (p.source != CKZ_DATA_SPECIFIED && !(p.source == 0 && p.ulSourceDataLen == 0))
		return CKR_MECHANISM_PARAM_INVALID;
	if ((p.pSourceData == NULL && p.ulSourceDataLen > 0) || p.ulSourceDataLen > INT_MAX)
		return CKR_MECHANISM_PARAM_INVALID;
	st->label_set = p.ulSourceDataLen > 0;
	return CKR_OK;
}

/* The OpenSSL padding mode of a scheme. */
static int scheme_padding(rsa_scheme s)
{
	switch (s) {
	case SCHEME_PSS:
		return RSA_PKCS1_PSS_PADDING;
	case SCHEME_OAEP:
		return RSA_PKCS1_OAEP_PADDING;
	case SCHEME_X509:
		return RSA_NO_PADDING;
	default:
		return RSA_PKCS1_PADDING;
	}
}

/* PSS: the salt must fit the encoded message (RFC 8017 section 9.1.1:
 * emLen >= hLen + sLen + 2, emLen = ceil((modBits - 1) / 8)). */
static CK_RV pss_salt_check(const rsa_state *st, int bits)
{
	size_t em_len = ((size_t)bits - 1 + 7) / 8, h = ch_md_size(st->md);

	if (st->salt > INT_MAX || em_len < h + 2 || st->salt > em_len - h - 2)
		return CKR_MECHANISM_PARAM_INVALID;
	return CKR_OK;
}

/* Sets the scheme's parameters on op->pctx (initialised for the kind). */
static CK_RV rsa_ctx_params(ch_op *op, const CK_MECHANISM *m)
{
	rsa_state *st = op->st;
	EVP_PKEY_CTX *c = op->pctx;
	bool sig = op->kind == CH_OP_SIGN || op->kind == CH_OP_VERIFY;
	CK_RSA_PKCS_OAEP_PARAMS p;
	void *label;

	if (EVP_PKEY_CTX_set_rsa_padding(c, scheme_padding(st->scheme)) != 1)
		return CKR_FUNCTION_FAILED;
	if (sig && st->md != CH_MD_NONE) {
		if (ch_mech_md(st->md) == NULL)
			return CKR_GENERAL_ERROR;
		if (EVP_PKEY_CTX_set_signature_md(c, ch_mech_md(st->md)) != 1)
			return CKR_FUNCTION_FAILED;
	}
	if (st->scheme == SCHEME_PSS) {
		if (ch_mech_md(st->mgf) == NULL)
			return CKR_GENERAL_ERROR;
		if (EVP_PKEY_CTX_set_rsa_mgf1_md(c, ch_mech_md(st->mgf)) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(c, (int)st->salt) != 1)
			return CKR_FUNCTION_FAILED;
	}
	if (st->scheme == SCHEME_OAEP) {
		if (ch_mech_md(st->md) == NULL || ch_mech_md(st->mgf) == NULL)
			return CKR_GENERAL_ERROR;
		if (EVP_PKEY_CTX_set_rsa_oaep_md(c, ch_mech_md(st->md)) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(c, ch_mech_md(st->mgf)) != 1)
			return CKR_FUNCTION_FAILED;
		if (st->label_set) {
			/* param saw the same mechanism and kept no pointer. */
			memcpy(&p, m->pParameter, sizeof(p));
			if ((label = OPENSSL_memdup(p.pSourceData, p.ulSourceDataLen)) == NULL)
				return CKR_HOST_MEMORY;
			if (EVP_PKEY_CTX_set0_rsa_oaep_label(c, label, (int)p.ulSourceDataLen) !=
			    1) {
				OPENSSL_free(label);
				return CKR_FUNCTION_FAILED;
			}
		}
	}
#ifdef OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION
	if (st->scheme == SCHEME_PKCS1 && ch_op_decrypts(op)) {
		unsigned int off = 0;
		OSSL_PARAM prm[] = {
			OSSL_PARAM_construct_uint(OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION, &off),
			OSSL_PARAM_construct_end(),
		};

		if (EVP_PKEY_CTX_set_params(c, prm) != 1)
			return CKR_FUNCTION_FAILED;
	}
#endif
	return CKR_OK;
}

static CK_RV rsa_start(ch_op *op, const CK_MECHANISM *m, const ch_attrs *key)
{
	rsa_state *st = op->st;
	bool priv = op->kind == CH_OP_SIGN || ch_op_decrypts(op);
	int ok, bits;
	CK_RV rv;

	if ((rv = ch_rsa_pkey_load(key, priv, &op->pkey)) != CKR_OK)
		goto out;
	bits = EVP_PKEY_get_bits(op->pkey);
	st->k = (size_t)EVP_PKEY_get_size(op->pkey);
	if (st->scheme == SCHEME_PSS && (rv = pss_salt_check(st, bits)) != CKR_OK)
		goto out;

	rv = CKR_HOST_MEMORY;
	if ((op->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, op->pkey, NULL)) == NULL)
		goto out;
	if (op->kind == CH_OP_SIGN)
		ok = EVP_PKEY_sign_init(op->pctx);
	else if (op->kind == CH_OP_VERIFY)
		ok = EVP_PKEY_verify_init(op->pctx);
	else if (ch_op_encrypts(op))
		ok = EVP_PKEY_encrypt_init(op->pctx);
	else
		ok = EVP_PKEY_decrypt_init(op->pctx);
	rv = CKR_FUNCTION_FAILED;
	if (ok != 1)
		goto out;
	if ((rv = rsa_ctx_params(op, m)) != CKR_OK)
		goto out;

	if (st->hash != CH_MD_NONE) {
		rv = CKR_GENERAL_ERROR;
		if (ch_mech_md(st->hash) == NULL)
			goto out;
		rv = CKR_HOST_MEMORY;
		if ((op->mdctx = EVP_MD_CTX_new()) == NULL)
			goto out;
		rv = CKR_FUNCTION_FAILED;
		if (EVP_DigestInit_ex2(op->mdctx, ch_mech_md(st->hash), NULL) != 1)
			goto out;
	}
	rv = CKR_OK;
out:
	return rv;
}

/* The most a scheme encrypts (and a decryption yields) with this key. */
static size_t plain_max(const rsa_state *st)
{
	size_t over;

	switch (st->scheme) {
	case SCHEME_PKCS1:
		over = PKCS1_OVERHEAD;
		break;
	case SCHEME_OAEP:
		over = 2 * ch_md_size(st->md) + 2;
		break;
	default:
		over = 0;
		break;
	}
	return st->k > over ? st->k - over : 0;
}

/* The input rule of a row that signs or verifies its input as given
 * (no hash of its own): CKR_OK or CKR_DATA_LEN_RANGE. */
static CK_RV raw_sig_input_ok(const rsa_state *st, CK_ULONG len)
{
	switch (st->scheme) {
	case SCHEME_PSS:
		return len == ch_md_size(st->md) ? CKR_OK : CKR_DATA_LEN_RANGE;
	case SCHEME_PKCS1:
		return len <= plain_max(st) ? CKR_OK : CKR_DATA_LEN_RANGE;
	default:
		return len <= st->k ? CKR_OK : CKR_DATA_LEN_RANGE;
	}
}

static CK_RV rsa_out_len(const ch_op *op, ch_stage stage, CK_ULONG in_len, CK_ULONG *need)
{
	const rsa_state *st = op->st;
	CK_RV rv = CKR_OK;

	if (ch_op_decrypts(op)) {
		if (in_len != st->k)
			return CKR_ENCRYPTED_DATA_LEN_RANGE;
		*need = plain_max(st);
		return CKR_OK;
	}
	if (ch_op_encrypts(op))
		rv = in_len <= plain_max(st) ? CKR_OK : CKR_DATA_LEN_RANGE;
	else if (stage == CH_STAGE_ONESHOT && st->hash == CH_MD_NONE)
		rv = raw_sig_input_ok(st, in_len);
	*need = st->k;
	return rv;
}

/* 1 when a < b, both len-byte big-endian numbers, in time that does not
 * depend on their values: the borrow out of a - b. */
static unsigned int be_less(const CK_BYTE *a, const CK_BYTE *b, size_t len)
{
	unsigned int borrow = 0, d;

	for (size_t i = len; i-- > 0;) {
		d = (unsigned int)a[i] - b[i] - borrow;
		borrow = (d >> 8) & 1;
	}
	return borrow;
}

/* Raw RSA input: in (at most k bytes) left-padded into buf (k bytes),
 * which must then be below the modulus.  CKR_OK or CKR_DATA_LEN_RANGE. */
static CK_RV x509_input(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *buf)
{
	const rsa_state *st = op->st;
	BIGNUM *n = NULL;
	CK_BYTE *nb = NULL;
	CK_RV rv = CKR_DATA_LEN_RANGE;

	if (in_len > st->k)
		goto out;
	memset(buf, 0, st->k - in_len);
	if (in_len > 0)
		memcpy(buf + st->k - in_len, in, in_len);
	rv = CKR_HOST_MEMORY;
	if ((nb = OPENSSL_malloc(st->k)) == NULL)
		goto out;
	rv = CKR_FUNCTION_FAILED;
	if (EVP_PKEY_get_bn_param(op->pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    BN_bn2binpad(n, nb, (int)st->k) != (int)st->k)
		goto out;
	rv = be_less(buf, nb, st->k) ? CKR_OK : CKR_DATA_LEN_RANGE;
out:
	OPENSSL_free(nb);
	BN_free(n);
	return rv;
}

/* The value the padding signs or verifies: the digest of everything fed
 * so far plus in for the hashing rows, else in itself (raw RSA: padded to
 * k bytes in scratch).  h has room for EVP_MAX_MD_SIZE bytes, scratch for
 * k bytes. */
static CK_RV rsa_tbs(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *h, CK_BYTE *scratch,
                     const CK_BYTE **tbs, size_t *tbs_len)
{
	const rsa_state *st = op->st;
	unsigned int n = 0;
	CK_RV rv;

	if (op->mdctx != NULL) {
		if ((in_len > 0 && EVP_DigestUpdate(op->mdctx, in, in_len) != 1) ||
		    EVP_DigestFinal_ex(op->mdctx, h, &n) != 1)
			return CKR_FUNCTION_FAILED;
		*tbs = h;
		*tbs_len = n;
		return CKR_OK;
	}
	if ((rv = raw_sig_input_ok(st, in_len)) != CKR_OK)
		return rv;
	if (st->scheme == SCHEME_X509) {
		if ((rv = x509_input(op, in, in_len, scratch)) != CKR_OK)
			return rv;
		*tbs = scratch;
		*tbs_len = st->k;
		return CKR_OK;
	}
	*tbs = in != NULL ? in : (const CK_BYTE *)"";
	*tbs_len = in_len;
	return CKR_OK;
}

/* Signs (the rest of) the data into out, which has room for *out_len. */
static CK_RV rsa_sign(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                      CK_ULONG *out_len)
{
	const rsa_state *st = op->st;
	CK_BYTE h[EVP_MAX_MD_SIZE], *scratch = NULL;
	const CK_BYTE *tbs;
	size_t tbs_len, sig_len = st->k;
	CK_RV rv;

	if (*out_len < st->k) {
		*out_len = st->k;
		return CKR_BUFFER_TOO_SMALL;
	}
	rv = CKR_HOST_MEMORY;
	if ((scratch = OPENSSL_malloc(st->k)) == NULL)
		goto out;
	if ((rv = rsa_tbs(op, in, in_len, h, scratch, &tbs, &tbs_len)) != CKR_OK)
		goto out;
	rv = CKR_FUNCTION_FAILED;
	if (EVP_PKEY_sign(op->pctx, out, &sig_len, tbs, tbs_len) != 1 || sig_len != st->k)
		goto out;
	*out_len = sig_len;
	rv = CKR_OK;
out:
	OPENSSL_cleanse(h, sizeof(h));
	OPENSSL_clear_free(scratch, st->k);
	return rv;
}

/* Encrypts in into out (room for *out_len bytes; k needed). */
static CK_RV rsa_encrypt(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                         CK_ULONG *out_len)
{
	const rsa_state *st = op->st;
	CK_BYTE *scratch = NULL;
	const CK_BYTE *pt = in != NULL ? in : (const CK_BYTE *)"";
	size_t pt_len = in_len, ct_len = st->k;
	CK_RV rv;

	if (*out_len < st->k) {
		*out_len = st->k;
		return CKR_BUFFER_TOO_SMALL;
	}
	rv = CKR_DATA_LEN_RANGE;
	if (in_len > plain_max(st))
		goto out;
	if (st->scheme == SCHEME_X509) {
		rv = CKR_HOST_MEMORY;
		if ((scratch = OPENSSL_malloc(st->k)) == NULL)
			goto out;
		if ((rv = x509_input(op, in, in_len, scratch)) != CKR_OK)
			goto out;
		pt = scratch;
		pt_len = st->k;
	}
	rv = CKR_FUNCTION_FAILED;
	if (EVP_PKEY_encrypt(op->pctx, out, &ct_len, pt, pt_len) != 1 || ct_len != st->k)
		goto out;
	*out_len = ct_len;
	rv = CKR_OK;
out:
	OPENSSL_clear_free(scratch, st->k);
	return rv;
}

/* Decrypts in (k bytes) into a wiped scratch buffer and hands the
 * plaintext over only when it decrypted and fits.  Every failure of the
 * decryption itself is CKR_ENCRYPTED_DATA_INVALID. */
static CK_RV rsa_decrypt(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                         CK_ULONG *out_len)
{
	const rsa_state *st = op->st;
	CK_BYTE *pt = NULL;
	size_t pt_len = st->k;
	CK_RV rv = CKR_ENCRYPTED_DATA_LEN_RANGE;

	if (in_len != st->k)
		goto out;
	/* Room for the longest plaintext (the bound the length query gives) is
	 * asked before decrypting: a short buffer answered only after a good
	 * padding would tell good paddings from bad ones (Bleichenbacher's
	 * oracle through the buffer size). */
	if (*out_len < plain_max(st)) {
		*out_len = plain_max(st);
		rv = CKR_BUFFER_TOO_SMALL;
		goto out;
	}
	rv = CKR_HOST_MEMORY;
	if ((pt = OPENSSL_secure_malloc(st->k)) == NULL)
		goto out;
	rv = CKR_ENCRYPTED_DATA_INVALID;
	if (EVP_PKEY_decrypt(op->pctx, pt, &pt_len, in, in_len) != 1 || pt_len > st->k)
		goto out;
	if (pt_len > 0)
		memcpy(out, pt, pt_len);
	*out_len = pt_len;
	rv = CKR_OK;
out:
	OPENSSL_secure_clear_free(pt, st->k);
	return rv;
}

static CK_RV rsa_oneshot(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                         CK_ULONG *out_len)
{
	if (ch_op_decrypts(op))
		return rsa_decrypt(op, in, in_len, out, out_len);
	if (ch_op_encrypts(op))
		return rsa_encrypt(op, in, in_len, out, out_len);
	return rsa_sign(op, in, in_len, out, out_len);
}

/* C_SignUpdate, C_VerifyUpdate of the hashing rows (the others are
 * single-part, and encryption never gets here). */
static CK_RV rsa_update(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                        CK_ULONG *out_len)
{
	(void)out;
	(void)out_len;
	if (op->mdctx == NULL)
		return CKR_FUNCTION_NOT_SUPPORTED;
	if (in_len > 0 && EVP_DigestUpdate(op->mdctx, in, in_len) != 1)
		return CKR_FUNCTION_FAILED;
	return CKR_OK;
}

static CK_RV rsa_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len)
{
	if (op->mdctx == NULL)
		return CKR_FUNCTION_NOT_SUPPORTED;
	return rsa_sign(op, NULL, 0, out, out_len);
}

static CK_RV rsa_verify(ch_op *op, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig,
                        CK_ULONG sig_len)
{
	const rsa_state *st = op->st;
	CK_BYTE h[EVP_MAX_MD_SIZE], *scratch = NULL;
	const CK_BYTE *tbs;
	size_t tbs_len;
	CK_RV rv = CKR_SIGNATURE_LEN_RANGE;

	if (sig_len != st->k)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((scratch = OPENSSL_malloc(st->k)) == NULL)
		goto out;
	if ((rv = rsa_tbs(op, data, len, h, scratch, &tbs, &tbs_len)) != CKR_OK)
		goto out;
	rv = EVP_PKEY_verify(op->pctx, sig, sig_len, tbs, tbs_len) == 1 ? CKR_OK
	                                                                : CKR_SIGNATURE_INVALID;
out:
	OPENSSL_cleanse(h, sizeof(h));
	OPENSSL_clear_free(scratch, st->k);
	return rv;
}

static CK_RV rsa_verify_final(ch_op *op, const CK_BYTE *sig, CK_ULONG sig_len)
{
	if (op->mdctx == NULL)
		return CKR_FUNCTION_NOT_SUPPORTED;
	return rsa_verify(op, NULL, 0, sig, sig_len);
}

/* clang-format off */
#define RSA_OPS(param_fn)                                                                          \
	{ .state_size = sizeof(rsa_state), .param = (param_fn), .start = rsa_start,                \
	  .out_len = rsa_out_len, .out_is_bound = true, .oneshot = rsa_oneshot,                    \
	  .update = rsa_update, .final = rsa_final, .verify = rsa_verify,                          \
	  .verify_final = rsa_verify_final }
/* clang-format on */

const ch_mech_ops ch_rsa_pkcs1_ops = RSA_OPS(pkcs1_param);
const ch_mech_ops ch_rsa_pss_ops = RSA_OPS(pss_param);
const ch_mech_ops ch_rsa_oaep_ops = RSA_OPS(oaep_param);
const ch_mech_ops ch_rsa_x509_ops = RSA_OPS(x509_param);
