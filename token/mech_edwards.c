/*
 * Edwards and Montgomery curves (PKCS#11 3.0 sections 2.3.5 to 2.3.8):
 * CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA on Ed25519 and Ed448
 * (CKK_EC_EDWARDS), CKM_EC_MONTGOMERY_KEY_PAIR_GEN on X25519 and X448
 * (CKK_EC_MONTGOMERY; their key agreement is CKM_ECDH1_DERIVE, in
 * mech_ecdh.c), and the key codecs ch_ecx_pkey_load/ch_ecx_pkey_store.
 *
 * Encodings (curves and parsing in mech_ec.c):
 *   CKA_EC_PARAMS  the curve's OID (1.3.101.112/113 for Ed25519/Ed448,
 *                  110/111 for X25519/X448) or its PrintableString name;
 *                  generated keys copy what the template gave;
 *   CKA_EC_POINT   the RFC 8032 / RFC 7748 public key (32, 57 or 56
 *                  bytes) in a DER OCTET STRING on output; bare on input
 *                  too (the two differ in length);
 *   CKA_VALUE      the RFC 8032 private key (the seed) or the RFC 7748
 *                  scalar, as the RFCs give them (OpenSSL clamps X25519 and
 *                  X448 scalars itself).
 *
 * EdDSA.  OpenSSL 3.0 (Debian 12) does only pure EdDSA: its "instance"
 * signature parameter, which selects Ed25519ctx, Ed25519ph and Ed448ph and
 * carries a context string, arrived in OpenSSL 3.2.  So CKM_EDDSA takes no
 * parameter (pure Ed25519 or Ed448), or a CK_EDDSA_PARAMS that names pure
 * Ed448 (phFlag false, no context: Ed448 with an empty context is exactly
 * what OpenSSL computes); every other CK_EDDSA_PARAMS, on either curve
 * (Ed25519ctx, Ed25519ph, Ed448 with a context, Ed448ph), is
 * CKR_MECHANISM_PARAM_INVALID.  Pure EdDSA hashes the message twice, so a
 * multi-part operation buffers the message and signs it in the final call.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mech_ec.h"

CK_RV ch_ecx_pkey_load(const ch_attrs *key, bool priv, EVP_PKEY **out)
{
	const ch_ec_curve *c = NULL;
	const ch_attr *v;
	const CK_BYTE *pt;
	size_t pt_len;
	CK_RV rv;

	*out = NULL;
	if (ch_pkey_memo(key, priv, out))
		return CKR_OK;
	if ((rv = ch_ec_key_curve(key, &c)) != CKR_OK)
		return rv;
	if (c->kt != CKK_EC_EDWARDS && c->kt != CKK_EC_MONTGOMERY)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (priv) {
		v = ch_attrs_get(key, CKA_VALUE);
		if (v == NULL || v->value == NULL)
			return CKR_KEY_TYPE_INCONSISTENT;
		if (v->len != c->bytes)
			return CKR_KEY_SIZE_RANGE;
		*out = EVP_PKEY_new_raw_private_key_ex(NULL, c->name, NULL, v->value, v->len);
		return *out != NULL ? CKR_OK : CKR_KEY_TYPE_INCONSISTENT;
	}
	v = ch_attrs_get(key, CKA_EC_POINT);
	if (v == NULL || !ch_ec_point_find(c, v->value, v->len, &pt, &pt_len))
		return CKR_KEY_TYPE_INCONSISTENT;
	return ch_ec_public_from_point(c, pt, pt_len, out);
}

CK_RV ch_ecx_pkey_store(EVP_PKEY *pkey, ch_attrs *key)
{
	const ch_ec_curve *c;
	const char *type = EVP_PKEY_get0_type_name(pkey);
	CK_BYTE raw[CH_EC_SCALAR_MAX];
	size_t len = sizeof(raw);
	CK_ULONG kt;
	CK_RV rv = CKR_WRAPPED_KEY_INVALID;

	if (type == NULL || (c = ch_ec_curve_by_name(type)) == NULL || c->kt == CKK_EC)
		goto out;
	if (ch_attrs_ulong(key, CKA_KEY_TYPE, &kt) && kt != c->kt)
		goto out;
	if (EVP_PKEY_get_raw_private_key(pkey, raw, &len) != 1 || len != c->bytes)
		goto out;
	if ((rv = ch_attrs_set(key, CKA_EC_PARAMS, c->oid, c->oid_len)) != CKR_OK ||
	    (rv = ch_attrs_set(key, CKA_VALUE, raw, len)) != CKR_OK)
		goto out;
	rv = CKR_OK;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return rv;
}

/* C_GenerateKeyPair with CKM_EC_EDWARDS_KEY_PAIR_GEN and
 * CKM_EC_MONTGOMERY_KEY_PAIR_GEN: the curve from the public template's
 * CKA_EC_PARAMS, of the row's key type. */
