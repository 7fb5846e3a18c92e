/*
 * The software token's private structures, shared by soft_slot.c (slots,
 * tokens, PINs, login), soft_object.c (objects and searches) and
 * soft_crypto.c (operations and key generation).
 *
 * Locking: a slot's lock guards its keys (seal) and its session objects; the
 * soft token's lock guards the store connection and the slot list.  When
 * both are needed, the slot lock is taken first.  Crypto operations run
 * with neither held: an operation owns what it derived from its key.
 */
#ifndef CH_TOKEN_SOFT_INTERNAL_H
#define CH_TOKEN_SOFT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "attrs.h"
#include "mech.h"
#include "object.h"
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

/* A participant as the store keys it (see soft_login.c). */
typedef struct soft_ident {
	CK_USER_TYPE who;
	char name[CH_NAME_MAX + 1];
} soft_ident;

#define SOFT_PIN_MIN 4
#define SOFT_PIN_MAX 255

typedef struct soft_slot {
	ch_soft *sf;
	CK_SLOT_ID id;
	bool initialized; /* a registration exists for this slot */
	ch_reg_row reg;   /* its row, refreshed with the slot list */
	pthread_mutex_t lock;
	ch_seal *seal;                     /* working keys while someone is logged in */
	uint8_t regkey[CH_REGKEY_LEN];     /* valid while seal != NULL; wiped on logout */
	char participant[CH_NAME_MAX + 1]; /* who is logged in (display name) */
	soft_ident ident;                  /* ... and as the store keys it */
	uint64_t login_gen;                /* moves at every logout: ends the operations started
	                                    * before it (atomic: read without the slot lock) */
	soft_sobj *sobj;
	size_t nsobj, cap;
	struct soft_keycache *kc; /* opened copies of used keys (soft_keycache.c) */
	struct ch_audit_agg *agg; /* its key uses not yet written to the audit log */
} soft_slot;

struct ch_soft {
	ch_store *store;
	pthread_mutex_t lock;
	ch_kdf_params kdf;
	CK_ULONG max_failures; /* consecutive wrong PINs that lock a participant */
	soft_slot **slot;
	size_t nslot;
	CK_OBJECT_HANDLE next_sobj;
	bool stale;             /* our own commit changed the registrations: re-read them */
	char *legacy_key_roles; /* registrations relaxing key-role separation */
	struct fwd_slot **fwd;  /* forwarded registrations (fwd.h) */
	size_t nfwd;
	struct soft_root *root; /* the [root:] sections (soft_root.c) */
	size_t nroot;
};

/* CKA_APPLICATION of the marker objects that stand in the store for a
 * forwarded registration's backend keys (fwd.c): grants hang on them. */
#define SOFT_MARKER_APP "cipherhub:forwarded"

/* A growing list of object IDs, and the ch_store_find callback that fills
 * it (non-zero: out of memory).  The caller frees v. */
typedef struct soft_id_list {
	int64_t *v;
	size_t n, cap;
	bool oom; /* an ID could not be kept: the list is short (callers fail) */
} soft_id_list;
int soft_collect_id(void *arg, int64_t id);

/* A slot of sf with ID id, not yet in any list; freed with soft_slot_free
 * (which wipes its keys). */
soft_slot *soft_slot_alloc(ch_soft *sf, CK_SLOT_ID id);
void soft_slot_free(soft_slot *sl);

/* Who a call acts for: read from the front end before any soft lock. */
typedef struct soft_actor {
	CK_USER_TYPE user;
	CK_FLAGS roles;
} soft_actor;

typedef struct soft_session {
	ch_op *op[CH_OP_KINDS];
	ch_msg *msg[2]; /* message-based decryption [0] and encryption [1] */
	uint64_t op_gen[CH_OP_KINDS], msg_gen[2]; /* login_gen at their init */
	char msg_who[2][CH_NAME_MAX + 1];         /* who a message-based operation counts for ("":
	                                           * a session key, not counted) */
	CK_OBJECT_HANDLE *found;
	CK_ULONG nfound, pos;
	bool finding;
} soft_session;

/* Participant names: the store keys the default SO and user by "" and the
 * vendor interface shows them as these. */
#define SOFT_NAME_SO      "so"
#define SOFT_NAME_DEFAULT "default"

/* True when sl's registration is named in [policy] legacy_key_roles.  Slot
 * lock held. */
