/*
 * The elliptic-curve family: CKM_EC_KEY_PAIR_GEN, CKM_ECDSA and
 * CKM_ECDSA_SHA256 (PKCS#11 3.0 section 2.3), over OpenSSL's EVP_PKEY API,
 * on the NIST prime curves P-256, P-384 and P-521.
 *
 * The PKCS#11 encodings, which OpenSSL does not use, are translated here:
 *   CKA_EC_PARAMS  the DER of the curve's OBJECT IDENTIFIER (the namedCurve
 *                  choice of ECParameters; the other choices are
 *                  CKR_CURVE_NOT_SUPPORTED);
 *   CKA_EC_POINT   a DER OCTET STRING around the uncompressed point (what
 *                  this token writes); a bare point is accepted on input;
 *   CKA_VALUE      the private scalar, big-endian, field-size bytes;
 *   signatures     r || s, each left-padded to the field size (what IEEE
 *                  P1363 calls the fixed-size format), where OpenSSL speaks
 *                  DER ECDSA-Sig-Value.
 *
 * Hash-then-sign rows (CKM_ECDSA_SHA256, and later SHA-384/512) hash with
 * a fetched EVP_MD and sign the hash exactly as CKM_ECDSA does, so both
 * rows share one code path; ECDSA truncates a hash longer than the group
 * order as the standard says.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "mech_impl.h"

typedef struct ec_curve {
	const char *name;   /* OpenSSL group name */
	const CK_BYTE *oid; /* DER OBJECT IDENTIFIER, tag and length included */
	size_t oid_len;
	CK_ULONG bits; /* field size, as CK_MECHANISM_INFO counts it */
	size_t bytes;  /* field (and scalar, and r, s) size in bytes */
} ec_curve;

static const CK_BYTE oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const CK_BYTE oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const CK_BYTE oid_p521[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };

static const ec_curve curves[] = {
	{ "P-256", oid_p256, sizeof(oid_p256), 256, 32 },
	{ "P-384", oid_p384, sizeof(oid_p384), 384, 48 },
	{ "P-521", oid_p521, sizeof(oid_p521), 521, 66 },
};

#define EC_POINT_MAX   (2 * 66 + 1) /* uncompressed P-521 point */
#define EC_SIG_DER_MAX 256          /* DER ECDSA-Sig-Value, P-521 needs 139 */

/* DER tags of the ECParameters choices (X9.62, PKCS#11 3.0 2.3.3). */
#define DER_OCTET_STRING 0x04
#define DER_NULL         0x05
#define DER_OID          0x06
#define DER_PRINTABLE    0x13
#define DER_SEQUENCE     0x30

/* Reads one DER header: tag in *tag, content at *body of *body_len bytes,
 * which must end exactly at the end of der.  False when malformed. */
static bool der_single(const CK_BYTE *der, size_t len, CK_BYTE *tag, const CK_BYTE **body,
                       size_t *body_len)
{
	size_t hdr, n;

	if (der == NULL || len < 2)
		return false;
	*tag = der[0];
	if (der[1] < 0x80) {
		hdr = 2;
		n = der[1];
	} else if (der[1] == 0x81 && len >= 3 && der[2] >= 0x80) {
		hdr = 3;
		n = der[2];
	} else if (der[1] == 0x82 && len >= 4 && der[2] != 0) {
		hdr = 4;
		n = (size_t)der[2] << 8 | der[3];
	} else {
		return false; /* indefinite, non-minimal or absurdly long */
	}
	if (n != len - hdr)
		return false;
	*body = der + hdr;
	*body_len = n;
	return true;
}

/* True when body is a well-formed OBJECT IDENTIFIER content: base-128
 * subidentifiers, minimally encoded, the last one complete. */
static bool der_oid_ok(const CK_BYTE *body, size_t len)
{
	size_t i;
	bool start = true;

	if (len == 0 || (body[len - 1] & 0x80))
		return false;
	for (i = 0; i < len; i++) {
		if (start && body[i] == 0x80)
			return false;
		start = !(body[i] & 0x80);
	}
	return true;
}