static CK_RV ecx_generate_key_pair(const ch_mech *row, const CK_MECHANISM *m, ch_attrs *pub,
                                   ch_attrs *priv)
{
	const ch_attr *params = ch_attrs_get(pub, CKA_EC_PARAMS);
	const ch_ec_curve *c = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	CK_BYTE pt[CH_EC_SCALAR_MAX], wrapped[CH_EC_SCALAR_MAX + 2], raw[CH_EC_SCALAR_MAX];
	size_t pt_len = sizeof(pt), raw_len = sizeof(raw), wrapped_len;
	CK_RV rv;

	if ((rv = ch_mech_no_param(m)) != CKR_OK)
		goto out;
	rv = CKR_TEMPLATE_INCOMPLETE;
	if (params == NULL)
		goto out;
	if ((rv = ch_ec_params_curve(params, row->key_type, &c)) != CKR_OK)
		goto out;
	rv = CKR_FUNCTION_FAILED;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, c->name, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_generate(ctx, &pkey) != 1)
		goto out;
	if (EVP_PKEY_get_raw_public_key(pkey, pt, &pt_len) != 1 || pt_len != c->bytes ||
	    EVP_PKEY_get_raw_private_key(pkey, raw, &raw_len) != 1 || raw_len != c->bytes)
		goto out;
	wrapped_len = ch_ec_point_wrap(pt, pt_len, wrapped);
	if ((rv = ch_attrs_set(pub, CKA_EC_POINT, wrapped, wrapped_len)) != CKR_OK ||
	    (rv = ch_attrs_set(priv, CKA_EC_PARAMS, params->value, params->len)) != CKR_OK ||
	    (rv = ch_attrs_set(priv, CKA_VALUE, raw, raw_len)) != CKR_OK)
		goto out;
	rv = CKR_OK;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	return rv;
}

static const ch_mech_ops ecx_keygen_ops = {
	.generate_key_pair = ecx_generate_key_pair,
};

/* Per-operation state of CKM_EDDSA. */
typedef struct eddsa_state {
	const ch_ec_curve *curve;
	bool has_params; /* a CK_EDDSA_PARAMS was given */
	bool ph;         /* its phFlag */
	CK_ULONG ctx_len;
} eddsa_state;

/* No parameter, or a CK_EDDSA_PARAMS; which variants the key's curve can
 * do is start's question. */
static CK_RV eddsa_param(ch_op *op, const CK_MECHANISM *m)
{
	eddsa_state *st = op->st;
	const CK_EDDSA_PARAMS *p = m->pParameter;

	if (m->ulParameterLen == 0)
		return CKR_OK;
	if (p == NULL || m->ulParameterLen != sizeof(*p) ||
	    (p->ulContextDataLen > 0 && p->pContextData == NULL) || p->ulContextDataLen > 255)
		return CKR_MECHANISM_PARAM_INVALID;
	st->has_params = true;
	st->ph = p->phFlag != CK_FALSE;
	st->ctx_len = p->ulContextDataLen;
	return CKR_OK;
}

static CK_RV eddsa_start(ch_op *op, const CK_MECHANISM *m, const ch_attrs *key)
{
	eddsa_state *st = op->st;
	bool sign = op->kind == CH_OP_SIGN;
	CK_RV rv;

	if ((rv = ch_ec_key_curve(key, &st->curve)) != CKR_OK)
		return rv;
	/* Only pure EdDSA (see the top of the file): Ed25519 without a
	 * parameter, Ed448 without one or with phFlag false and no context. */
	if (st->has_params &&
	    (strcmp(st->curve->name, "ED25519") == 0 || st->ph || st->ctx_len > 0))
		return CKR_MECHANISM_PARAM_INVALID;
	if ((rv = ch_ecx_pkey_load(key, sign, &op->pkey)) != CKR_OK)
		return rv;
	if ((op->mdctx = EVP_MD_CTX_new()) == NULL)
		return CKR_HOST_MEMORY;
	if ((sign ? EVP_DigestSignInit_ex(op->mdctx, NULL, NULL, NULL, NULL, op->pkey, NULL)
	          : EVP_DigestVerifyInit_ex(op->mdctx, NULL, NULL, NULL, NULL, op->pkey, NULL)) !=
	    1)
		return CKR_FUNCTION_FAILED;
	return CKR_OK;
}

