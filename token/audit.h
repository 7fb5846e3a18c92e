/*
 * The audit log of a registration: append-only, hash-chained, authenticated.
 *
 * Every security event of a registration (token init, logins and failed
 * logins, lockouts, participant and grant changes, key creation, changes,
 * destruction, wraps, and aggregated key use) becomes one row of the store's
 * table audit(reg, seq, time, pid, participant, operation, object, result,
 * count, detail, hash, mac).  Nothing secret is ever written: callers pass
 * names, object unique IDs and return codes only.
 *
 * The chain.  Records of one registration are numbered seq = 1, 2, ... with
 * no gap.  Each record's hash is
 *
 *	hash = SHA-256(prev || enc(record))
 *
 * where prev is the previous record's hash (32 zero bytes for seq 1) and
 * enc() is the canonical encoding below, which covers every field.  When
 * someone is logged in (a ch_seal exists), the record also carries
 *
 *	mac = HMAC-SHA256(audit key, hash)          (ch_seal_audit_mac)
 *
 * under a key derived from the registration key, so only someone who can log
 * in can produce or check it.  A record written while nobody is logged in (a
 * failed login) has no MAC; it is chained at once, and the next record that
 * has one covers it, because that MAC covers a hash chained through it.
 *
 * Canonical encoding (version 1), all integers big-endian:
 *
 *	"CHaudit1"                          8 bytes, domain and version
 *	reg, seq, time, pid, result, count  6 x 8 bytes, signed 64-bit as stored
 *	has_mac                             1 byte, 1 when the record carries a
 *	                                    MAC, else 0
 *	participant, operation, object, detail
 *	                                    each: 4-byte length, then the bytes
 *	                                    exactly as stored (no terminator)
 *
 * What verification proves (ch_audit_verify).  Walking from seq 1, a record
 * is proven intact once a later (or its own) MAC checks out over a chain
 * that recomputes without a break.  The first record that is not, when a
 * break is found, is reported as first_bad: every record before it is
 * authenticated and unchanged.  So deleting, reordering, inserting or editing
 * any record (with or without a MAC, hash recomputed or not) before the last
 * authenticated record is detected, and stripping a MAC changes the record's
 * hash (has_mac is hashed), so it is detected too, unless every later MAC
 * is stripped as well (see the tail, below).  Because a break is only
 * located to within the run of MAC-less records that precede it, first_bad
 * is the first record of that run (for a record right after an
 * authenticated one, the record itself).
 *
 * What it cannot prove: the residual window.
 *  - Trailing records that no MAC covers yet (failed logins since the last
 *    authenticated event) are only chained: they can be edited, deleted or
 *    forged by anyone who can write the file.  verify reports how many there
 *    are (*unauthenticated); the next authenticated record closes the window.
 *  - Truncation of the tail: deleting the last k records (authenticated or
 *    not) leaves a shorter chain that verifies, as does putting back an older
 *    copy of the whole store (rollback).  Nothing inside the file can tell;
 *    only an anchor kept outside can: a (seq, hash) seen earlier must still
 *    be present with the same hash.  Likewise, stripping the MACs of the
 *    last authenticated records and recomputing their hashes turns them
 *    into trailing unauthenticated records (and then open to editing): the
 *    same reach as truncation, visible only as a larger *unauthenticated.
 *    Deleting the registration deletes its log with it.
 *  - The fields of a record are what its writer claimed (its clock, its
 *    pid); the chain proves they were not changed afterwards, not that they
 *    were true.
 *
 * Locking: like every store layer, these functions expect the caller to hold
 * the store lock.  Statements are prepared per call on ch_store_db(st) (the
 * store owns no hook to finalize cached ones at close); a flush prepares
 * once for all its records.
 *
 * Key-use aggregation (ch_audit_agg): signing must not pay a database write
 * per call, so key use is counted in memory per (registration, key,
 * participant, operation) and written as one record per key with the count
 * at least every CH_AUDIT_FLUSH_INTERVAL_MS, at logout and at C_Finalize.
 */
#ifndef CH_TOKEN_AUDIT_H
#define CH_TOKEN_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cipherhub/pkcs11.h"
#include "cipherhub/vendor.h"
#include "seal.h"
#include "store.h"

