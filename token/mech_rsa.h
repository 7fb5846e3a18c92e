/*
 * Inside the RSA family: what its two files share.  mech_rsa.c holds the key
 * codec, key generation and the registry rows; mech_rsa_ops.c the
 * operations the rows point at (signatures and encryption).  Only those two
 * files include this header.
 */
#ifndef CH_TOKEN_MECH_RSA_H
#define CH_TOKEN_MECH_RSA_H

#include "mech_impl.h"

/* The modulus sizes the token takes, in bits, for every RSA mechanism:
 * what C_GetMechanismInfo reports, what key generation accepts and what
 * ch_rsa_pkey_load lets through (smaller or larger keys are
 * CKR_KEY_SIZE_RANGE). */
#define CH_RSA_MIN_BITS 2048
#define CH_RSA_MAX_BITS 8192

/* The operation hooks, one set per padding scheme (mech_rsa_ops.c).  They
 * differ only in the mechanism parameter they take:
 *   ch_rsa_pkcs1_ops  PKCS#1 v1.5 signatures and encryption, no parameter
 *                     (row arg: the hash of CKM_SHA*_RSA_PKCS, or
 *                     CH_MD_NONE for CKM_RSA_PKCS);
 *   ch_rsa_pss_ops    PSS signatures, CK_RSA_PKCS_PSS_PARAMS (row arg: the
 *                     hash of CKM_SHA*_RSA_PKCS_PSS, or CH_MD_NONE for
 *                     CKM_RSA_PKCS_PSS, which signs a digest);
 *   ch_rsa_oaep_ops   OAEP encryption, CK_RSA_PKCS_OAEP_PARAMS;
 *   ch_rsa_x509_ops   raw RSA (CKM_RSA_X_509), no parameter. */
extern const ch_mech_ops ch_rsa_pkcs1_ops;
extern const ch_mech_ops ch_rsa_pss_ops;
extern const ch_mech_ops ch_rsa_oaep_ops;
extern const ch_mech_ops ch_rsa_x509_ops;

#endif
