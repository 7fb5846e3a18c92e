/*
 * The HMAC family: CKM_*_HMAC and CKM_*_HMAC_GENERAL, generic secret key generation.
 *
 * Filled in by the mechanisms issue.
 */
#include "mech_impl.h"

/* No rows yet. */
static const ch_mech hmac_mechs[1];

const ch_mech_family ch_family_hmac = { hmac_mechs, 0 };