#define CH_AUDIT_HASH_LEN 32

/* Longest stored field, in bytes: the sizes of CH_AUDIT_RECORD's fields. */
#define CH_AUDIT_PARTICIPANT_MAX CH_NAME_MAX
#define CH_AUDIT_OPERATION_MAX   32
#define CH_AUDIT_OBJECT_MAX      32
#define CH_AUDIT_DETAIL_MAX      64

/* Aggregated key use is written at least this often (see ch_audit_agg_due). */
#define CH_AUDIT_FLUSH_INTERVAL_MS 1000

/* One event to record.  NULL strings are empty.  Strings are cut to the
 * field sizes above (never inside a UTF-8 sequence) and ASCII control
 * characters become '?', so a record is always one printable line.  Never
 * put a secret in any of them. */
typedef struct ch_audit_event {
	const char *participant; /* who acted; NULL or "" when nobody is logged in */
	const char *operation;   /* what, e.g. "login", "key.create", "key.sign" */
	const char *object;      /* the object's CKA_UNIQUE_ID, or NULL */
	CK_RV result;            /* what the call returned */
	uint64_t count;          /* aggregated uses; 1 for other events (0 is stored as 1) */
	const char *detail;      /* free text, e.g. "wrapped under 42" */
} ch_audit_event;

/*
 * Appends one record for ev to reg's log: the next seq, time(NULL),
 * getpid(), the chain hash, and a MAC when seal is not NULL (seal must be
 * reg's).  Must run inside the caller's transaction (ch_store_begin/commit),
 * so that finding the last record and inserting the next are atomic across
 * processes.  Returns CKR_OK; CKR_ARGUMENTS_BAD (st or ev NULL);
 * CKR_GENERAL_ERROR when called outside a transaction (a bug, logged);
 * CKR_SLOT_ID_INVALID when reg is not a registration (the failed insert is
 * undone, the transaction stays usable); CKR_DEVICE_ERROR (SQLite, logged);
 * CKR_FUNCTION_FAILED (OpenSSL).  Nothing is owned by the callee.
 */
CK_RV ch_audit_append(ch_store *st, int64_t reg, const ch_seal *seal, const ch_audit_event *ev);

/*
 * Reads reg's records with seq >= from_seq (0 reads from the start), oldest
 * first, into out[0 .. *count - 1]; sets *count to the number written, fewer
 * than asked only at the end of the log.  out NULL: sets *count to the
 * number of records from from_seq on.  Strings are blank padded;
 * authenticated says the record carries a MAC of the right size, not that
 * the MAC checks out (ch_audit_verify does that).  Returns CKR_OK,
 * CKR_ARGUMENTS_BAD (st or count NULL) or CKR_DEVICE_ERROR.  An unknown reg
 * has no records.  The caller owns out.
 */
CK_RV ch_audit_read(ch_store *st, int64_t reg, uint64_t from_seq, CH_AUDIT_RECORD *out,
                    CK_ULONG *count);

/*
 * Verifies reg's whole log with seal (reg's; required).  CKR_OK with
 * *first_bad = 0 and *unauthenticated = the number of trailing records no
 * MAC covers yet when the log is intact; CKR_OK with *first_bad = the seq of
 * the first record not proven intact (see above; at least 1) and
 * *unauthenticated = 0 when it is not.  An empty log is intact.  Returns
 * CKR_ARGUMENTS_BAD (a NULL argument), CKR_DEVICE_ERROR (SQLite),
 * CKR_FUNCTION_FAILED or CKR_HOST_MEMORY (OpenSSL) otherwise; the outputs
 * are then unspecified.  Reads one consistent snapshot; a record appended
 * meanwhile by another process is either wholly in it or not at all.
 */
CK_RV ch_audit_verify(ch_store *st, int64_t reg, const ch_seal *seal, uint64_t *first_bad,
                      uint64_t *unauthenticated);

/* A stored record as the chain hash sees it; strings need not be
 * NUL-terminated.  For verifiers and tests that recompute a chain. */
typedef struct ch_audit_row {
	int64_t reg, seq, time, pid, result, count;
	int has_mac;
	const char *participant, *operation, *object, *detail;
	size_t participant_len, operation_len, object_len, detail_len;
} ch_audit_row;

