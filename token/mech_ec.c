/*
 * The elliptic-curve family: CKM_EC_KEY_PAIR_GEN and ECDSA (CKM_ECDSA and
 * the hash-then-sign rows CKM_ECDSA_SHA1 ... CKM_ECDSA_SHA3_512, PKCS#11
 * 3.0 section 2.3) over OpenSSL's EVP_PKEY API, and the rows of ECDH
 * (CKM_ECDH1_DERIVE, CKM_ECDH1_COFACTOR_DERIVE, whose code is mech_ecdh.c), on the prime curves
 * P-256, P-384, P-521 and secp256k1; and, for the whole elliptic-curve group of files (mech_ecdh.c,
 * mech_edwards.c, see mech_ec.h), the curve table and the PKCS#11 encodings of parameters and
 * points.
 *
 * The PKCS#11 encodings, which OpenSSL does not use, are translated here:
 *   CKA_EC_PARAMS  the DER of the curve's OBJECT IDENTIFIER (the namedCurve
 *                  choice of ECParameters); Edwards and Montgomery keys may
 *                  also name their curve by the PrintableString the spec
 *                  gives ("edwards25519", "edwards448", "curve25519",
 *                  "curve448"); the other choices (implicitlyCA, explicit
 *                  parameters) are CKR_CURVE_NOT_SUPPORTED;
 *   CKA_EC_POINT   a DER OCTET STRING around the point (what this token
 *                  writes, uncompressed); the bare point is accepted on
 *                  input, and so are compressed points (02/03), which
 *                  OpenSSL decompresses and checks (hence CKF_EC_COMPRESS
 *                  on the rows that take a point in);
 *   CKA_VALUE      the private scalar, big-endian, field-size bytes;
 *   signatures     r || s, each left-padded to the field size (what IEEE
 *                  P1363 calls the fixed-size format), where OpenSSL speaks
 *                  DER ECDSA-Sig-Value.
 *
 * Hash-then-sign rows hash with a fetched EVP_MD (row arg: the ch_md_id)
 * and sign the hash exactly as CKM_ECDSA does, so all rows share one code
 * path; ECDSA truncates a hash longer than the group order as the standard
 * says.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "mech_ec.h"

static const CK_BYTE oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const CK_BYTE oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const CK_BYTE oid_p521[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };
static const CK_BYTE oid_k256[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a };
static const CK_BYTE oid_x25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x6e };
static const CK_BYTE oid_x448[] = { 0x06, 0x03, 0x2b, 0x65, 0x6f };
static const CK_BYTE oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
static const CK_BYTE oid_ed448[] = { 0x06, 0x03, 0x2b, 0x65, 0x71 };

#define OID(o) (o), sizeof(o)

/* Every curve of the token.  Sizes in bits are the field's (2^255 - 19 is
 * a 255-bit prime), as CK_MECHANISM_INFO counts them. */
static const ch_ec_curve curves[] = {
	{ CKK_EC, "P-256", "prime256v1", NULL, OID(oid_p256), 256, 32, 0 },
	{ CKK_EC, "P-384", "secp384r1", NULL, OID(oid_p384), 384, 48, 0 },
	{ CKK_EC, "P-521", "secp521r1", NULL, OID(oid_p521), 521, 66, 0 },
	{ CKK_EC, "secp256k1", NULL, NULL, OID(oid_k256), 256, 32, 0 },
	{ CKK_EC_EDWARDS, "ED25519", NULL, "edwards25519", OID(oid_ed25519), 255, 32, 64 },
	{ CKK_EC_EDWARDS, "ED448", NULL, "edwards448", OID(oid_ed448), 448, 57, 114 },
	{ CKK_EC_MONTGOMERY, "X25519", NULL, "curve25519", OID(oid_x25519), 255, 32, 0 },
	{ CKK_EC_MONTGOMERY, "X448", NULL, "curve448", OID(oid_x448), 448, 56, 0 },
};

#define CURVE_COUNT (sizeof(curves) / sizeof(curves[0]))