bool soft_legacy_key_roles(const soft_slot *sl);

/* True (and logged, naming what is refused) when label is a [forward:]
 * section's name: a forwarded registration's name is its slot's alone. */
bool soft_label_forwarded(const ch_soft *sf, const char *label, const char *what);

/* Runs fn(sl, arg) inside a store transaction (store lock taken here, slot
 * lock held by the caller): commits on CKR_OK, rolls back otherwise. */
CK_RV soft_txn(soft_slot *sl, CK_RV (*fn)(soft_slot *sl, void *arg), void *arg);

/* ---- soft_login.c ---- */

/* The store key of a login as type with name (NULL or "": the default SO or
 * user; "so" and "default" name those two). */
void soft_ident_of(CK_USER_TYPE type, const char *name, soft_ident *id);

/* The name the vendor interface shows for id. */
const char *soft_ident_display(const soft_ident *id);

/* CKR_OK or CKR_PIN_LEN_RANGE. */
CK_RV soft_pin_check(CK_ULONG len);

/* Checks pin for participant id (slot lock held): CKR_OK with regkey
 * (caller wipes) and *cred; CKR_PIN_INCORRECT (counted in the store; also for
 * an unknown participant), CKR_PIN_LOCKED, CKR_USER_PIN_NOT_INITIALIZED. */
CK_RV soft_verify_pin(soft_slot *sl, const soft_ident *id, const CK_UTF8CHAR *pin, CK_ULONG len,
                      uint8_t regkey[CH_REGKEY_LEN], ch_cred *cred);

/* Wraps regkey under pin for id and stores it with roles (own transaction). */
CK_RV soft_put_credential(soft_slot *sl, const soft_ident *id, CK_FLAGS roles,
                          const CK_UTF8CHAR *pin, CK_ULONG len,
                          const uint8_t regkey[CH_REGKEY_LEN]);

/* CKF_USER_PIN_* and CKF_SO_PIN_* flags of the default participants. */
CK_FLAGS soft_token_pin_flags(soft_slot *sl);

/* The store key of the recovery credential (soft_recovery.c): a user type
 * no PKCS#11 login has, name "". */
#define SOFT_RECOVERY_USER ((CK_USER_TYPE)16)

/* Backend entry points of soft_login.c, soft_participant.c and
 * soft_recovery.c. */
CK_RV soft_recovery_setup(void *be, CK_BYTE key[CH_RECOVERY_KEY_LEN]);
CK_RV soft_recover(void *be, const CK_BYTE *key, CK_ULONG len, const CK_UTF8CHAR *pin,
                   CK_ULONG pin_len);
/* soft_backup.c */
CK_RV soft_backup_export(void *be, CK_BYTE *out, CK_ULONG *len);
CK_RV soft_backup_import(void *be, const CK_BYTE *data, CK_ULONG len, const CK_UTF8CHAR *pin,
                         CK_ULONG pin_len);
CK_RV soft_login(void *be, CK_USER_TYPE who, const char *name, const CK_UTF8CHAR *pin, CK_ULONG len,
                 CK_FLAGS *roles);
void soft_logout(void *be);
CK_RV soft_init_pin(void *be, const CK_UTF8CHAR *pin, CK_ULONG len);
CK_RV soft_set_pin(void *be, CK_USER_TYPE who, const char *name, const CK_UTF8CHAR *old_pin,
                   CK_ULONG old_len, const CK_UTF8CHAR *new_pin, CK_ULONG new_len);
CK_RV soft_participant_add(void *be, const char *name, CK_FLAGS roles, const CK_UTF8CHAR *pin,
                           CK_ULONG len);
CK_RV soft_participant_remove(void *be, const char *name);
CK_RV soft_participant_list(void *be, CH_PARTICIPANT_INFO *list, CK_ULONG *count);
CK_RV soft_participant_set_roles(void *be, const char *name, CK_FLAGS roles);
CK_RV soft_participant_unlock(void *be, const char *name);

/* Refreshes the cached registration row of sl (slot lock held, store lock
 * not).  Returns CKR_OK or CKR_DEVICE_ERROR. */
CK_RV soft_slot_refresh(soft_slot *sl);

/* Reads object h as session s sees it into *out (a copy: caller frees).
 * CKR_OBJECT_HANDLE_INVALID when it is not there for s; CKR_DEVICE_ERROR
 * when it fails its integrity check.  Takes the locks itself. */
