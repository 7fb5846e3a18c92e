/*
 * The backend interface: what a slot does once the front end has checked a
 * call's arguments and the session and login state.
 *
 * The software token (token/soft*.c) implements it today; a forwarding
 * backend that passes calls to another PKCS#11 module (an HSM) implements the
 * same table later.  The front end owns slots, sessions and the login state
 * machine; a backend owns everything behind them: the token's objects, its
 * keys and its operations.  Calls on one session are serialised by the front
 * end (the session lock is held); calls on different sessions run in
 * parallel, so a backend locks its own shared state.
 */
#ifndef CH_SRC_BACKEND_H
#define CH_SRC_BACKEND_H

#include <pthread.h>
#include <stdbool.h>

#include "cipherhub/pkcs11.h"
#include "cipherhub/vendor.h"
#include "mech.h" /* ch_op_kind only: no OpenSSL type crosses this line */

#define CH_NOBODY ((CK_USER_TYPE)-1)

typedef struct ch_backend_ops ch_backend_ops;

/* A slot as the front end sees it.  Slots are never freed before
 * C_Finalize, so pointers to them stay valid. */
typedef struct ch_slot {
	CK_SLOT_ID id;
	const ch_backend_ops *ops;
	void *be;             /* the backend's per-slot state */
	pthread_mutex_t lock; /* guards user and the counts below */
	CK_USER_TYPE user;    /* who is logged in: CH_NOBODY, CKU_SO, CKU_USER */
	CK_FLAGS roles;       /* the logged-in participant's CH_ROLE_* */
	CK_ULONG sessions;
	CK_ULONG rw_sessions;
} ch_slot;

/* A session.  The front end holds lock while a call works on it. */
typedef struct ch_session {
	CK_SESSION_HANDLE handle;
	ch_slot *slot;
	CK_FLAGS flags; /* CKF_SERIAL_SESSION, CKF_RW_SESSION */
	void *be;       /* the backend's per-session state */
	pthread_mutex_t lock;
	int refs; /* atomic: the table's and each call's (session.c) */
	bool closed;
} ch_session;

/* Who the session acts for, read under the slot lock.  Backends call it
 * before taking any lock of their own (lock order: front end first). */
static inline CK_USER_TYPE ch_session_user(ch_session *s)
{
	CK_USER_TYPE u;

	pthread_mutex_lock(&s->slot->lock);
	u = s->slot->user;
	pthread_mutex_unlock(&s->slot->lock);
	return u;
}

/* The roles of the participant the session acts for (0 when nobody is
 * logged in); same lock order rule as ch_session_user. */
static inline CK_FLAGS ch_session_roles(ch_session *s)
{
	CK_FLAGS r;

	pthread_mutex_lock(&s->slot->lock);
	r = s->slot->user == CH_NOBODY ? 0 : s->slot->roles;
	pthread_mutex_unlock(&s->slot->lock);
	return r;
}

static inline bool ch_session_rw(const ch_session *s)
{
	return (s->flags & CKF_RW_SESSION) != 0;
}

/* clang-format off: clang-format 14 splits multi-line function pointers badly */
struct ch_backend_ops {
	const char *name;

	/* Adjusts the description and flags of C_GetSlotInfo, which the front
	 * end filled for a software slot (token present).  NULL: nothing to
	 * adjust.  Must not wait on anything. */
	void (*slot_info)(void *be, CK_SLOT_INFO *info);

	/* Token (PKCS#11 3.0 section 5.5).  The front end fills the session
	 * counts of CK_TOKEN_INFO itself. */
	CK_RV (*token_info)(void *be, CK_TOKEN_INFO *info);
	CK_RV (*init_token)
	(void *be, const CK_UTF8CHAR *so_pin, CK_ULONG len, const CK_UTF8CHAR label[32]);
	CK_RV (*init_pin)(void *be, const CK_UTF8CHAR *pin, CK_ULONG len);
	/* C_SetPIN of the logged-in participant, or (nobody logged in) of
	 * participant name (NULL: the default of type who). */
	CK_RV (*set_pin)
	(void *be, CK_USER_TYPE who, const char *name, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
	 const CK_UTF8CHAR *new_pin, CK_ULONG new_len);
	CK_RV (*mechanism_list)(void *be, CK_MECHANISM_TYPE *list, CK_ULONG *count);
	CK_RV (*mechanism_info)(void *be, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info);
	CK_RV (*registration_info)(void *be, CH_REGISTRATION_INFO *info);

