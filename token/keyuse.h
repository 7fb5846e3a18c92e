/*
 * Encryption counts per key (issue 8, CKA_CH_ENCRYPTIONS): the store table
 * key_use(reg, object, encryptions), one row per key that has encrypted or
 * wrapped, keyed by the key's CKA_UNIQUE_ID.
 *
 * The audit log is the record of every use; this table is its running sum,
 * kept so that reading a key's count costs one indexed row, not a scan of the
 * log.  It is written in the same transaction as what it sums: the key-use
 * aggregator's flush adds each key.encrypt count (audit.c), and a wrap adds
 * one to the wrapping key with its key.wrap record (soft_audit.c).  Because it
 * is only a sum, it can always be made again from the log
 * (ch_keyuse_rebuild): the schema 4 migration fills it so from the log a store
 * already has, and a restore does so from the restored log, so a backup
 * carries no counts of its own and a restored key counts on from what its
 * log says.  Decryptions and other uses are not counted.
 *
 * The rows are not sealed or MACed: someone who can write the store file
 * could lower a count and delay a rotation by count, no more (the log, which
 * is authenticated, keeps the true uses).
 *
 * Locking as for every store layer: the caller holds the store lock.
 * Statements are prepared per call on ch_store_db(st).
 */
#ifndef CH_TOKEN_KEYUSE_H
#define CH_TOKEN_KEYUSE_H

#include <stdint.h>

#include "cipherhub/pkcs11.h"
#include "store.h"

/* The audit operations a count sums: aggregated key.encrypt records (their
 * count) and key.wrap records, one each, whose detail names the wrapping key
 * ("wrapping key <unique id>", soft_keys.c).  cond is more SQL for both
 * WHERE clauses (e.g. "AND reg = ?1").  Used by the schema migration
 * (store.c) and ch_keyuse_rebuild. */
#define CH_KEYUSE_FROM_AUDIT_SQL(cond)                                                             \
	"INSERT INTO key_use(reg, object, encryptions) "                                           \
	"SELECT reg, obj, sum(n) FROM ("                                                           \
	"SELECT reg, object AS obj, count AS n FROM audit "                                        \
	"WHERE operation = 'key.encrypt' AND result = 0 AND object <> '' " cond " "                \
	"UNION ALL SELECT reg, substr(detail, 14) AS obj, 1 AS n FROM audit "                      \
	"WHERE operation = 'key.wrap' AND result = 0 AND detail LIKE 'wrapping key _%' " cond      \
	") GROUP BY reg, obj;"

/* The audit operation whose aggregated counts are encryptions. */
#define CH_KEYUSE_OP_ENCRYPT "key.encrypt"

/* Adds n encryptions to object (a CKA_UNIQUE_ID) of reg, inside the caller's
 * transaction; *total (may be NULL) gets the count after.  CKR_OK or
 * CKR_DEVICE_ERROR (logged). */
CK_RV ch_keyuse_add(ch_store *st, int64_t reg, const char *object, uint64_t n, uint64_t *total);

/* The encryptions recorded for object of reg (0 when none).  CKR_OK or
 * CKR_DEVICE_ERROR (logged). */
CK_RV ch_keyuse_get(ch_store *st, int64_t reg, const char *object, uint64_t *n);

/* Makes reg's counts again from its audit log, inside the caller's
 * transaction.  CKR_OK or CKR_DEVICE_ERROR (logged). */
CK_RV ch_keyuse_rebuild(ch_store *st, int64_t reg);

#endif
