/*
 * The digest family: SHA-1, SHA-2 and SHA-3 (PKCS#11 3.0 section 2.16 ...).
 *
 * Filled in by the mechanisms issue.
 */
#include "mech_impl.h"

/* No rows yet. */
static const ch_mech digest_mechs[1];

const ch_mech_family ch_family_digest = { digest_mechs, 0 };