/* Maps CKA_EC_PARAMS to a curve.  CKR_OK, CKR_CURVE_NOT_SUPPORTED for a
 * well-formed choice this token lacks, CKR_ATTRIBUTE_VALUE_INVALID for
 * anything malformed. */
static CK_RV ec_params_curve(const ch_attr *a, const ec_curve **out)
{
	const CK_BYTE *body;
	size_t n, i;
	CK_BYTE tag;

	if (a == NULL || !der_single(a->value, a->len, &tag, &body, &n))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	switch (tag) {
	case DER_OID:
		if (!der_oid_ok(body, n))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
			if (curves[i].oid_len == a->len &&
			    memcmp(curves[i].oid, a->value, a->len) == 0) {
				*out = &curves[i];
				return CKR_OK;
			}
		}
		return CKR_CURVE_NOT_SUPPORTED;
	case DER_NULL:
		return n == 0 ? CKR_CURVE_NOT_SUPPORTED : CKR_ATTRIBUTE_VALUE_INVALID;
	case DER_SEQUENCE:  /* explicit ecParameters */
	case DER_PRINTABLE: /* curveName */
		return CKR_CURVE_NOT_SUPPORTED;
	default:
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
}

/* Finds the uncompressed point 04||X||Y in a CKA_EC_POINT value: a DER
 * OCTET STRING around it, or the bare point (the two cannot be confused:
 * their lengths differ).  Compressed points are refused, as the mechanism
 * info says (CKF_EC_UNCOMPRESS only).  OpenSSL checks that the point is on
 * the curve when the key is built. */
static bool ec_point_find(const ec_curve *c, const CK_BYTE *v, size_t len, const CK_BYTE **pt,
                          size_t *pt_len)
{
	const CK_BYTE *body;
	size_t n;
	CK_BYTE tag;

	if (v == NULL)
		return false;
	if (len == 2 * c->bytes + 1 && v[0] == 0x04) {
		*pt = v;
		*pt_len = len;
		return true;
	}
	if (!der_single(v, len, &tag, &body, &n) || tag != DER_OCTET_STRING)
		return false;
	if (n == 2 * c->bytes + 1 && body[0] == 0x04) {
		*pt = body;
		*pt_len = n;
		return true;
	}
	return false;
}

/* Wraps an encoded point (at most EC_POINT_MAX bytes) in a DER OCTET
 * STRING; out has room for EC_POINT_MAX + 3. */
static size_t ec_point_wrap(const CK_BYTE *pt, size_t len, CK_BYTE *out)
{
	size_t hdr;

	out[0] = DER_OCTET_STRING;
	if (len < 0x80) {
		out[1] = (CK_BYTE)len;
		hdr = 2;
	} else {
		out[1] = 0x81;
		out[2] = (CK_BYTE)len;
		hdr = 3;
	}
	memcpy(out + hdr, pt, len);
	return hdr + len;
}

/* C_GenerateKeyPair with CKM_EC_KEY_PAIR_GEN. */
static CK_RV ec_generate_key_pair(const ch_mech *row, const CK_MECHANISM *m, ch_attrs *pub,
                                  ch_attrs *priv)
{
	const ch_attr *params = ch_attrs_get(pub, CKA_EC_PARAMS);
	const ec_curve *c = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *d = NULL;
	CK_BYTE pt[EC_POINT_MAX], wrapped[EC_POINT_MAX + 3], scalar[66];
	size_t pt_len = 0, wrapped_len;
	CK_RV rv;

	if ((rv = ch_mech_no_param(m)) != CKR_OK)
		goto out;
	rv = CKR_TEMPLATE_INCOMPLETE;
	if (params == NULL)
		goto out;
	if ((rv = ec_params_curve(params, &c)) != CKR_OK)
		goto out;

	rv = CKR_FUNCTION_FAILED;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_group_name(ctx, c->name) != 1 ||
	    EVP_PKEY_generate(ctx, &pkey) != 1)
		goto out;
	if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt),
	                                    &pt_len) != 1 ||
	    pt_len != 2 * c->bytes + 1 || pt[0] != 0x04)
		goto out;
	if ((d = BN_secure_new()) == NULL ||
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 ||
	    BN_bn2binpad(d, scalar, (int)c->bytes) != (int)c->bytes)
		goto out;
	wrapped_len = ec_point_wrap(pt, pt_len, wrapped);

	if ((rv = ch_attrs_set(pub, CKA_EC_POINT, wrapped, wrapped_len)) != CKR_OK ||
	    (rv = ch_attrs_set(priv, CKA_EC_PARAMS, params->value, params->len)) != CKR_OK ||
	    (rv = ch_attrs_set(priv, CKA_VALUE, scalar, c->bytes)) != CKR_OK)
		goto out;
	rv = CKR_OK;