	/* Login (5.6): verify participant name's PIN (name NULL: the default
	 * SO or user), count failures, unlock; *roles gets the participant's
	 * roles.  Logout locks again. */
	CK_RV (*login)
	(void *be, CK_USER_TYPE who, const char *name, const CK_UTF8CHAR *pin, CK_ULONG len,
	 CK_FLAGS *roles);
	void (*logout)(void *be);

	/* Participants (vendor interface; the front end has checked that an
	 * admin is logged in and that names are well formed). */
	CK_RV (*participant_add)
	(void *be, const char *name, CK_FLAGS roles, const CK_UTF8CHAR *pin, CK_ULONG len);
	CK_RV (*participant_remove)(void *be, const char *name);
	CK_RV (*participant_list)(void *be, CH_PARTICIPANT_INFO *list, CK_ULONG *count);
	CK_RV (*participant_set_roles)(void *be, const char *name, CK_FLAGS roles);
	CK_RV (*participant_unlock)(void *be, const char *name);

	/* Grants (vendor interface; admin or operator checked). */
	CK_RV (*grant_set)(void *be, CK_OBJECT_HANDLE key, const char *grantee, CK_FLAGS ops);
	CK_RV (*grant_list)(void *be, CK_OBJECT_HANDLE key, CH_GRANT_INFO *list, CK_ULONG *count);

	/* Audit (vendor interface; admin or auditor checked). */
	CK_RV (*audit_read)(void *be, CK_ULONG from, CH_AUDIT_RECORD *list, CK_ULONG *count);
	CK_RV (*audit_verify)(void *be, CK_ULONG *first_bad, CK_ULONG *unauthenticated);

	/* Recovery (vendor interface; the front end checked the login state):
	 * a new recovery key into key, or admin access restored with one. */
	CK_RV (*recovery_setup)(void *be, CK_BYTE key[CH_RECOVERY_KEY_LEN]);
	CK_RV (*recover)
	(void *be, const CK_BYTE *key, CK_ULONG len, const CK_UTF8CHAR *pin, CK_ULONG pin_len);

	/* Backup and restore (vendor interface; an admin, or the free slot
	 * with no session, checked).  NULL: CKR_FUNCTION_NOT_SUPPORTED. */
	CK_RV (*backup_export)(void *be, CK_BYTE *out, CK_ULONG *len);
	CK_RV (*backup_import)(void *be, const CK_BYTE *data, CK_ULONG len,
	                       const CK_UTF8CHAR *pin, CK_ULONG pin_len);

	/* Sessions: set up and tear down s->be (session objects and any
	 * operation in progress die with the session). */
	CK_RV (*session_open)(ch_session *s);
	void (*session_close)(ch_session *s);

	/* Objects (5.7). */
	CK_RV (*create_object)
	(ch_session *s, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h);
	CK_RV (*copy_object)
	(ch_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n,
	 CK_OBJECT_HANDLE *out);
	CK_RV (*destroy_object)(ch_session *s, CK_OBJECT_HANDLE h);
	CK_RV (*object_size)(ch_session *s, CK_OBJECT_HANDLE h, CK_ULONG *size);
	CK_RV (*get_attributes)(ch_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *t, CK_ULONG n);
	CK_RV (*set_attributes)
	(ch_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n);
	CK_RV (*find_init)(ch_session *s, const CK_ATTRIBUTE *t, CK_ULONG n);
	CK_RV (*find)(ch_session *s, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count);
	CK_RV (*find_final)(ch_session *s);

	/* Cryptographic operations (5.8-5.16): one of each kind per session. */
	CK_RV (*op_init)
	(ch_session *s, ch_op_kind kind, const CK_MECHANISM *m, CK_OBJECT_HANDLE key);
	CK_RV (*op_oneshot)
	(ch_session *s, ch_op_kind kind, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
	 CK_ULONG *out_len);
	CK_RV (*op_update)
	(ch_session *s, ch_op_kind kind, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
	 CK_ULONG *out_len);
	CK_RV (*op_final)(ch_session *s, ch_op_kind kind, CK_BYTE *out, CK_ULONG *out_len);
	CK_RV (*op_verify)
	(ch_session *s, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig, CK_ULONG sig_len);
	CK_RV (*op_verify_final)(ch_session *s, const CK_BYTE *sig, CK_ULONG sig_len);