CK_RV soft_object_read(ch_session *s, CK_OBJECT_HANDLE h, ch_attrs **out);

/* soft_object_read, also giving the creator of a token object (display
 * name; "" for session objects and objects older than participants). */
CK_RV soft_object_read_owned(ch_session *s, CK_OBJECT_HANDLE h, ch_attrs **out,
                             char owner[CH_NAME_MAX + 1]);

/* ---- soft_keycache.c: opened copies of used token keys ---- */

/* An operation's key: its attributes and its creator (display name; "" for
 * session objects and objects older than participants), shared by
 * reference between the key cache and the inits using it.  attrs is never
 * changed once the key is shared; the last release wipes it.  refs is
 * atomic: hold and release need no lock. */
typedef struct soft_key {
	unsigned refs;
	ch_attrs *attrs;
	char owner[CH_NAME_MAX + 1];
	CK_ULONG due_at;    /* when a rotation falls due (soft_version_due_at); 0: never */
	int noted;          /* atomic: its key.rotation_due was written */
	uint64_t bound;     /* encryptions that make it due (soft_version_bound); 0: none */
	uint64_t uses_base; /* with a bound: its count in the store when read */
	uint64_t uses;      /* atomic: encryptions begun with this copy since */
	int noted_bound;    /* atomic: its key.rotation_due for the bound was written */
} soft_key;

/* A new key with one reference, taking ownership of a (freed when out of
 * memory: then NULL). */
soft_key *soft_key_new(ch_attrs *a, const char *owner);

/* Takes one more reference to k and returns k. */
soft_key *soft_key_hold(soft_key *k);

/* Lets go of one reference; the last one wipes and frees.  Accepts NULL. */
void soft_key_release(soft_key *k);

/* Object h as an operation's key for session s (*out: a reference, caller
 * releases), through the key cache, with the same access checks on every
 * call as soft_object_read_owned, and those of soft_check_grant for need,
 * all under one taking of the locks; participant gets who is logged in
 * (sl->participant) as of that read.  Takes the locks itself. */
CK_RV soft_object_read_key(ch_session *s, CK_OBJECT_HANDLE h, CK_FLAGS need, soft_key **out,
                           char participant[CH_NAME_MAX + 1]);

/* A reference to the current cached key of token object id (*out, caller
 * releases): CKR_OK, or CKR_OBJECT_HANDLE_INVALID when not cached or stale
 * (a stale entry is let go).  Slot and store locks held. */
CK_RV soft_keycache_get(soft_slot *sl, int64_t id, soft_key **out);

/* Caches k (the cache takes its own reference), object id at generation gen
 * as read after the store epoch was epoch, parsing its key first: k must not
 * be shared yet.  Only while someone is logged in.  Locks as above. */
void soft_keycache_put(soft_slot *sl, int64_t id, int64_t gen, uint64_t epoch, soft_key *k);

/* Lets go of the entry of object id, if any.  Locks as above. */
void soft_keycache_drop(soft_slot *sl, int64_t id);

/* Lets go of every entry and frees the cache (logout, login, C_InitToken,
 * slot teardown): keys no init holds are wiped at once, the others when
 * their init lets go.  Slot lock held; the store lock is not needed. */
void soft_keycache_clear(soft_slot *sl);

/* ---- soft_root.c: an HSM as a registration's root of trust ---- */

typedef struct soft_root soft_root;

/* Takes sf's [root:] sections from cfg (which outlives sf); no HSM is
 * contacted before a registration needs it.  CKR_OK or CKR_HOST_MEMORY. */
CK_RV soft_roots_open(ch_soft *sf, const ch_config *cfg);

/* Closes the HSM connections and frees the sections. */
void soft_roots_close(ch_soft *sf);

/* The seal of sl's registration, which is becoming row next (a login: next
 * is sl->reg), built from its registration key regkey.  fresh: next is a
 * new registration, which gets an HSM root when [root:NEXT-LABEL] is
 * configured.  Else a registration with a root has its secret decrypted by
 * the HSM (and moved to the new name's HSM key if next renames it); one
 * without is unaffected by [root:] sections.  CKR_OK with *seal (caller
 * frees) and *root, the row to store when root->present; CKR_DEVICE_ERROR
 * (logged) when the HSM cannot give or take the secret; CKR_HOST_MEMORY.
 * Slot lock held, store lock not: no global lock is held while the HSM
 * works. */