out:
	OPENSSL_cleanse(scalar, sizeof(scalar));
	BN_clear_free(d);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	return rv;
}

static const ch_mech_ops ec_keygen_ops = {
	.generate_key_pair = ec_generate_key_pair,
};

/* Per-operation state of CKM_ECDSA and CKM_ECDSA_SHA*. */
typedef struct ecdsa_state {
	const ec_curve *curve;
} ecdsa_state;

/* Builds op->pkey from the private key's scalar. */
static CK_RV ec_load_private(ch_op *op, const ec_curve *c, const ch_attrs *key)
{
	const ch_attr *v = ch_attrs_get(key, CKA_VALUE);
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *prm = NULL;
	EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	BIGNUM *d = NULL;
	CK_RV rv = CKR_KEY_TYPE_INCONSISTENT;

	if (v == NULL || v->value == NULL)
		goto out;
	rv = CKR_KEY_SIZE_RANGE;
	if (v->len == 0 || v->len > c->bytes)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((d = BN_secure_new()) == NULL || BN_bin2bn(v->value, (int)v->len, d) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->name, 0) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1 ||
	    (prm = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL)
		goto out;
	rv = CKR_KEY_TYPE_INCONSISTENT;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &op->pkey, EVP_PKEY_KEYPAIR, prm) != 1)
		goto out;
	/* fromdata takes any scalar; one outside [1, n-1] is not a key. */
	if ((chk = EVP_PKEY_CTX_new_from_pkey(NULL, op->pkey, NULL)) == NULL ||
	    EVP_PKEY_private_check(chk) != 1)
		goto out;
	rv = CKR_OK;
out:
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(prm);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(d);
	return rv;
}

/* Builds op->pkey from the public key's point. */
static CK_RV ec_load_public(ch_op *op, const ec_curve *c, const ch_attrs *key)
{
	const ch_attr *v = ch_attrs_get(key, CKA_EC_POINT);
	const CK_BYTE *pt;
	size_t pt_len;
	OSSL_PARAM prm[3];
	EVP_PKEY_CTX *ctx = NULL;
	CK_RV rv = CKR_KEY_TYPE_INCONSISTENT;

	if (v == NULL || !ec_point_find(c, v->value, v->len, &pt, &pt_len))
		goto out;
	prm[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)c->name, 0);
	prm[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, pt_len);
	prm[2] = OSSL_PARAM_construct_end();
	rv = CKR_HOST_MEMORY;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL)
		goto out;
	rv = CKR_KEY_TYPE_INCONSISTENT; /* not a point on the curve */
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &op->pkey, EVP_PKEY_PUBLIC_KEY, prm) != 1)
		goto out;
	rv = CKR_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	return rv;
}

static CK_RV ecdsa_start(ch_op *op, const CK_MECHANISM *m, const ch_attrs *key)
{
	ecdsa_state *st = op->st;
	const ch_attr *params = ch_attrs_get(key, CKA_EC_PARAMS);
	ch_md_id md = (ch_md_id)op->row->arg;
	const EVP_MD *evp_md;
	CK_RV rv;

	rv = ec_params_curve(params, &st->curve);
	if (rv == CKR_ATTRIBUTE_VALUE_INVALID)
		rv = CKR_KEY_TYPE_INCONSISTENT;
	if (rv != CKR_OK)
		goto out;
	if (op->kind == CH_OP_SIGN)
		rv = ec_load_private(op, st->curve, key);
	else
		rv = ec_load_public(op, st->curve, key);
	if (rv != CKR_OK)
		goto out;

	rv = CKR_HOST_MEMORY;
	if ((op->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, op->pkey, NULL)) == NULL)
		goto out;
	rv = CKR_FUNCTION_FAILED;
	if ((op->kind == CH_OP_SIGN ? EVP_PKEY_sign_init(op->pctx)
	                            : EVP_PKEY_verify_init(op->pctx)) != 1)
		goto out;
	if (md != CH_MD_NONE) {
		rv = CKR_GENERAL_ERROR;
		if ((evp_md = ch_mech_md(md)) == NULL)
			goto out;
		rv = CKR_HOST_MEMORY;
		if ((op->mdctx = EVP_MD_CTX_new()) == NULL)
			goto out;
		rv = CKR_FUNCTION_FAILED;
		if (EVP_DigestInit_ex2(op->mdctx, evp_md, NULL) != 1)
			goto out;
	}
	rv = CKR_OK;
