/*
 * The forwarding backend: a registration whose keys live in another PKCS#11
 * module's token (an HSM), with Cipher Hub's participants, grants and audit
 * on top.
 *
 * A forwarded slot has two halves.  Its registration (participants, their
 * PINs and roles, grants, the audit log) is a row of Cipher Hub's store like
 * any other, served by the software token's code through an inner soft_slot
 * that never holds objects of its own.  Its objects and operations are the
 * backend token's: each client session has a backend session, and every
 * object handle the client sees is ours, mapped to the backend's.
 *
 * Grants need a stable name for a backend object across processes: its
 * CKA_UNIQUE_ID when the backend has one, else a digest of its class, key
 * type, CKA_ID and CKA_LABEL.  Under that name the store keeps a small
 * marker object of the registration (owner and grants hang on it).
 *
 * No lock of ours is held while the backend works, except the session's own
 * (the front end's) and, for C_Login and C_OpenSession, the slot's: a
 * backend that hangs holds up its own slot, never the module.
 */
#ifndef CH_TOKEN_FWD_H
#define CH_TOKEN_FWD_H

#include "backend.h"
#include "hsm.h"
#include "soft_internal.h"

/* Forwarded slots and their registrations take IDs from here on, in the
 * order of the configuration; software registrations stay below. */
#define CH_FWD_SLOT_BASE 65536

typedef struct fwd_obj fwd_obj;

typedef struct fwd_slot {
	CK_SLOT_ID id;
	char name[33];            /* the registration's name */
	ch_hsm *hsm;              /* NULL: the module or token could not be had */
	char desc[65];            /* slot description */
	soft_slot *reg;           /* the registration's side (soft_slot.c) */
	pthread_mutex_t lock;     /* guards what follows */
	CK_SESSION_HANDLE anchor; /* a backend session that holds the backend login */
	unsigned sessions;        /* client sessions open */
	bool logged_in;           /* the backend is logged in for a participant */
	uint64_t gen;             /* moves when the backend lost its sessions */
	bool reset_due;           /* ... and then the next connection starts it afresh */
	fwd_obj *obj;             /* our handle h is obj[h - 1] */
	size_t nobj, cap;
	size_t *hash; /* backend handle -> index + 1, open addressing */
	size_t hcap;
} fwd_slot;

extern const ch_backend_ops ch_fwd_ops;

/* A forwarded slot for configuration c with slot ID id, its backend opened
 * (a failure is logged and leaves the token absent).  NULL: no memory. */
fwd_slot *fwd_slot_new(ch_soft *sf, const ch_hsm_conf *c, CK_SLOT_ID id);

void fwd_slot_free(fwd_slot *fw);

/* ---- fwd.c, for fwd_ops.c ---- */

typedef struct fwd_session {
	CK_SESSION_HANDLE bh; /* the backend's session */
	uint64_t gen;         /* fw->gen when it was opened */
	bool finding;
} fwd_session;

/* The session's backend function table and session, or the code to answer
 * with: CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_REMOVED (the backend lost it). */
CK_RV fwd_enter(ch_session *s, CK_FUNCTION_LIST **fn, CK_SESSION_HANDLE *bh);

/* Called with every backend result: a code saying the backend lost its
 * sessions or token marks them all gone (the client's sessions on this slot
 * answer CKR_DEVICE_REMOVED from then on; the next C_OpenSession reconnects).
 * Returns rv. */
CK_RV fwd_check(fwd_slot *fw, CK_RV rv);

/* Our handle for backend handle theirs (found or returned by the backend in
 * session s).  0 when out of memory. */
CK_OBJECT_HANDLE fwd_handle_ours(ch_session *s, CK_OBJECT_HANDLE theirs);

/* The backend's handle for ours: CKR_OK or CKR_OBJECT_HANDLE_INVALID. */
CK_RV fwd_handle_theirs(fwd_slot *fw, CK_OBJECT_HANDLE ours, CK_OBJECT_HANDLE *theirs);

/* Forgets a destroyed object. */
void fwd_handle_drop(fwd_slot *fw, CK_OBJECT_HANDLE ours);