/* The OpenSSL NID of a prime curve, for the EC_GROUP arithmetic that
 * computes a public point from a scalar. */
static int curve_nid(const ch_ec_curve *c)
{
	if (c->oid == oid_p256)
		return NID_X9_62_prime256v1;
	if (c->oid == oid_p384)
		return NID_secp384r1;
	if (c->oid == oid_p521)
		return NID_secp521r1;
	if (c->oid == oid_k256)
		return NID_secp256k1;
	return NID_undef;
}

#define EC_SIG_DER_MAX 256 /* DER ECDSA-Sig-Value, P-521 needs 139 */

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

/* True when body is PrintableString content (X.680's character set). */
static bool der_printable_ok(const CK_BYTE *body, size_t len)
{
	static const char extra[] = " '()+,-./:=?";
	size_t i;

	for (i = 0; i < len; i++) {
		CK_BYTE ch = body[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || (ch != 0 && strchr(extra, ch) != NULL)))
			return false;
	}
	return true;
}

/* OpenSC 0.23's pkcs11-tool (Debian 12) names X25519 by this malformed
 * PrintableString: its length byte says 11 where "curve25519" has 10.
 * Taken as curve25519 so that the stock pkcs11-tool can make and use
 * X25519 keys; no other malformed value is. */
static const CK_BYTE opensc_curve25519[] = { 0x13, 0x0b, 'c', 'u', 'r', 'v',
	                                     'e',  '2',  '5', '5', '1', '9' };

CK_RV ch_ec_params_curve(const ch_attr *a, CK_KEY_TYPE kt, const ch_ec_curve **out)
{
	const CK_BYTE *body;
	size_t n, i;
	CK_BYTE tag;

	if (a != NULL && kt == CKK_EC_MONTGOMERY && a->len == sizeof(opensc_curve25519) &&
	    memcmp(a->value, opensc_curve25519, a->len) == 0) {
		for (i = 0; i < CURVE_COUNT; i++)
			if (curves[i].oid == oid_x25519)
				*out = &curves[i];
		return CKR_OK;
	}
	if (a == NULL || !der_single(a->value, a->len, &tag, &body, &n))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	switch (tag) {
	case DER_OID:
		if (!der_oid_ok(body, n))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		for (i = 0; i < CURVE_COUNT; i++) {
			if (curves[i].kt == kt && curves[i].oid_len == a->len &&
			    memcmp(curves[i].oid, a->value, a->len) == 0) {
				*out = &curves[i];
				return CKR_OK;
			}
		}
		return CKR_CURVE_NOT_SUPPORTED;
	case DER_PRINTABLE: /* curveName */
		if (!der_printable_ok(body, n))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		for (i = 0; i < CURVE_COUNT; i++) {
			if (curves[i].kt == kt && curves[i].printable != NULL &&
			    strlen(curves[i].printable) == n &&
			    memcmp(curves[i].printable, body, n) == 0) {
				*out = &curves[i];
				return CKR_OK;
			}
		}
		return CKR_CURVE_NOT_SUPPORTED;
	case DER_NULL:
		return n == 0 ? CKR_CURVE_NOT_SUPPORTED : CKR_ATTRIBUTE_VALUE_INVALID;
	case DER_SEQUENCE: /* explicit ecParameters */
		return CKR_CURVE_NOT_SUPPORTED;
	default:
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
}

const ch_ec_curve *ch_ec_curve_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < CURVE_COUNT; i++)
		if (OPENSSL_strcasecmp(curves[i].name, name) == 0 ||
		    (curves[i].alias != NULL && OPENSSL_strcasecmp(curves[i].alias, name) == 0))
			return &curves[i];
	return NULL;
}

CK_RV ch_ec_key_curve(const ch_attrs *key, const ch_ec_curve **out)
{
	CK_ULONG kt;
	CK_RV rv;

	if (!ch_attrs_ulong(key, CKA_KEY_TYPE, &kt))
		return CKR_KEY_TYPE_INCONSISTENT;
	rv = ch_ec_params_curve(ch_attrs_get(key, CKA_EC_PARAMS), kt, out);
	return rv == CKR_ATTRIBUTE_VALUE_INVALID ? CKR_KEY_TYPE_INCONSISTENT : rv;
}