/* Computes out = SHA-256(prev || enc(row)) (the encoding above).  prev NULL
 * means 32 zero bytes.  CKR_OK or CKR_FUNCTION_FAILED / CKR_HOST_MEMORY. */
CK_RV ch_audit_hash(const uint8_t prev[CH_AUDIT_HASH_LEN], const ch_audit_row *row,
                    uint8_t out[CH_AUDIT_HASH_LEN]);

/* ---- raw rows, for backup and restore (soft_backup.c) ---- */

/* Calls fn for every record of reg as stored, oldest first: the row (strings
 * valid during the call), its stored hash and its MAC (NULL and 0 when it
 * has none).  Stops at a non-zero return.  CKR_OK, CKR_DEVICE_ERROR. */
CK_RV ch_audit_rows_each(ch_store *st, int64_t reg,
                         int (*fn)(void *arg, const ch_audit_row *row, const uint8_t *hash,
                                   size_t hash_len, const uint8_t *mac, size_t mac_len),
                         void *arg);

/* Inserts one record exactly as given (row->reg, row->seq, hash, and mac,
 * which must be NULL exactly when !row->has_mac), inside the caller's
 * transaction; no field is cleaned or recomputed.  CKR_OK, CKR_DEVICE_ERROR
 * (including: that seq exists). */
CK_RV ch_audit_insert_row(ch_store *st, const ch_audit_row *row,
                          const uint8_t hash[CH_AUDIT_HASH_LEN], const uint8_t *mac);

/* ---- key-use aggregation ---- */

typedef struct ch_audit_agg ch_audit_agg;

/* A new, empty accumulator (its flush clock starts now), or NULL when out of
 * memory.  Owned by the caller; free with ch_audit_agg_free. */
ch_audit_agg *ch_audit_agg_new(void);

/* Frees a, dropping any count not yet flushed (flush first).  Accepts NULL.
 * No other thread may use a meanwhile. */
void ch_audit_agg_free(ch_audit_agg *a);

/*
 * Counts one use of object by participant for operation (e.g. "key.sign")
 * in reg.  Strings are cut and cleaned as in ch_audit_event, so keys that
 * differ only beyond the field sizes share a count.  Thread-safe and cheap:
 * a hash and an uncontended lock on one of several shards; a malloc only
 * for a key not seen since the last flush.  a NULL is a no-op; when out of
 * memory the use is dropped and an error logged.
 */
void ch_audit_agg_note(ch_audit_agg *a, int64_t reg, const char *object, const char *participant,
                       const char *operation);

/* True when something is pending and at least CH_AUDIT_FLUSH_INTERVAL_MS
 * have passed since the last flush (or since ch_audit_agg_new).  Lock-free;
 * thread-safe.  a NULL: false. */
bool ch_audit_agg_due(ch_audit_agg *a);

/* ch_audit_agg_due for the one caller that is to write the counts: true
 * for exactly one caller per interval (it moves the interval's start, so a
 * flush that fails is tried again an interval later, not on every call).
 * Lock-free; thread-safe.  a NULL: false. */
bool ch_audit_agg_claim(ch_audit_agg *a);

/*
 * Writes every pending count as one record per (reg, object, participant,
 * operation): result CKR_OK, count n, detail "first_use=<unix time>",
 * MAC'd with seal_of(arg, reg) when that returns non-NULL (seal_of may be
 * NULL: no MACs).  All in ONE transaction that this function opens and
 * commits; the caller holds the store lock and must not be in a transaction.
 * Records are written in (reg, object, participant, operation) order.
 * Counts for a registration that no longer exists are dropped (logged).
 * key.encrypt counts are also added to their keys' rows of key_use
 * (keyuse.h) in the same transaction.  Returns CKR_OK (also when nothing was pending) or the first
 * error, in which case nothing was written and every count is pending again. Thread-safe against
 * note(); concurrent flushes are serialised.
 */
CK_RV ch_audit_agg_flush(ch_audit_agg *a, ch_store *st,
                         const ch_seal *(*seal_of)(void *arg, int64_t reg), void *arg);

#endif
