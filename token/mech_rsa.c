/*
 * The RSA family: key generation, PKCS#1 v1.5, PSS, OAEP, X.509.
 *
 * Filled in by the mechanisms issue.
 */
#include "mech_impl.h"

/* No rows yet. */
static const ch_mech rsa_mechs[1];

const ch_mech_family ch_family_rsa = { rsa_mechs, 0 };

CK_RV ch_rsa_pkey_load(const ch_attrs *key, bool priv, EVP_PKEY **out)
{
	*out = NULL;
	return CKR_KEY_TYPE_INCONSISTENT;
}

CK_RV ch_rsa_pkey_store(EVP_PKEY *pkey, ch_attrs *key)
{
	return CKR_WRAPPED_KEY_INVALID;
}