CK_RV soft_root_seal(soft_slot *sl, const ch_reg_row *next, bool fresh,
                     const uint8_t regkey[CH_REGKEY_LEN], ch_root_row *root, ch_seal **seal);

/* ---- soft_audit.c ---- */

/* Appends one audit record of sl's registration (own transaction), MACed
 * with seal when not NULL; obj (may be NULL) names the object by its
 * CKA_UNIQUE_ID.  Slot lock held, store lock not.  A failure is logged. */
void soft_audit(soft_slot *sl, const ch_seal *seal, const char *participant, const char *op,
                const ch_attrs *obj, CK_RV result, const char *detail);

/* Counts one use of key (operation op, e.g. "key.sign") by sl's participant
 * and writes the counts when they are due.  Slot lock held. */
void soft_audit_use(soft_slot *sl, const ch_attrs *key, const char *op);

/* soft_audit_use for an operation's init, with no lock held: counts the use
 * by participant (as read with the key) and takes the slot lock only when
 * the counts are due to be written. */
void soft_audit_use_unlocked(soft_slot *sl, const ch_attrs *key, const char *participant,
                             const char *op);

/* soft_audit of a wrap of key under wrapping (as sl's participant, MACed
 * with sl's seal) that, when result is CKR_OK and wrapping is a token key,
 * counts one encryption of wrapping in key_use in the same transaction.
 * Returns wrapping's count after (0 when nothing was counted).  Slot lock
 * held, store lock not. */
uint64_t soft_audit_wrap(soft_slot *sl, const ch_attrs *key, const ch_attrs *wrapping, CK_RV result,
                         const char *detail);

/* Writes every pending key-use count now.  Slot lock held. */
void soft_audit_flush(soft_slot *sl);

/* Backend entry points: the vendor interface's audit read and verify. */
CK_RV soft_audit_read(void *be, CK_ULONG from, CH_AUDIT_RECORD *list, CK_ULONG *count);
CK_RV soft_audit_verify(void *be, CK_ULONG *first_bad, CK_ULONG *unauthenticated);

/* ---- soft_grant.c ---- */

/* The CH_GRANT_* bit an operation kind needs. */
CK_FLAGS soft_grant_bit(ch_op_kind kind);

/* May the logged-in participant of sl (with roles) use token object obj,
 * created by owner, for the operations in need (0: for anything, i.e. see
 * it)?  Slot and store locks held. */
bool soft_grant_allows(soft_slot *sl, CK_FLAGS roles, int64_t obj, const char *owner,
                       CK_FLAGS need);

CK_RV soft_grant_set(void *be, CK_OBJECT_HANDLE key, const char *grantee, CK_FLAGS ops);
CK_RV soft_grant_list(void *be, CK_OBJECT_HANDLE key, CH_GRANT_INFO *list, CK_ULONG *count);

/* Who is acting, for the object rules: the SO, or a participant with the
 * admin role (the registration's admin is its SO, so only admins set
 * CKA_TRUSTED), and the registration's key-role policy.  Takes the locks;
 * call it with none held. */
ch_object_env soft_object_env(ch_session *s);

/* Gives a a fresh random CKA_UNIQUE_ID (32 hex digits). */
CK_RV soft_set_unique_id(ch_attrs *a);

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

/* Key use needs a logged-in participant with the user role:
 * CKR_OK, CKR_USER_NOT_LOGGED_IN or CKR_KEY_FUNCTION_NOT_PERMITTED. */
CK_RV soft_may_use_keys(ch_session *s);

/* CKR_OK when the session's participant may use key (created by owner) for
 * the CH_GRANT_* operations in need; CKR_KEY_FUNCTION_NOT_PERMITTED when no
 * grant allows it.  Session objects need no grant.  Takes the locks. */
CK_RV soft_check_grant(ch_session *s, CK_OBJECT_HANDLE key, const char *owner, CK_FLAGS need);

/* ---- soft_version.c: key families, versions, rotation, retiring ---- */

/* True when template t asks for a new version (CKA_CH_NEW_VERSION TRUE). */
bool soft_version_asked(const CK_ATTRIBUTE *t, CK_ULONG n);

/* Sets CKA_CH_CREATED (now) on a token key that has none. */
void soft_version_stamp(ch_attrs *a);