/* Forgets what was read of ours that can change (its label, ID or
 * CKA_PRIVATE was set). */
void fwd_handle_renamed(fwd_slot *fw, CK_OBJECT_HANDLE ours);

/* May the session's participant see (need 0) or use (CH_GRANT_* bits) key
 * ours?  Public objects and session objects: always.  CKR_OK, or
 * CKR_KEY_FUNCTION_NOT_PERMITTED / CKR_OBJECT_HANDLE_INVALID. */
CK_RV fwd_allowed(ch_session *s, CK_OBJECT_HANDLE ours, CK_FLAGS need);

/* Records that the logged-in participant created ours (a token object):
 * its marker in the store carries the owner.  Logged, never fails the
 * call. */
void fwd_note_created(ch_session *s, CK_OBJECT_HANDLE ours);

/* Audit: one record op on object ours (0: none) with result rv. */
void fwd_audit(ch_session *s, const char *op, CK_OBJECT_HANDLE ours, CK_RV rv);

/* Counts one use of key ours for op (e.g. "key.sign"). */
void fwd_audit_use(ch_session *s, CK_OBJECT_HANDLE ours, const char *op);

/* The registration's key-role policy is relaxed ([policy] legacy_key_roles). */
bool fwd_legacy_key_roles(fwd_slot *fw);

/* ---- fwd_ops.c: objects, operations and key management ---- */

CK_RV fwd_create_object(ch_session *s, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h);
CK_RV fwd_copy_object(ch_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n,
                      CK_OBJECT_HANDLE *out);
CK_RV fwd_destroy_object(ch_session *s, CK_OBJECT_HANDLE h);
CK_RV fwd_object_size(ch_session *s, CK_OBJECT_HANDLE h, CK_ULONG *size);
CK_RV fwd_get_attributes(ch_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *t, CK_ULONG n);
CK_RV fwd_set_attributes(ch_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n);
CK_RV fwd_find_init(ch_session *s, const CK_ATTRIBUTE *t, CK_ULONG n);
CK_RV fwd_find(ch_session *s, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count);
CK_RV fwd_find_final(ch_session *s);
CK_RV fwd_op_init(ch_session *s, ch_op_kind kind, const CK_MECHANISM *m, CK_OBJECT_HANDLE key);
CK_RV fwd_op_oneshot(ch_session *s, ch_op_kind kind, const CK_BYTE *in, CK_ULONG in_len,
                     CK_BYTE *out, CK_ULONG *out_len);
CK_RV fwd_op_update(ch_session *s, ch_op_kind kind, const CK_BYTE *in, CK_ULONG in_len,
                    CK_BYTE *out, CK_ULONG *out_len);
CK_RV fwd_op_final(ch_session *s, ch_op_kind kind, CK_BYTE *out, CK_ULONG *out_len);
CK_RV fwd_op_verify(ch_session *s, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig,
                    CK_ULONG sig_len);
CK_RV fwd_op_verify_final(ch_session *s, const CK_BYTE *sig, CK_ULONG sig_len);
CK_RV fwd_generate_key(ch_session *s, const CK_MECHANISM *m, const CK_ATTRIBUTE *t, CK_ULONG n,
                       CK_OBJECT_HANDLE *h);
CK_RV fwd_generate_key_pair(ch_session *s, const CK_MECHANISM *m, const CK_ATTRIBUTE *pub_t,
                            CK_ULONG pub_n, const CK_ATTRIBUTE *priv_t, CK_ULONG priv_n,
                            CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv);
CK_RV fwd_random(ch_session *s, CK_BYTE *out, CK_ULONG len);
CK_RV fwd_wrap_key(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE wrapping,
                   CK_OBJECT_HANDLE key, CK_BYTE *out, CK_ULONG *out_len);
CK_RV fwd_unwrap_key(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE unwrapping,
                     const CK_BYTE *in, CK_ULONG in_len, const CK_ATTRIBUTE *t, CK_ULONG n,
                     CK_OBJECT_HANDLE *h);
CK_RV fwd_derive_key(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE base,
                     const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h);
CK_RV fwd_digest_key(ch_session *s, CK_OBJECT_HANDLE key);

#endif
