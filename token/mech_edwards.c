/*
 * Edwards and Montgomery curves: Ed25519, Ed448, X25519, X448.
 *
 * Filled in by the mechanisms issue.
 */
#include "mech_impl.h"

/* No rows yet. */
static const ch_mech edwards_mechs[1];

const ch_mech_family ch_family_edwards = { edwards_mechs, 0 };

CK_RV ch_ecx_pkey_load(const ch_attrs *key, bool priv, EVP_PKEY **out)
{
	*out = NULL;
	return CKR_KEY_TYPE_INCONSISTENT;
}

CK_RV ch_ecx_pkey_store(EVP_PKEY *pkey, ch_attrs *key)
{
	return CKR_WRAPPED_KEY_INVALID;
}
