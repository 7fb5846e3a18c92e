/*
 * The ChaCha20 family: CKM_CHACHA20_KEY_GEN and CKM_CHACHA20_POLY1305.
 *
 * Filled in by the mechanisms issue.
 */
#include "mech_impl.h"

/* No rows yet. */
static const ch_mech chacha_mechs[1];

const ch_mech_family ch_family_chacha = { chacha_mechs, 0 };
