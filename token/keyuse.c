/*
 * Encryption counts per key: the rows of the store table key_use (see
 * keyuse.h for what they sum and who writes them).  Written once per flush
 * interval per key and once per wrap; read when a key enters the key cache
 * (only for a key with a bound) and by C_GetAttributeValue(CKA_CH_ENCRYPTIONS).
 */
#include <sqlite3.h>

#include "keyuse.h"
#include "log.h"

static CK_RV db_fail(ch_store *st, const char *what)
{
	ch_log(CH_LOG_ERROR, "store: key-use counts: %s: %s", what,
	       sqlite3_errmsg(ch_store_db(st)));
	return CKR_DEVICE_ERROR;
}

CK_RV ch_keyuse_add(ch_store *st, int64_t reg, const char *object, uint64_t n, uint64_t *total)
{
	static const char sql[] =
	        "INSERT INTO key_use(reg, object, encryptions) VALUES(?1, ?2, ?3) "
	        "ON CONFLICT(reg, object) DO UPDATE SET encryptions = encryptions + "
	        "excluded.encryptions "
	        "RETURNING encryptions";
	sqlite3_stmt *s = NULL;
	CK_RV rv = CKR_DEVICE_ERROR;

	if (sqlite3_prepare_v2(ch_store_db(st), sql, -1, &s, NULL) != SQLITE_OK) {
		rv = db_fail(st, "prepare");
		goto out;
	}
	sqlite3_bind_int64(s, 1, reg);
	sqlite3_bind_text(s, 2, object, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)n);
	if (sqlite3_step(s) != SQLITE_ROW) {
		rv = db_fail(st, "add");
		goto out;
	}
	if (total != NULL)
		*total = (uint64_t)sqlite3_column_int64(s, 0);
	rv = sqlite3_step(s) == SQLITE_DONE ? CKR_OK : db_fail(st, "add");
out:
	sqlite3_finalize(s);
	return rv;
}

CK_RV ch_keyuse_get(ch_store *st, int64_t reg, const char *object, uint64_t *n)
{
	static const char sql[] = "SELECT encryptions FROM key_use WHERE reg = ?1 AND object = ?2";
	sqlite3_stmt *s = NULL;
	CK_RV rv = CKR_DEVICE_ERROR;
	int rc;

	*n = 0;
	if (sqlite3_prepare_v2(ch_store_db(st), sql, -1, &s, NULL) != SQLITE_OK) {
		rv = db_fail(st, "prepare");
		goto out;
	}
	sqlite3_bind_int64(s, 1, reg);
	sqlite3_bind_text(s, 2, object, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*n = (uint64_t)sqlite3_column_int64(s, 0);
	rv = rc == SQLITE_ROW || rc == SQLITE_DONE ? CKR_OK : db_fail(st, "read");
out:
	sqlite3_finalize(s);
	return rv;
}

/* Runs one statement binding reg as ?1; 1 on success. */
static int run_reg(ch_store *st, const char *sql, int64_t reg)
{
	sqlite3_stmt *s = NULL;
	int ok;

	if (sqlite3_prepare_v2(ch_store_db(st), sql, -1, &s, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(s, 1, reg);
	ok = sqlite3_step(s) == SQLITE_DONE;
	sqlite3_finalize(s);
	return ok;
}

CK_RV ch_keyuse_rebuild(ch_store *st, int64_t reg)
{
	if (!run_reg(st, "DELETE FROM key_use WHERE reg = ?1", reg) ||
	    !run_reg(st, CH_KEYUSE_FROM_AUDIT_SQL("AND reg = ?1"), reg))
		return db_fail(st, "rebuild");
	return CKR_OK;
}
