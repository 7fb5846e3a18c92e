/*
 * The raw store: one SQLite database holding every registration of a Cipher
 * Hub installation, its wrapped keys and its token objects.
 *
 * This layer moves rows and knows nothing of encryption: values arrive here
 * already sealed (seal.h) and leave still sealed.  It owns the schema and its
 * migrations, the connection settings (WAL, busy timeout, foreign keys), and
 * the transactions that make every change atomic.
 *
 * Several processes may open one store at once; WAL lets readers run beside a
 * writer, BEGIN IMMEDIATE serialises writers, and ch_store_changed() tells a
 * caller cheaply (PRAGMA data_version) that another connection committed, so
 * caches can be refreshed without restarting.
 *
 * A ch_store is not thread-safe by itself: the caller holds a lock around
 * every call and around each transaction.
 */
#ifndef CH_TOKEN_STORE_H
#define CH_TOKEN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cipherhub/pkcs11.h"
#include "cipherhub/vendor.h"
#include "seal.h"

#define CH_STORE_SCHEMA_VERSION 4

typedef struct ch_store ch_store;

/* Opens (creating it and its directory, private to the user, if needed) the
 * store at path and brings its schema up to date.  CKR_OK with *out, or
 * CKR_DEVICE_ERROR (logged: cannot create, cannot open, not a Cipher Hub
 * store, schema newer than this module). */
CK_RV ch_store_open(const char *path, ch_store **out);

/* Closes the store.  Accepts NULL. */
void ch_store_close(ch_store *st);

/* Transactions: BEGIN IMMEDIATE / COMMIT / ROLLBACK.  Begin waits for other
 * writers (busy timeout); commit returns CKR_DEVICE_ERROR if it failed, in
 * which case the transaction has been rolled back. */
CK_RV ch_store_begin(ch_store *st);
CK_RV ch_store_commit(ch_store *st);
void ch_store_rollback(ch_store *st);

/* Copies the write-ahead log into the database and truncates it, so rows
 * deleted (and, secure_delete being on, zeroed) leave no copy in the log.
 * Waits for readers (busy timeout).  CKR_OK or CKR_DEVICE_ERROR. */
CK_RV ch_store_wal_truncate(ch_store *st);

/* A read transaction: one snapshot of the store that holds up no writer
 * (WAL).  End it with ch_store_rollback. */
CK_RV ch_store_begin_read(ch_store *st);

/* The SQLite connection, for the store's other row layers (audit.c) that
 * keep their own statements.  Same locking rules as every other call. */
struct sqlite3 *ch_store_db(ch_store *st);

/* True when another connection has committed since the last call. */
bool ch_store_changed(ch_store *st);

/* A number that moves whenever the store may have changed since the last
 * call: another connection (any process) committed (PRAGMA data_version, a
 * read of shared memory, not of the file), or this one did (ch_store_commit).
 * Independent of ch_store_changed.  Caches of store contents compare it to
 * the value they were filled at (soft_keycache.c). */
uint64_t ch_store_epoch(ch_store *st);

/* ---- registrations ---- */

typedef struct ch_reg_row {
	int64_t id; /* the slot ID */
	uint8_t uuid[CH_UUID_LEN];
	char label[33]; /* NUL-terminated, at most 32 bytes */
	int user_pin_set;
} ch_reg_row;

/* Calls fn for every registration in slot-ID order; stops at a non-zero
 * return.  CKR_OK or CKR_DEVICE_ERROR. */
CK_RV ch_store_reg_each(ch_store *st, int (*fn)(void *arg, const ch_reg_row *r), void *arg);

/* Reads one registration.  CKR_OK, CKR_SLOT_ID_INVALID when absent, or
 * CKR_DEVICE_ERROR. */
CK_RV ch_store_reg_get(ch_store *st, int64_t id, ch_reg_row *out);

/* The slot ID the next registration will get. */
CK_RV ch_store_reg_next_id(ch_store *st, int64_t *out);

/* Inserts a registration with the given ID (in a transaction).
 * CKR_OK, CKR_DEVICE_ERROR (including: ID already taken). */
CK_RV ch_store_reg_insert(ch_store *st, const ch_reg_row *r);

/* Updates label and user_pin_set of registration r->id. */
CK_RV ch_store_reg_update(ch_store *st, const ch_reg_row *r);

/* ---- participants: credentials (PIN-wrapped registration keys), roles,
 * failed-login counts.  A participant is (reg, user type, name); the
 * default SO and default user have the name "". ---- */

typedef struct ch_cred {
	ch_wrapped_key w;
	CK_FLAGS roles;    /* CH_ROLE_* */
	CK_ULONG failures; /* consecutive wrong PINs */
} ch_cred;

/* Reads participant (reg, who, name).  CKR_OK, CKR_USER_PIN_NOT_INITIALIZED
 * when absent, CKR_DEVICE_ERROR. */
CK_RV ch_store_cred_get(ch_store *st, int64_t reg, CK_USER_TYPE who, const char *name,
                        ch_cred *out);

/* Creates or replaces a participant's wrapped key and roles; its failure
 * count starts again at 0. */
CK_RV ch_store_cred_put(ch_store *st, int64_t reg, CK_USER_TYPE who, const char *name,
                        const ch_wrapped_key *w, CK_FLAGS roles);

/* Sets roles and failure count.  CKR_USER_PIN_NOT_INITIALIZED when absent. */
CK_RV ch_store_cred_set(ch_store *st, int64_t reg, CK_USER_TYPE who, const char *name,
                        CK_FLAGS roles, CK_ULONG failures);