/* Stores key a (made and finished) as the next version of the family its
 * CKA_LABEL and class name, in one transaction that commits only when
 * expect (if not CK_INVALID_HANDLE) is still the family's primary: CKR_OK
 * with *h; CKR_TEMPLATE_INCONSISTENT (no such family, or not a token key),
 * CKR_CH_KEY_NOT_PRIMARY, CKR_USER_NOT_LOGGED_IN, CKR_SESSION_READ_ONLY,
 * CKR_ACTION_PROHIBITED (not an operator).  Takes ownership of a.  Takes
 * the locks. */
CK_RV soft_version_add(ch_session *s, ch_attrs *a, CK_OBJECT_HANDLE expect, CK_OBJECT_HANDLE *h);

/* The next versions of a key pair's two families (the private key's and
 * the public key's) in one transaction, sharing one CKA_ID; expect_pub and
 * expect_priv as expect of soft_version_add.  Takes ownership of both;
 * returns like soft_version_add. */
CK_RV soft_version_add_pair(ch_session *s, ch_attrs *pub, ch_attrs *priv,
                            CK_OBJECT_HANDLE expect_pub, CK_OBJECT_HANDLE expect_priv,
                            CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv);

/* ---- soft_due.c: when a family falls due for rotation ---- */

/* When a token key that is a primary (or plain key) with a rotation period
 * falls due (seconds since the epoch), or 0 when it never does. */
CK_ULONG soft_version_due_at(const ch_attrs *key);

/* The encryptions after which a token key that is a primary (or plain key)
 * is due (CKA_CH_MAX_ENCRYPTIONS), or 0 when it has no bound. */
uint64_t soft_version_bound(const ch_attrs *key);

/* Counts encryptions (0 for an init that encrypts nothing) begun with k
 * and writes a key.rotation_due audit record, as participant who, once per
 * process and key, when k is past its due time or its count reaches its
 * bound.  On the way of every operation init: a comparison, and an atomic
 * increment for a key with a bound; call with no lock held: takes the slot
 * lock only to write the record. */
void soft_version_note_use(soft_slot *sl, soft_key *k, const char *who, unsigned encryptions);

/* The same record for key, whose count in the store is now n (a wrap,
 * counted there at once).  No lock held. */
void soft_version_note_count(soft_slot *sl, const ch_attrs *key, uint64_t n, const char *who);

/* How many members (versions and plain objects) the family of key or
 * secret a has, into *n (0 for anything else).  Slot lock and store
 * transaction (or store lock) held. */
CK_RV soft_version_family_size(soft_slot *sl, const ch_attrs *a, size_t *n);

/* C_DestroyObject's family rule: CKR_ACTION_PROHIBITED for the primary of a
 * family that has other members, else CKR_OK.  Locks as above. */
CK_RV soft_version_may_destroy(soft_slot *sl, const ch_attrs *a);

/* Backend entry points of the vendor interface (cipherhub/vendor.h). */
CK_RV soft_key_rotate(ch_session *s, CK_OBJECT_HANDLE key, CK_OBJECT_HANDLE *out);
CK_RV soft_key_set_state(ch_session *s, CK_OBJECT_HANDLE key, CK_ULONG state);
CK_RV soft_key_set_min_version(ch_session *s, CK_OBJECT_HANDLE key, CK_ULONG min);

/* soft_generate_key (soft_crypto.c) for a rotation from expect (see
 * soft_version_add), or a plain one when expect is CK_INVALID_HANDLE and t
 * does not ask for a new version. */
CK_RV soft_generate_key_for(ch_session *s, const CK_MECHANISM *m, const CK_ATTRIBUTE *t, CK_ULONG n,
                            CK_OBJECT_HANDLE expect, CK_OBJECT_HANDLE *h);

/* soft_generate_key_pair (soft_crypto.c) for a rotation from the pair
 * (expect_pub, expect_priv) (see soft_version_add_pair), or a plain one
 * when both are CK_INVALID_HANDLE and no template asks for a new version. */
CK_RV soft_generate_key_pair_for(ch_session *s, const CK_MECHANISM *m, const CK_ATTRIBUTE *pub_t,
                                 CK_ULONG pub_n, const CK_ATTRIBUTE *priv_t, CK_ULONG priv_n,
                                 CK_OBJECT_HANDLE expect_pub, CK_OBJECT_HANDLE expect_priv,
                                 CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv);

/* ---- soft_secret.c: secrets (issue 8) ---- */