	/* Key management (5.18) and random numbers (5.19). */
	CK_RV (*generate_key)
	(ch_session *s, const CK_MECHANISM *m, const CK_ATTRIBUTE *t, CK_ULONG n,
	 CK_OBJECT_HANDLE *h);
	CK_RV (*generate_key_pair)
	(ch_session *s, const CK_MECHANISM *m, const CK_ATTRIBUTE *pub_t, CK_ULONG pub_n,
	 const CK_ATTRIBUTE *priv_t, CK_ULONG priv_n, CK_OBJECT_HANDLE *pub,
	 CK_OBJECT_HANDLE *priv);
	CK_RV (*random)(ch_session *s, CK_BYTE *out, CK_ULONG len);
	/* C_WrapKey: key wrapped under wrapping with m into out (out NULL:
	 * the length in *out_len). */
	CK_RV (*wrap_key)
	(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key,
	 CK_BYTE *out, CK_ULONG *out_len);
	/* C_UnwrapKey: a new key from in, unwrapped under unwrapping with m,
	 * with the attributes of template t. */
	CK_RV (*unwrap_key)
	(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE unwrapping, const CK_BYTE *in,
	 CK_ULONG in_len, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h);
	/* C_DeriveKey: a new key derived from base with m, template t. */
	CK_RV (*derive_key)
	(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE base, const CK_ATTRIBUTE *t,
	 CK_ULONG n, CK_OBJECT_HANDLE *h);
	/* C_DigestKey: feeds secret key's value to the session's digest. */
	CK_RV (*digest_key)(ch_session *s, CK_OBJECT_HANDLE key);

	/* Message-based encryption (enc) and decryption (5.9, 5.11): see
	 * ch_msg_* in token/mech.h; msg_final ends the operation.  All NULL
	 * for a backend without them (CKR_FUNCTION_NOT_SUPPORTED). */
	CK_RV (*msg_init)(ch_session *s, bool enc, const CK_MECHANISM *m, CK_OBJECT_HANDLE key);
	CK_RV (*msg_one)
	(ch_session *s, bool enc, void *param, CK_ULONG plen, const CK_BYTE *aad, CK_ULONG aad_len,
	 const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);
	CK_RV (*msg_begin)
	(ch_session *s, bool enc, void *param, CK_ULONG plen, const CK_BYTE *aad, CK_ULONG aad_len);
	CK_RV (*msg_next)
	(ch_session *s, bool enc, void *param, CK_ULONG plen, const CK_BYTE *in, CK_ULONG in_len,
	 CK_BYTE *out, CK_ULONG *out_len, CK_FLAGS flags);
	CK_RV (*msg_final)(ch_session *s, bool enc);

	/* Key versions (vendor interface 1.2, issue 8): CH_KeyRotate,
	 * CH_KeySetState, CH_KeySetMinVersion, with the session checked to be
	 * R/W.  NULL for a backend without them (CKR_FUNCTION_NOT_SUPPORTED). */
	CK_RV (*key_rotate)(ch_session *s, CK_OBJECT_HANDLE key, CK_OBJECT_HANDLE *out);
	CK_RV (*key_set_state)(ch_session *s, CK_OBJECT_HANDLE key, CK_ULONG state);
	CK_RV (*key_set_min_version)(ch_session *s, CK_OBJECT_HANDLE key, CK_ULONG min);

	/* Versioned encryption (vendor interface 1.3, issue 8): CH_Rewrap and
	 * CH_DataKeyGenerate, with the arguments checked (m, the length
	 * pointers, in for in_len).  NULL for a backend without them
	 * (CKR_FUNCTION_NOT_SUPPORTED). */
	CK_RV (*rewrap)
	(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE key, const CK_BYTE *in,
	 CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);
	CK_RV (*datakey_generate)
	(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE kek, CK_ULONG key_len,
	 CK_BYTE *wrapped, CK_ULONG *wrapped_len, CK_BYTE *plain, CK_ULONG *plain_len);
};
/* clang-format on */

#endif