/* Adds one to the failure count (one statement: concurrent processes add up)
 * and returns the new count in *failures. */
CK_RV ch_store_cred_fail(ch_store *st, int64_t reg, CK_USER_TYPE who, const char *name,
                         CK_ULONG *failures);

/* Deletes one participant (CKR_OK also when absent). */
CK_RV ch_store_cred_delete(ch_store *st, int64_t reg, CK_USER_TYPE who, const char *name);

/* Deletes every participant of user type who in reg. */
CK_RV ch_store_cred_delete_all(ch_store *st, int64_t reg, CK_USER_TYPE who);

/* Calls fn for every participant of reg (SO first, then by name); stops at a
 * non-zero return. */
CK_RV ch_store_cred_each(ch_store *st, int64_t reg,
                         int (*fn)(void *arg, CK_USER_TYPE who, const char *name, CK_FLAGS roles,
                                   CK_ULONG failures),
                         void *arg);

/* ---- objects ---- */

typedef struct ch_row {
	CK_ATTRIBUTE_TYPE type;
	int sealed;
	uint8_t *value; /* sealed: nonce||ct||tag; else the plain value */
	size_t len;
	uint8_t lookup[CH_LOOKUP_LEN];
	int has_lookup;
} ch_row;

typedef struct ch_rows {
	int64_t id;
	int64_t reg;
	int private_;
	char owner[CH_NAME_MAX + 1]; /* the participant that created it ("": default) */
	int64_t gen;
	uint8_t mac[CH_MAC_LEN];
	ch_row *v; /* sorted by type */
	size_t n;
} ch_rows;

/* Frees rows loaded by ch_store_obj_load (values are sealed or public, but
 * are wiped anyway).  Accepts NULL. */
void ch_rows_free(ch_rows *r);

/* Reserves a new object ID in reg, created by participant owner (inside a
 * transaction). */
CK_RV ch_store_obj_new(ch_store *st, int64_t reg, int private_, const char *owner, int64_t *id);

/* Replaces all rows and the MAC of object r->id, bumping its generation
 * (inside a transaction). */
CK_RV ch_store_obj_write(ch_store *st, const ch_rows *r);

/* Loads object id.  CKR_OK with *out (caller frees), CKR_OBJECT_HANDLE_INVALID
 * when absent, CKR_DEVICE_ERROR. */
CK_RV ch_store_obj_load(ch_store *st, int64_t id, ch_rows **out);

/* The generation of object id (bumped on every write), or -1 when absent. */
int64_t ch_store_obj_gen(ch_store *st, int64_t id);

/* Deletes an object and its rows.  CKR_OK (also when absent) or CKR_DEVICE_ERROR. */
CK_RV ch_store_obj_delete(ch_store *st, int64_t id);

/* Deletes every object of reg. */
CK_RV ch_store_obj_delete_all(ch_store *st, int64_t reg);

/* One condition of a find: an attribute row of that type whose plain value
 * equals value, or whose blind index equals lookup. */
typedef struct ch_find_cond {
	CK_ATTRIBUTE_TYPE type;
	const uint8_t *value;
	size_t len;
	const uint8_t *lookup; /* NULL when the caller has no index key */
} ch_find_cond;

/* Calls fn with the ID of every object of reg that may match: private ones
 * only when with_private, and only those with a row satisfying each
 * condition.  The caller confirms each candidate after loading it. */
CK_RV ch_store_find(ch_store *st, int64_t reg, bool with_private, const ch_find_cond *c, size_t n,
                    int (*fn)(void *arg, int64_t id), void *arg);

/* ---- grants: which participant (or "role:NAME") may use an object for
 * which operations (CH_GRANT_* bits), each row MACed by the caller. ---- */

/* Creates or replaces a grant. */
CK_RV ch_store_grant_put(ch_store *st, int64_t obj, const char *grantee, CK_FLAGS ops,
                         const uint8_t mac[CH_MAC_LEN]);
/* Deletes a grant (CKR_OK also when absent). */
CK_RV ch_store_grant_delete(ch_store *st, int64_t obj, const char *grantee);
/* Calls fn for every grant of obj, by grantee; stops at a non-zero return. */
CK_RV ch_store_grant_each(ch_store *st, int64_t obj,
                          int (*fn)(void *arg, const char *grantee, CK_FLAGS ops,
                                    const uint8_t *mac, size_t mac_len),
                          void *arg);

/* Number of objects in reg. */
CK_RV ch_store_obj_count(ch_store *st, int64_t reg, CK_ULONG *out);

/* ---- HSM roots (soft_root.c): a registration's root secret, encrypted
 * in an HSM under the key of label key_label. ---- */

#define CH_ROOT_SECRET_LEN 32
#define CH_ROOT_BLOB_LEN   (12 + CH_ROOT_SECRET_LEN + 16) /* IV || ciphertext || tag */
#define CH_ROOT_LABEL_MAX  256

typedef struct ch_root_row {
	bool present; /* false: the registration has no HSM root */
	char key_label[CH_ROOT_LABEL_MAX + 1];
	uint8_t blob[CH_ROOT_BLOB_LEN];
} ch_root_row;

/* Reads the root of registration reg into *out (present false when it has
 * none).  CKR_OK or CKR_DEVICE_ERROR (also for a malformed row). */
CK_RV ch_store_root_get(ch_store *st, int64_t reg, ch_root_row *out);

/* Creates or replaces the root of registration reg (inside a transaction). */
CK_RV ch_store_root_put(ch_store *st, int64_t reg, const ch_root_row *r);

#endif