/* True when pt (len bytes) has the shape of a bare point of c. */
static bool point_shaped(const ch_ec_curve *c, const CK_BYTE *pt, size_t len)
{
	if (c->kt != CKK_EC)
		return len == c->bytes;
	if (len == 2 * c->bytes + 1)
		return pt[0] == 0x04;
	if (len == c->bytes + 1)
		return pt[0] == 0x02 || pt[0] == 0x03;
	return false;
}

bool ch_ec_point_find(const ch_ec_curve *c, const CK_BYTE *v, size_t len, const CK_BYTE **pt,
                      size_t *pt_len)
{
	const CK_BYTE *body;
	size_t n;
	CK_BYTE tag;

	if (v == NULL || len == 0)
		return false;
	/* A bare point is 1 or 2 fields long (plus the X9.62 prefix byte);
	 * a wrapped one 2 or 3 bytes longer, so no length is both. */
	if (point_shaped(c, v, len)) {
		*pt = v;
		*pt_len = len;
		return true;
	}
	if (!der_single(v, len, &tag, &body, &n) || tag != DER_OCTET_STRING ||
	    !point_shaped(c, body, n))
		return false;
	*pt = body;
	*pt_len = n;
	return true;
}

size_t ch_ec_point_wrap(const CK_BYTE *pt, size_t len, CK_BYTE *out)
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

CK_RV ch_ec_public_from_point(const ch_ec_curve *c, const CK_BYTE *pt, size_t len, EVP_PKEY **out)
{
	OSSL_PARAM prm[3];
	EVP_PKEY_CTX *ctx = NULL;
	CK_RV rv = CKR_HOST_MEMORY;

	*out = NULL;
	if (c->kt != CKK_EC) {
		rv = CKR_KEY_TYPE_INCONSISTENT;
		if (len == c->bytes &&
		    (*out = EVP_PKEY_new_raw_public_key_ex(NULL, c->name, NULL, pt, len)) != NULL)
			rv = CKR_OK;
		return rv;
	}
	prm[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)c->name, 0);
	prm[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, len);
	prm[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, CH_PKEY_NAME_EC, NULL)) == NULL)
		goto out;
	rv = CKR_KEY_TYPE_INCONSISTENT; /* not a point on the curve */
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, prm) != 1)
		goto out;
	rv = CKR_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	return rv;
}

/* The uncompressed public point d * G of c into pub (CH_EC_POINT_MAX
 * bytes), after checking that d is a private key: 1 <= d < n.  CKR_OK,
 * CKR_KEY_TYPE_INCONSISTENT, CKR_HOST_MEMORY. */
static CK_RV ec_public_of(const ch_ec_curve *c, const BIGNUM *d, CK_BYTE *pub, size_t *pub_len)
{
	EC_GROUP *g = NULL;
	EC_POINT *p = NULL;
	BN_CTX *bc = NULL;
	CK_RV rv = CKR_HOST_MEMORY;

	if ((g = EC_GROUP_new_by_curve_name_ex(NULL, NULL, curve_nid(c))) == NULL ||
	    (p = EC_POINT_new(g)) == NULL || (bc = BN_CTX_secure_new()) == NULL)
		goto out;
	rv = CKR_KEY_TYPE_INCONSISTENT;
	if (BN_is_zero(d) || BN_is_negative(d) || BN_cmp(d, EC_GROUP_get0_order(g)) >= 0)
		goto out;
	rv = CKR_FUNCTION_FAILED;
	if (EC_POINT_mul(g, p, d, NULL, NULL, bc) != 1 ||
	    (*pub_len = EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, pub,
	                                   CH_EC_POINT_MAX, bc)) != 2 * c->bytes + 1)
		goto out;
	rv = CKR_OK;
out:
	BN_CTX_free(bc);
	EC_POINT_clear_free(p);
	EC_GROUP_free(g);
	return rv;
}

