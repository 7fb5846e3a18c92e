/*
 * Key derivation: HKDF, PBKDF2, SP 800-108.
 *
 * Filled in by the mechanisms issue.
 */
#include "mech_impl.h"

/* No rows yet. */
static const ch_mech kdf_mechs[1];

const ch_mech_family ch_family_kdf = { kdf_mechs, 0 };
