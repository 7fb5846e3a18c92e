/*
 * The software token's private structures, shared by soft_slot.c (slots,
 * tokens, PINs, login), soft_object.c (objects and searches) and
 * soft_crypto.c (operations and key generation).
 *
 * Locking: a slot's lock guards its keys (seal) and its session objects; the
 * soft token's lock guards the store connection and the slot list.  When
 * both are needed, the slot lock is taken first.  Crypto operations run
 * with neither held: an operation owns a copy of what it needs of its key.
 */
#ifndef CH_TOKEN_SOFT_INTERNAL_H
#define CH_TOKEN_SOFT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "attrs.h"
#include "mech.h"
#include "seal.h"
#include "soft.h"
#include "store.h"

/* Session object handles live above every token object ID. */
#define SOFT_SESSION_HANDLE_BASE 0x80000000UL

typedef struct soft_sobj {
	CK_OBJECT_HANDLE handle;
	CK_SESSION_HANDLE owner;
	ch_attrs *attrs;
} soft_sobj;

typedef struct soft_slot {
	ch_soft *sf;
	CK_SLOT_ID id;
	bool initialized; /* a registration exists for this slot */
	ch_reg_row reg;   /* its row, refreshed with the slot list */
	pthread_mutex_t lock;
	ch_seal *seal;                 /* working keys while someone is logged in */
	uint8_t regkey[CH_REGKEY_LEN]; /* valid while seal != NULL; wiped on logout */
	soft_sobj *sobj;
	size_t nsobj, cap;
} soft_slot;

struct ch_soft {
	ch_store *store;
	pthread_mutex_t lock;
	ch_kdf_params kdf;
	soft_slot **slot;
	size_t nslot;
	CK_OBJECT_HANDLE next_sobj;
	bool stale; /* our own commit changed the registrations: re-read them */
};

typedef struct soft_session {
	ch_op *op[CH_OP_KINDS];
	CK_OBJECT_HANDLE *found;
	CK_ULONG nfound, pos;
	bool finding;
} soft_session;

/* Refreshes the cached registration row of sl (slot lock held, store lock
 * not).  Returns CKR_OK or CKR_DEVICE_ERROR. */
CK_RV soft_slot_refresh(soft_slot *sl);

/* Reads object h as session s sees it into *out (a copy: caller frees).
 * CKR_OBJECT_HANDLE_INVALID when it is not there for s; CKR_DEVICE_ERROR
 * when it fails its integrity check.  Takes the locks itself. */
CK_RV soft_object_read(ch_session *s, CK_OBJECT_HANDLE h, ch_attrs **out);

/* Stores a new object for session s (token or session object per its
 * CKA_TOKEN), assigning CKA_UNIQUE_ID, and returns its handle.  Checks the
 * session may: CKR_SESSION_READ_ONLY, CKR_USER_NOT_LOGGED_IN.  Takes
 * ownership of a in every case. */
CK_RV soft_object_add(ch_session *s, ch_attrs *a, CK_OBJECT_HANDLE *h);

/* Destroys every session object owned by session handle owner. */
void soft_object_drop_session(soft_slot *sl, CK_SESSION_HANDLE owner);

/* Ends the search of a session, freeing its results. */
void soft_find_clear(soft_session *ss);

/* Backend entry points implemented in soft_object.c and soft_crypto.c (see
 * backend.h for their contracts). */
CK_RV soft_create_object(ch_session *s, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h);
CK_RV soft_copy_object(ch_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n,
                       CK_OBJECT_HANDLE *out);
CK_RV soft_destroy_object(ch_session *s, CK_OBJECT_HANDLE h);
CK_RV soft_object_size(ch_session *s, CK_OBJECT_HANDLE h, CK_ULONG *size);
CK_RV soft_get_attributes(ch_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *t, CK_ULONG n);
CK_RV soft_set_attributes(ch_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n);
CK_RV soft_find_init(ch_session *s, const CK_ATTRIBUTE *t, CK_ULONG n);
CK_RV soft_find(ch_session *s, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count);
CK_RV soft_find_final(ch_session *s);
CK_RV soft_op_init(ch_session *s, ch_op_kind kind, const CK_MECHANISM *m, CK_OBJECT_HANDLE key);
CK_RV soft_op_oneshot(ch_session *s, ch_op_kind kind, const CK_BYTE *in, CK_ULONG in_len,
                      CK_BYTE *out, CK_ULONG *out_len);
CK_RV soft_op_update(ch_session *s, ch_op_kind kind, const CK_BYTE *in, CK_ULONG in_len,
                     CK_BYTE *out, CK_ULONG *out_len);
CK_RV soft_op_final(ch_session *s, ch_op_kind kind, CK_BYTE *out, CK_ULONG *out_len);
CK_RV soft_op_verify(ch_session *s, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig,
                     CK_ULONG sig_len);
CK_RV soft_op_verify_final(ch_session *s, const CK_BYTE *sig, CK_ULONG sig_len);
CK_RV soft_generate_key(ch_session *s, const CK_MECHANISM *m, const CK_ATTRIBUTE *t, CK_ULONG n,
                        CK_OBJECT_HANDLE *h);
CK_RV soft_generate_key_pair(ch_session *s, const CK_MECHANISM *m, const CK_ATTRIBUTE *pub_t,
                             CK_ULONG pub_n, const CK_ATTRIBUTE *priv_t, CK_ULONG priv_n,
                             CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv);
CK_RV soft_random(ch_session *s, CK_BYTE *out, CK_ULONG len);

#endif