out:
	return rv;
}

static CK_RV ecdsa_out_len(const ch_op *op, ch_stage stage, CK_ULONG in_len, CK_ULONG *need)
{
	const ecdsa_state *st = op->st;

	*need = 2 * st->curve->bytes;
	return CKR_OK;
}

/* The value ECDSA signs: the data itself for CKM_ECDSA, else the digest of
 * everything fed so far plus in.  h has room for EVP_MAX_MD_SIZE bytes. */
static CK_RV ecdsa_hash(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *h,
                        const CK_BYTE **tbs, size_t *tbs_len)
{
	unsigned int n = 0;

	if (op->mdctx == NULL) {
		*tbs = in != NULL ? in : (const CK_BYTE *)"";
		*tbs_len = in_len;
		return CKR_OK;
	}
	if ((in_len > 0 && EVP_DigestUpdate(op->mdctx, in, in_len) != 1) ||
	    EVP_DigestFinal_ex(op->mdctx, h, &n) != 1)
		return CKR_FUNCTION_FAILED;
	*tbs = h;
	*tbs_len = n;
	return CKR_OK;
}

/* Signs tbs and writes r || s to out (2 * field bytes). */
static CK_RV ecdsa_sign_value(ch_op *op, const CK_BYTE *tbs, size_t tbs_len, CK_BYTE *out,
                              CK_ULONG *out_len)
{
	const ecdsa_state *st = op->st;
	int fb = (int)st->curve->bytes;
	CK_BYTE der[EC_SIG_DER_MAX];
	const unsigned char *p = der;
	size_t der_len = sizeof(der);
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	CK_RV rv = CKR_FUNCTION_FAILED;

	if (EVP_PKEY_sign(op->pctx, der, &der_len, tbs, tbs_len) != 1 ||
	    (sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len)) == NULL)
		goto out;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, out, fb) != fb || BN_bn2binpad(s, out + fb, fb) != fb)
		goto out;
	*out_len = 2 * st->curve->bytes;
	rv = CKR_OK;
out:
	ECDSA_SIG_free(sig);
	return rv;
}

/* Checks r || s (2 * field bytes at sig) against tbs: CKR_OK or
 * CKR_SIGNATURE_INVALID. */
static CK_RV ecdsa_verify_value(ch_op *op, const CK_BYTE *tbs, size_t tbs_len, const CK_BYTE *sig)
{
	const ecdsa_state *st = op->st;
	int fb = (int)st->curve->bytes;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	int der_len;
	CK_RV rv = CKR_HOST_MEMORY;

	if ((es = ECDSA_SIG_new()) == NULL || (r = BN_bin2bn(sig, fb, NULL)) == NULL ||
	    (s = BN_bin2bn(sig + fb, fb, NULL)) == NULL || ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL; /* transferred */
	if ((der_len = i2d_ECDSA_SIG(es, &der)) <= 0)
		goto out;
	rv = CKR_SIGNATURE_INVALID;
	if (EVP_PKEY_verify(op->pctx, der, (size_t)der_len, tbs, tbs_len) != 1)
		goto out;
	rv = CKR_OK;
out:
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return rv;
}

static CK_RV ecdsa_oneshot(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                           CK_ULONG *out_len)
{
	CK_BYTE h[EVP_MAX_MD_SIZE];
	const CK_BYTE *tbs;
	size_t tbs_len;
	CK_RV rv;

	if ((rv = ecdsa_hash(op, in, in_len, h, &tbs, &tbs_len)) == CKR_OK)
		rv = ecdsa_sign_value(op, tbs, tbs_len, out, out_len);
	OPENSSL_cleanse(h, sizeof(h));
	return rv;
}

static CK_RV ecdsa_update(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                          CK_ULONG *out_len)
{
	if (op->mdctx == NULL) /* CKM_ECDSA is single-part */
		return CKR_FUNCTION_NOT_SUPPORTED;
	if (in_len > 0 && EVP_DigestUpdate(op->mdctx, in, in_len) != 1)
		return CKR_FUNCTION_FAILED;
	return CKR_OK;
}

static CK_RV ecdsa_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len)
{
	if (op->mdctx == NULL)
		return CKR_FUNCTION_NOT_SUPPORTED;
	return ecdsa_oneshot(op, NULL, 0, out, out_len);
}