/* The private key of c from its scalar (CKA_VALUE), with the public point
 * computed from it (PKCS#8 encodings carry it). */
static CK_RV ec_load_private(const ch_ec_curve *c, const ch_attrs *key, EVP_PKEY **out)
{
	const ch_attr *v = ch_attrs_get(key, CKA_VALUE);
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *prm = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *d = NULL;
	CK_BYTE pub[CH_EC_POINT_MAX];
	size_t pub_len = 0;
	CK_RV rv = CKR_KEY_TYPE_INCONSISTENT;

	if (v == NULL || v->value == NULL)
		goto out;
	rv = CKR_KEY_SIZE_RANGE;
	if (v->len == 0 || v->len > c->bytes)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((d = BN_secure_new()) == NULL || BN_bin2bn(v->value, (int)v->len, d) == NULL)
		goto out;
	if ((rv = ec_public_of(c, d, pub, &pub_len)) != CKR_OK)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->name, 0) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len) != 1 ||
	    (prm = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, CH_PKEY_NAME_EC, NULL)) == NULL)
		goto out;
	rv = CKR_KEY_TYPE_INCONSISTENT;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_KEYPAIR, prm) != 1)
		goto out;
	rv = CKR_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(prm) /* secure heap: BN pushed from BN_secure_new */;
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(d);
	return rv;
}

CK_RV ch_ec_pkey_load(const ch_attrs *key, bool priv, EVP_PKEY **out)
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
	if (c->kt != CKK_EC)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (priv)
		return ec_load_private(c, key, out);
	v = ch_attrs_get(key, CKA_EC_POINT);
	if (v == NULL || !ch_ec_point_find(c, v->value, v->len, &pt, &pt_len))
		return CKR_KEY_TYPE_INCONSISTENT;
	return ch_ec_public_from_point(c, pt, pt_len, out);
}

CK_RV ch_ec_pkey_store(EVP_PKEY *pkey, ch_attrs *key)
{
	const ch_ec_curve *c;
	char group[64];
	BIGNUM *d = NULL;
	CK_BYTE scalar[CH_EC_SCALAR_MAX];
	CK_RV rv = CKR_WRAPPED_KEY_INVALID;

	/* Explicit parameters have no group name: not a curve of ours. */
	if (!EVP_PKEY_is_a(pkey, "EC") ||
	    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
	                                   NULL) != 1 ||
	    (c = ch_ec_curve_by_name(group)) == NULL || c->kt != CKK_EC)
		goto out;
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 || BN_is_zero(d) ||
	    BN_bn2binpad(d, scalar, (int)c->bytes) != (int)c->bytes)
		goto out;
	if ((rv = ch_attrs_set(key, CKA_EC_PARAMS, c->oid, c->oid_len)) != CKR_OK ||
	    (rv = ch_attrs_set(key, CKA_VALUE, scalar, c->bytes)) != CKR_OK)
		goto out;
	rv = CKR_OK;
out:
	OPENSSL_cleanse(scalar, sizeof(scalar));
	BN_clear_free(d);
	return rv;
}

/* C_GenerateKeyPair with CKM_EC_KEY_PAIR_GEN. */
static CK_RV ec_generate_key_pair(const ch_mech *row, const CK_MECHANISM *m, ch_attrs *pub,
                                  ch_attrs *priv)
{
	const ch_attr *params = ch_attrs_get(pub, CKA_EC_PARAMS);
	const ch_ec_curve *c = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *d = NULL;
	CK_BYTE pt[CH_EC_POINT_MAX], wrapped[CH_EC_WRAPPED_MAX], scalar[CH_EC_SCALAR_MAX];
	size_t pt_len = 0, wrapped_len;
	CK_RV rv;

	if ((rv = ch_mech_no_param(m)) != CKR_OK)
		goto out;
	rv = CKR_TEMPLATE_INCOMPLETE;
	if (params == NULL)
		goto out;
	if ((rv = ch_ec_params_curve(params, CKK_EC, &c)) != CKR_OK)
		goto out;

	rv = CKR_FUNCTION_FAILED;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, CH_PKEY_NAME_EC, NULL)) == NULL ||
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
	wrapped_len = ch_ec_point_wrap(pt, pt_len, wrapped);

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
	const ch_ec_curve *curve;
} ecdsa_state;

