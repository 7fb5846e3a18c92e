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
#include "config.h"
#include "seal.h"

typedef struct ch_soft ch_soft;

extern const ch_backend_ops ch_soft_ops;

/* Opens the store at cfg->store_path (creating it if needed) with the
 * configuration's PIN KDF for PINs set from now on, its lockout count, its
 * key-role policy ([policy] legacy_key_roles; see ch_object_pair_roles_ok)
 * and its forwarded registrations (their backends opened now: fwd.h).
 * cfg must outlive the result.  CKR_OK with *out, CKR_HOST_MEMORY, or
 * CKR_DEVICE_ERROR (logged). */
CK_RV ch_soft_open(const ch_config *cfg, ch_soft **out);

/* Closes the store and wipes every slot's keys.  Accepts NULL. */
void ch_soft_close(ch_soft *sf);

/* Reports every slot: one per software registration plus the free one, in
 * slot-ID order, then the forwarded ones, through add(arg, id, ops, be); be
 * stays valid until ch_soft_close.  Re-reads the store only when it
 * changed.  CKR_OK or CKR_DEVICE_ERROR. */
CK_RV ch_soft_slots(ch_soft *sf,
                    void (*add)(void *arg, CK_SLOT_ID id, const ch_backend_ops *ops, void *be),
                    void *arg);

#endif