static CK_RV ecdsa_verify(ch_op *op, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig,
                          CK_ULONG sig_len)
{
	const ecdsa_state *st = op->st;
	CK_BYTE h[EVP_MAX_MD_SIZE];
	const CK_BYTE *tbs;
	size_t tbs_len;
	CK_RV rv = CKR_SIGNATURE_LEN_RANGE;

	if (sig_len != 2 * st->curve->bytes)
		goto out;
	if ((rv = ecdsa_hash(op, data, len, h, &tbs, &tbs_len)) != CKR_OK)
		goto out;
	rv = ecdsa_verify_value(op, tbs, tbs_len, sig);
out:
	OPENSSL_cleanse(h, sizeof(h));
	return rv;
}

static CK_RV ecdsa_verify_final(ch_op *op, const CK_BYTE *sig, CK_ULONG sig_len)
{
	if (op->mdctx == NULL)
		return CKR_FUNCTION_NOT_SUPPORTED;
	return ecdsa_verify(op, NULL, 0, sig, sig_len);
}

static const ch_mech_ops ecdsa_ops = {
	.state_size = sizeof(ecdsa_state),
	.start = ecdsa_start,
	.out_len = ecdsa_out_len,
	.oneshot = ecdsa_oneshot,
	.update = ecdsa_update,
	.final = ecdsa_final,
	.verify = ecdsa_verify,
	.verify_final = ecdsa_verify_final,
};

/* Prime fields, named curves (CKF_EC_OID, formerly CKF_EC_NAMEDCURVE),
 * uncompressed points. */
#define EC_FLAGS (CKF_EC_F_P | CKF_EC_OID | CKF_EC_UNCOMPRESS)

/* The family's rows; sizes are field bits (PKCS#11 3.0 section 2.3). */
static const ch_mech ec_mechs[] = {
	{
	        .type = CKM_EC_KEY_PAIR_GEN,
	        .info = { 256, 521, CKF_GENERATE_KEY_PAIR | EC_FLAGS },
	        .key_use = CH_KEY_PAIR,
	        .key_type = CKK_EC,
	        .ops = &ec_keygen_ops,
	},
	{
	        .type = CKM_ECDSA,
	        .info = { 256, 521, CKF_SIGN | CKF_VERIFY | EC_FLAGS },
	        .flags = CH_MECH_SINGLE_PART,
	        .key_use = CH_KEY_PAIR,
	        .key_type = CKK_EC,
	        .ops = &ecdsa_ops,
	        .arg = CH_MD_NONE,
	},
	{
	        .type = CKM_ECDSA_SHA256,
	        .info = { 256, 521, CKF_SIGN | CKF_VERIFY | EC_FLAGS },
	        .key_use = CH_KEY_PAIR,
	        .key_type = CKK_EC,
	        .ops = &ecdsa_ops,
	        .arg = CH_MD_SHA256,
	},
};

const ch_mech_family ch_family_ec = CH_FAMILY(ec_mechs);

/* Not yet: the EC helper fills these in. */
CK_RV ch_ec_pkey_load(const ch_attrs *key, bool priv, EVP_PKEY **out)
{
	*out = NULL;
	return CKR_KEY_TYPE_INCONSISTENT;
}

CK_RV ch_ec_pkey_store(EVP_PKEY *pkey, ch_attrs *key)
{
	return CKR_WRAPPED_KEY_INVALID;
}