static CK_RV ecdsa_start(ch_op *op, const CK_MECHANISM *m, const ch_attrs *key)
{
	ecdsa_state *st = op->st;
	ch_md_id md = (ch_md_id)op->row->arg;
	const EVP_MD *evp_md;
	CK_RV rv;

	if ((rv = ch_ec_key_curve(key, &st->curve)) != CKR_OK)
		goto out;
	if ((rv = ch_ec_pkey_load(key, op->kind == CH_OP_SIGN, &op->pkey)) != CKR_OK)
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
 * uncompressed and compressed points on input. */
#define EC_FLAGS (CKF_EC_F_P | CKF_EC_OID | CKF_EC_UNCOMPRESS | CKF_EC_COMPRESS)

/* clang-format off */
#define ECDSA_ROW(mech, md, extra)                                                                 \
	{                                                                                          \
		.type = (mech), .info = { 256, 521, CKF_SIGN | CKF_VERIFY | EC_FLAGS },            \
		.flags = (extra), .key_use = CH_KEY_PAIR, .key_type = CKK_EC, .ops = &ecdsa_ops,   \
		.arg = (md),                                                                       \
	}
/* clang-format on */

/* The family's rows; sizes are field bits (PKCS#11 3.0 section 2.3).  Key
 * generation writes uncompressed points only, so its row does not claim
 * CKF_EC_COMPRESS. */
static const ch_mech ec_mechs[] = {
	{
	        .type = CKM_EC_KEY_PAIR_GEN,
	        .info = { 256, 521,
	                  CKF_GENERATE_KEY_PAIR | CKF_EC_F_P | CKF_EC_OID | CKF_EC_UNCOMPRESS },
	        .key_use = CH_KEY_PAIR,
	        .key_type = CKK_EC,
	        .ops = &ec_keygen_ops,
	},
	ECDSA_ROW(CKM_ECDSA, CH_MD_NONE, CH_MECH_SINGLE_PART),
	ECDSA_ROW(CKM_ECDSA_SHA1, CH_MD_SHA1, 0),
	ECDSA_ROW(CKM_ECDSA_SHA224, CH_MD_SHA224, 0),
	ECDSA_ROW(CKM_ECDSA_SHA256, CH_MD_SHA256, 0),
	ECDSA_ROW(CKM_ECDSA_SHA384, CH_MD_SHA384, 0),
	ECDSA_ROW(CKM_ECDSA_SHA512, CH_MD_SHA512, 0),
	ECDSA_ROW(CKM_ECDSA_SHA3_224, CH_MD_SHA3_224, 0),
	ECDSA_ROW(CKM_ECDSA_SHA3_256, CH_MD_SHA3_256, 0),
	ECDSA_ROW(CKM_ECDSA_SHA3_384, CH_MD_SHA3_384, 0),
	ECDSA_ROW(CKM_ECDSA_SHA3_512, CH_MD_SHA3_512, 0),
	/* mech_ecdh.c; CKM_ECDH1_DERIVE also on X25519 and X448 (255 and 448
	 * bits, named by OID or curveName). */
	{
	        .type = CKM_ECDH1_DERIVE,
	        .info = { 255, 521, CKF_DERIVE | EC_FLAGS | CKF_EC_CURVENAME },
	        .key_use = CH_KEY_PAIR,
	        .key_type = CKK_EC,
	        .ops = &ch_ecdh_ops,
	},
	{
	        .type = CKM_ECDH1_COFACTOR_DERIVE,
	        .info = { 256, 521, CKF_DERIVE | EC_FLAGS },
	        .key_use = CH_KEY_PAIR,
	        .key_type = CKK_EC,
	        .ops = &ch_ecdh_ops,
	},
};

const ch_mech_family ch_family_ec = CH_FAMILY(ec_mechs);