static CK_RV eddsa_out_len(const ch_op *op, ch_stage stage, CK_ULONG in_len, CK_ULONG *need)
{
	const eddsa_state *st = op->st;

	*need = st->curve->sig_bytes;
	return CKR_OK;
}

/* Signs the whole message in (in_len bytes) into out. */
static CK_RV eddsa_sign(ch_op *op, const CK_BYTE *in, size_t in_len, CK_BYTE *out,
                        CK_ULONG *out_len)
{
	const eddsa_state *st = op->st;
	size_t n = st->curve->sig_bytes;

	if (EVP_DigestSign(op->mdctx, out, &n, in != NULL ? in : (const CK_BYTE *)"", in_len) !=
	            1 ||
	    n != st->curve->sig_bytes)
		return CKR_FUNCTION_FAILED;
	*out_len = n;
	return CKR_OK;
}

static CK_RV eddsa_oneshot(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                           CK_ULONG *out_len)
{
	return eddsa_sign(op, in, in_len, out, out_len);
}

static CK_RV eddsa_update(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                          CK_ULONG *out_len)
{
	return ch_op_buffer_append(op, in, in_len);
}

static CK_RV eddsa_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len)
{
	return eddsa_sign(op, op->buf, op->buf_len, out, out_len);
}

static CK_RV eddsa_verify(ch_op *op, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig,
                          CK_ULONG sig_len)
{
	const eddsa_state *st = op->st;

	if (sig_len != st->curve->sig_bytes)
		return CKR_SIGNATURE_LEN_RANGE;
	if (EVP_DigestVerify(op->mdctx, sig, sig_len, data != NULL ? data : (const CK_BYTE *)"",
	                     len) != 1)
		return CKR_SIGNATURE_INVALID;
	return CKR_OK;
}

static CK_RV eddsa_verify_final(ch_op *op, const CK_BYTE *sig, CK_ULONG sig_len)
{
	return eddsa_verify(op, op->buf, op->buf_len, sig, sig_len);
}

static const ch_mech_ops eddsa_ops = {
	.state_size = sizeof(eddsa_state),
	.param = eddsa_param,
	.start = eddsa_start,
	.out_len = eddsa_out_len,
	.oneshot = eddsa_oneshot,
	.update = eddsa_update,
	.final = eddsa_final,
	.verify = eddsa_verify,
	.verify_final = eddsa_verify_final,
};

/* Prime fields, curves named by OID or by curveName.  Sizes are field
 * bits: 255 (2^255 - 19) to 448 (2^448 - 2^224 - 1). */
#define ECX_FLAGS (CKF_EC_F_P | CKF_EC_OID | CKF_EC_CURVENAME)

static const ch_mech edwards_mechs[] = {
	{
	        .type = CKM_EC_EDWARDS_KEY_PAIR_GEN,
	        .info = { 255, 448, CKF_GENERATE_KEY_PAIR | ECX_FLAGS },
	        .key_use = CH_KEY_PAIR,
	        .key_type = CKK_EC_EDWARDS,
	        .ops = &ecx_keygen_ops,
	},
	{
	        .type = CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
	        .info = { 255, 448, CKF_GENERATE_KEY_PAIR | ECX_FLAGS },
	        .key_use = CH_KEY_PAIR,
	        .key_type = CKK_EC_MONTGOMERY,
	        .ops = &ecx_keygen_ops,
	},
	{
	        .type = CKM_EDDSA,
	        .info = { 255, 448, CKF_SIGN | CKF_VERIFY | ECX_FLAGS },
	        .key_use = CH_KEY_PAIR,
	        .key_type = CKK_EC_EDWARDS,
	        .ops = &eddsa_ops,
	},
};

const ch_mech_family ch_family_edwards = CH_FAMILY(edwards_mechs);
