/*
 * The software token: every registration of one store, each a slot.
 *
 * The front end opens it at C_Initialize and asks it for its slots whenever
 * the slot list is needed; registrations created by other processes appear
 * then.  Each slot's backend state is the soft_slot behind ch_soft_ops.
 */
#ifndef CH_TOKEN_SOFT_H
#define CH_TOKEN_SOFT_H

#include "backend.h"
#include "seal.h"

typedef struct ch_soft ch_soft;

extern const ch_backend_ops ch_soft_ops;

/* Opens the store at path (creating it if needed).  kdf: parameters for PINs
 * set from now on; max_failures: consecutive wrong PINs that lock a
 * participant; legacy_key_roles: the names of the registrations whose
 * policy relaxes key-role separation (separated by spaces or commas; NULL
 * for none; see ch_object_pair_roles_ok).  CKR_OK with *out,
 * CKR_HOST_MEMORY, or CKR_DEVICE_ERROR (logged). */
CK_RV ch_soft_open(const char *path, const ch_kdf_params *kdf, CK_ULONG max_failures,
                   const char *legacy_key_roles, ch_soft **out);

/* Closes the store and wipes every slot's keys.  Accepts NULL. */
void ch_soft_close(ch_soft *sf);

/* Reports every slot: one per registration plus the free one, in slot-ID
 * order, through add(arg, id, be); be stays valid until ch_soft_close.
 * Re-reads the store only when it changed.  CKR_OK or CKR_DEVICE_ERROR. */
CK_RV ch_soft_slots(ch_soft *sf, void (*add)(void *arg, CK_SLOT_ID id, void *be), void *arg);

#endif
