/*
 * Inside the elliptic-curve families (mech_ec.c, mech_ecdh.c,
 * mech_edwards.c): the curves the token knows and the PKCS#11 encodings of
 * their parameters and points, shared so that ECDSA, ECDH, EdDSA and the
 * key codecs read CKA_EC_PARAMS and CKA_EC_POINT the same way.  Only those
 * three files include this header.
 *
 * Every curve is one row of the table in mech_ec.c: the prime curves
 * (CKK_EC: P-256, P-384, P-521, secp256k1), the Edwards curves
 * (CKK_EC_EDWARDS: Ed25519, Ed448) and the Montgomery curves
 * (CKK_EC_MONTGOMERY: X25519, X448).
 */
#ifndef CH_TOKEN_MECH_EC_H
#define CH_TOKEN_MECH_EC_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "mech_impl.h"

typedef struct ch_ec_curve {
	CK_KEY_TYPE kt;        /* CKK_EC, CKK_EC_EDWARDS or CKK_EC_MONTGOMERY */
	const char *name;      /* OpenSSL group name (CKK_EC) or key type */
	const char *alias;     /* OpenSSL's other name for the group, or NULL */
	const char *printable; /* PKCS#11 3.0 curveName string, or NULL */
	const CK_BYTE *oid;    /* DER OBJECT IDENTIFIER, tag and length included */
	size_t oid_len;
	CK_ULONG bits;    /* field size, as CK_MECHANISM_INFO counts it */
	size_t bytes;     /* CKK_EC: field (scalar, r, s) bytes; others: key bytes */
	size_t sig_bytes; /* EdDSA signature bytes (Edwards only) */
} ch_ec_curve;

/* Longest encodings the family handles. */
#define CH_EC_POINT_MAX   (2 * 66 + 1) /* uncompressed P-521 point */
#define CH_EC_WRAPPED_MAX (CH_EC_POINT_MAX + 3)
#define CH_EC_SCALAR_MAX  66 /* P-521 scalar */

/* Maps CKA_EC_PARAMS (a) of a key of type kt to its curve: the DER OID of
 * a named curve, or for Edwards and Montgomery keys also the DER
 * PrintableString curveName ("edwards25519" ...).  CKR_OK,
 * CKR_CURVE_NOT_SUPPORTED for a well-formed choice this token or this key
 * type lacks, CKR_ATTRIBUTE_VALUE_INVALID for anything malformed (a NULL).
 */
CK_RV ch_ec_params_curve(const ch_attr *a, CK_KEY_TYPE kt, const ch_ec_curve **out);

/* The curve OpenSSL names name (a group name or a key type), or NULL. */
const ch_ec_curve *ch_ec_curve_by_name(const char *name);

/* Finds the point's encoding in v (a CKA_EC_POINT or an ECDH pPublicData):
 * either the bare encoding or a DER OCTET STRING around it.  CKK_EC: the
 * X9.62 point, uncompressed (04) or compressed (02, 03); Edwards and
 * Montgomery: the curve's raw public key.  The forms are told apart by
 * length, which cannot collide for these curves.  False when v is neither;
 * whether the point is on the curve is OpenSSL's check when the key is
 * built. */
bool ch_ec_point_find(const ch_ec_curve *c, const CK_BYTE *v, size_t len, const CK_BYTE **pt,
                      size_t *pt_len);

/* Wraps pt (at most CH_EC_POINT_MAX bytes) in a DER OCTET STRING into out,
 * which has room for CH_EC_WRAPPED_MAX bytes.  Returns the length. */
size_t ch_ec_point_wrap(const CK_BYTE *pt, size_t len, CK_BYTE *out);

/* An EVP_PKEY (caller frees) holding only the public point pt of c.
 * CKR_OK, CKR_KEY_TYPE_INCONSISTENT (not a point of the curve),
 * CKR_HOST_MEMORY. */
CK_RV ch_ec_public_from_point(const ch_ec_curve *c, const CK_BYTE *pt, size_t len, EVP_PKEY **out);

/* The curve of a key object (its CKA_EC_PARAMS, for its CKA_KEY_TYPE):
 * as ch_ec_params_curve, but a missing or malformed attribute is
 * CKR_KEY_TYPE_INCONSISTENT, the code for unusable key material. */
CK_RV ch_ec_key_curve(const ch_attrs *key, const ch_ec_curve **out);

/* The hooks of CKM_ECDH1_DERIVE and CKM_ECDH1_COFACTOR_DERIVE
 * (mech_ecdh.c), whose rows are in mech_ec.c's table. */
extern const ch_mech_ops ch_ecdh_ops;

#endif