/* Stores secret a (built by C_CreateObject) as version 1 of a new secret:
 * one transaction, which finds no secret of that name (else
 * CKR_ACTION_PROHIBITED).  Audited (secret.put).  Checks the session as
 * soft_object_add; takes ownership of a and the locks. */
CK_RV soft_secret_put(ch_session *s, ch_attrs *a, CK_OBJECT_HANDLE *h);

/* C_GetAttributeValue of secret a (token object id, created by owner) for
 * ac: CKA_VALUE only to its creator or a CH_GRANT_READ grantee, of a
 * version that is active or previous and not below the minimum, else
 * CKR_ATTRIBUTE_SENSITIVE for it; audits the read (secret.read), or the
 * refusal.  Slot lock held, store lock not. */
CK_RV soft_secret_get(soft_slot *sl, const soft_actor *ac, int64_t id, const ch_attrs *a,
                      const char *owner, CK_ATTRIBUTE *t, CK_ULONG n);

/* What a grant on a key may hold: every operation but CH_GRANT_READ,
 * which is a secret's alone (CH_GRANT_ALL on a key grants these). */
#define SOFT_GRANT_KEY_OPS (CH_GRANT_ALL & ~CH_GRANT_READ)

/* ---- soft_vgcm.c: versioned AES-256-GCM, rewrap, data keys ---- */

/* Adds to op (a CKM_CH_AES_GCM_VERSIONED decryption started with given,
 * object h) the other versions of given's family that session s may
 * decrypt with.  CKR_OK (also when there are none), CKR_HOST_MEMORY,
 * CKR_DEVICE_ERROR ...  Takes the locks itself. */
CK_RV soft_vgcm_add_versions(ch_session *s, CK_OBJECT_HANDLE h, const ch_attrs *given, ch_op *op);

/* C_UnwrapKey's cryptography for CKM_CH_AES_GCM_VERSIONED with unwrapping
 * key uk (object h; read and granted): unwraps with the version the header
 * names (as ch_mech_unwrap, *out for the caller to wipe and free).  *guard
 * is set when the family's CKA_CH_DATAKEY_PLAINTEXT is not TRUE: the new
 * key must then be sensitive and not extractable, and a template t asking
 * otherwise is CKR_TEMPLATE_INCONSISTENT (nothing unwrapped). */
CK_RV soft_vgcm_unwrap(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE h, const ch_attrs *uk,
                       const CK_ATTRIBUTE *t, CK_ULONG n, const CK_BYTE *in, CK_ULONG in_len,
                       CK_BYTE **out, CK_ULONG *out_len, bool *guard);

/* Backend entry points of the vendor interface 1.3 (cipherhub/vendor.h). */
CK_RV soft_rewrap(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE key, const CK_BYTE *in,
                  CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);
CK_RV soft_datakey_generate(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE kek,
                            CK_ULONG key_len, CK_BYTE *wrapped, CK_ULONG *wrapped_len,
                            CK_BYTE *plain, CK_ULONG *plain_len);

/* ---- soft_keys.c: key management (PKCS#11 3.0 section 5.18) ---- */
CK_RV soft_wrap_key(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE wrapping,
                    CK_OBJECT_HANDLE key, CK_BYTE *out, CK_ULONG *out_len);
CK_RV soft_unwrap_key(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE unwrapping,
                      const CK_BYTE *in, CK_ULONG in_len, const CK_ATTRIBUTE *t, CK_ULONG n,
                      CK_OBJECT_HANDLE *h);
CK_RV soft_derive_key(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE base,
                      const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h);
CK_RV soft_digest_key(ch_session *s, CK_OBJECT_HANDLE key);

/* ---- soft_crypto.c: message-based encryption and decryption ---- */
CK_RV soft_msg_init(ch_session *s, bool enc, const CK_MECHANISM *m, CK_OBJECT_HANDLE key);
CK_RV soft_msg_one(ch_session *s, bool enc, void *param, CK_ULONG plen, const CK_BYTE *aad,
                   CK_ULONG aad_len, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                   CK_ULONG *out_len);
CK_RV soft_msg_begin(ch_session *s, bool enc, void *param, CK_ULONG plen, const CK_BYTE *aad,
                     CK_ULONG aad_len);
CK_RV soft_msg_next(ch_session *s, bool enc, void *param, CK_ULONG plen, const CK_BYTE *in,
                    CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len, CK_FLAGS flags);
CK_RV soft_msg_final(ch_session *s, bool enc);

#endif
