/*
 * The audit log of a registration (see audit.h for the chain, the encoding
 * and what verification proves).
 *
 * Two parts.  The log itself moves rows of the table audit through
 * statements prepared on the store's connection: append finds the last
 * record of the registration and inserts the next one inside the caller's
 * transaction; read copies rows into CH_AUDIT_RECORDs; verify walks the
 * whole chain in one SELECT, so it sees one snapshot and needs memory for
 * one row only.
 *
 * The aggregator counts key use in memory.  It is on the signing path, so it
 * is split into shards, each a small chained hash table under its own
 * mutex: a note hashes its key outside any lock, then holds one shard's lock
 * for a lookup and an increment.  A flush detaches every shard's entries
 * (briefly holding each lock), writes them in one transaction, and on
 * failure merges them back so no count is lost.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "audit.h"
#include "keyuse.h"
#include "log.h"

static const char sql_last[] =
        "SELECT seq, hash FROM audit WHERE reg = ?1 ORDER BY seq DESC LIMIT 1";
static const char sql_insert[] =
        "INSERT INTO audit(reg, seq, time, pid, participant, operation, object, result, count,"
        " detail, hash, mac) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
static const char sql_rows[] =
        "SELECT seq, time, pid, participant, operation, object, result, count, detail, hash, mac"
        " FROM audit WHERE reg = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3";
static const char sql_count[] = "SELECT count(*) FROM audit WHERE reg = ?1 AND seq >= ?2";

/* Columns of sql_rows. */
enum {
	C_SEQ,
	C_TIME,
	C_PID,
	C_PARTICIPANT,
	C_OPERATION,
	C_OBJECT,
	C_RESULT,
	C_COUNT,
	C_DETAIL,
	C_HASH,
	C_MAC,
};

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256;

static void sha256_fetch(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

static void log_db(sqlite3 *db, const char *what)
{
	ch_log(CH_LOG_ERROR, "audit: %s: %s", what, sqlite3_errmsg(db));
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		log_db(db, "prepare");
		sqlite3_finalize(s);
		s = NULL;
	}
	return s;
}

/* int64 bound for an unsigned value (values past INT64_MAX saturate). */
static int64_t to_i64(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/*
 * Copies in (NULL: empty) to out (max + 1 bytes), cut to at most max bytes
 * without splitting a UTF-8 sequence, with ASCII control characters replaced
 * by '?'.  Returns the length.
 */
static size_t field_clean(const char *in, size_t max, char *out)
{
	size_t n = 0;

	if (in != NULL) {
		n = strnlen(in, max + 1);
		if (n > max) {
			n = max;
			/* Back off continuation bytes, then the lead byte they follow. */
			while (n > 0 && ((unsigned char)in[n] & 0xC0) == 0x80)
				n--;
		}
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)in[i];

			out[i] = c < 0x20 || c == 0x7F ? '?' : (char)c;
		}
	}
	out[n] = '\0';
	return n;
}

/* ---- the chain hash ---- */

static void put_be64(uint8_t *p, int64_t v)
{
	uint64_t u = (uint64_t)v;

	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)u;
		u >>= 8;
	}
}

static int hash_str(EVP_MD_CTX *ctx, const char *s, size_t len)
{
	uint8_t n[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
		         (uint8_t)len };

	return len <= UINT32_MAX && EVP_DigestUpdate(ctx, n, sizeof(n)) == 1 &&
	       (len == 0 || EVP_DigestUpdate(ctx, s, len) == 1);
}

/* The chain hash of row after prev (NULL: zeros), with a caller's context. */
static CK_RV row_hash(EVP_MD_CTX *ctx, const uint8_t *prev, const ch_audit_row *row,
                      uint8_t out[CH_AUDIT_HASH_LEN])
{
	static const uint8_t zero[CH_AUDIT_HASH_LEN];
	uint8_t head[8 + CH_AUDIT_HASH_LEN + 6 * 8 + 1], *p = head;
	unsigned int len = 0;
	CK_RV rv = CKR_FUNCTION_FAILED;

	pthread_once(&sha256_once, sha256_fetch);
	if (sha256 == NULL)
		goto out;
	memcpy(p, "CHaudit1", 8);
	p += 8;
	memcpy(p, prev != NULL ? prev : zero, CH_AUDIT_HASH_LEN);
	p += CH_AUDIT_HASH_LEN;
	put_be64(p, row->reg);
	put_be64(p + 8, row->seq);
	put_be64(p + 16, row->time);
	put_be64(p + 24, row->pid);
	put_be64(p + 32, row->result);
	put_be64(p + 40, row->count);
	p[48] = row->has_mac ? 1 : 0;
	if (EVP_DigestInit_ex2(ctx, sha256, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, head, sizeof(head)) != 1 ||
	    !hash_str(ctx, row->participant, row->participant_len) ||
	    !hash_str(ctx, row->operation, row->operation_len) ||
	    !hash_str(ctx, row->object, row->object_len) ||
	    !hash_str(ctx, row->detail, row->detail_len) ||
	    EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != CH_AUDIT_HASH_LEN)
		goto out;
	rv = CKR_OK;
out:
	return rv;
}

CK_RV ch_audit_hash(const uint8_t prev[CH_AUDIT_HASH_LEN], const ch_audit_row *row,
                    uint8_t out[CH_AUDIT_HASH_LEN])
{
	EVP_MD_CTX *ctx = NULL;
	CK_RV rv = CKR_ARGUMENTS_BAD;

	if (row == NULL || out == NULL)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	rv = row_hash(ctx, prev, row, out);
out:
	EVP_MD_CTX_free(ctx);
	return rv;
}

/* ---- append ---- */

/* The statements of an append, prepared once per call or per flush. */
typedef struct append_stmts {
	sqlite3 *db;
	sqlite3_stmt *last;
	sqlite3_stmt *insert;
	EVP_MD_CTX *md;
} append_stmts;

static void append_done(append_stmts *as)
{
	sqlite3_finalize(as->last);
	sqlite3_finalize(as->insert);
	EVP_MD_CTX_free(as->md);
	memset(as, 0, sizeof(*as));
}

static CK_RV append_prepare(ch_store *st, append_stmts *as)
{
	CK_RV rv = CKR_DEVICE_ERROR;

	memset(as, 0, sizeof(*as));
	as->db = ch_store_db(st);
	if ((as->last = prepare(as->db, sql_last)) == NULL ||
	    (as->insert = prepare(as->db, sql_insert)) == NULL)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((as->md = EVP_MD_CTX_new()) == NULL)
		goto out;
	rv = CKR_OK;
out:
	if (rv != CKR_OK)
		append_done(as);
	return rv;
}

/* Finds the last record of reg: *seq (0 when none) and its hash (zeros when
 * none; a stored hash of the wrong size is used cut or zero-padded, which
 * verify reports at that record anyway). */
static CK_RV last_record(append_stmts *as, int64_t reg, int64_t *seq,
                         uint8_t prev[CH_AUDIT_HASH_LEN])
{
	sqlite3_stmt *s = as->last;
	CK_RV rv = CKR_DEVICE_ERROR;
	int rc;

	sqlite3_reset(s);
	sqlite3_bind_int64(s, 1, reg);
	*seq = 0;
	memset(prev, 0, CH_AUDIT_HASH_LEN);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(s, 1);
		int n = sqlite3_column_bytes(s, 1);

		*seq = sqlite3_column_int64(s, 0);
		if (n != CH_AUDIT_HASH_LEN)
			ch_log(CH_LOG_ERROR,
			       "audit: registration %lld record %lld: stored hash "
			       "has %d bytes",
			       (long long)reg, (long long)*seq, n);
		if (h != NULL && n > 0)
			memcpy(prev, h, n < CH_AUDIT_HASH_LEN ? (size_t)n : CH_AUDIT_HASH_LEN);
	} else if (rc != SQLITE_DONE) {
		log_db(as->db, "read last record");
		goto out;
	}
	rv = CKR_OK;
out:
	sqlite3_reset(s);
	return rv;
}

static CK_RV append_one(append_stmts *as, int64_t reg, const ch_seal *seal,
                        const ch_audit_event *ev)
{
	char participant[CH_AUDIT_PARTICIPANT_MAX + 1], operation[CH_AUDIT_OPERATION_MAX + 1];
	char object[CH_AUDIT_OBJECT_MAX + 1], detail[CH_AUDIT_DETAIL_MAX + 1];
	uint8_t hash[CH_AUDIT_HASH_LEN], mac[CH_MAC_LEN];
	sqlite3_stmt *s = as->insert;
	ch_audit_row row;
	int64_t last;
	CK_RV rv;
	int rc;

	if ((rv = last_record(as, reg, &last, hash)) != CKR_OK)
		goto out;
	rv = CKR_DEVICE_ERROR;
	if (last == INT64_MAX)
		goto out;
	memset(&row, 0, sizeof(row));
	row.reg = reg;
	row.seq = last + 1;
	row.time = (int64_t)time(NULL);
	row.pid = (int64_t)getpid();
	row.result = (int64_t)ev->result;
	row.count = ev->count == 0 ? 1 : to_i64(ev->count);
	row.has_mac = seal != NULL;
	row.participant = participant;
	row.participant_len = field_clean(ev->participant, CH_AUDIT_PARTICIPANT_MAX, participant);
	row.operation = operation;
	row.operation_len = field_clean(ev->operation, CH_AUDIT_OPERATION_MAX, operation);
	row.object = object;
	row.object_len = field_clean(ev->object, CH_AUDIT_OBJECT_MAX, object);
	row.detail = detail;
	row.detail_len = field_clean(ev->detail, CH_AUDIT_DETAIL_MAX, detail);
	/* hash holds the previous record's hash; chain over it in place. */
	if ((rv = row_hash(as->md, hash, &row, hash)) != CKR_OK)
		goto out;
	if (seal != NULL && (rv = ch_seal_audit_mac(seal, hash, sizeof(hash), mac)) != CKR_OK)
		goto out;

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	sqlite3_bind_int64(s, 1, row.reg);
	sqlite3_bind_int64(s, 2, row.seq);
	sqlite3_bind_int64(s, 3, row.time);
	sqlite3_bind_int64(s, 4, row.pid);
	sqlite3_bind_text(s, 5, participant, (int)row.participant_len, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, operation, (int)row.operation_len, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, object, (int)row.object_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, row.result);
	sqlite3_bind_int64(s, 9, row.count);
	sqlite3_bind_text(s, 10, detail, (int)row.detail_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 11, hash, sizeof(hash), SQLITE_STATIC);
	if (seal != NULL)
		sqlite3_bind_blob(s, 12, mac, sizeof(mac), SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 12);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		if (sqlite3_extended_errcode(as->db) == SQLITE_CONSTRAINT_FOREIGNKEY) {
			ch_log(CH_LOG_WARNING, "audit: registration %lld does not exist",
			       (long long)reg);
			rv = CKR_SLOT_ID_INVALID;
		} else {
			log_db(as->db, "append");
			rv = CKR_DEVICE_ERROR;
		}
		goto out;
	}
	rv = CKR_OK;
out:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rv;
}

CK_RV ch_audit_append(ch_store *st, int64_t reg, const ch_seal *seal, const ch_audit_event *ev)
{
	append_stmts as = { 0 };
	CK_RV rv = CKR_ARGUMENTS_BAD;

	if (st == NULL || ev == NULL)
		goto out;
	rv = CKR_GENERAL_ERROR;
	if (sqlite3_get_autocommit(ch_store_db(st)) != 0) {
		ch_log(CH_LOG_ERROR, "audit: append outside a transaction (registration %lld)",
		       (long long)reg);
		goto out;
	}
	if ((rv = append_prepare(st, &as)) != CKR_OK)
		goto out;
	rv = append_one(&as, reg, seal, ev);
out:
	append_done(&as);
	return rv;
}

/* ---- read ---- */

/* Copies a text column into a blank-padded field of size n. */
static void pad_field(CK_UTF8CHAR *dst, size_t n, sqlite3_stmt *s, int col)
{
	const unsigned char *v = sqlite3_column_text(s, col);
	size_t len = (size_t)sqlite3_column_bytes(s, col);

	memset(dst, ' ', n);
	if (v != NULL)
		memcpy(dst, v, len < n ? len : n);
}

static CK_ULONG to_ulong(int64_t v)
{
	return v < 0 ? 0 : (CK_ULONG)v;
}

CK_RV ch_audit_read(ch_store *st, int64_t reg, uint64_t from_seq, CH_AUDIT_RECORD *out,
                    CK_ULONG *count)
{
	sqlite3_stmt *s = NULL;
	sqlite3 *db;
	CK_ULONG n = 0;
	CK_RV rv = CKR_ARGUMENTS_BAD;
	int rc = SQLITE_DONE, mac_ok;

	if (st == NULL || count == NULL)
		goto out;
	db = ch_store_db(st);
	rv = CKR_DEVICE_ERROR;
	if (out == NULL) {
		if ((s = prepare(db, sql_count)) == NULL)
			goto out;
		sqlite3_bind_int64(s, 1, reg);
		sqlite3_bind_int64(s, 2, to_i64(from_seq));
		if (sqlite3_step(s) != SQLITE_ROW) {
			log_db(db, "count records");
			goto out;
		}
		*count = to_ulong(sqlite3_column_int64(s, 0));
		rv = CKR_OK;
		goto out;
	}
	if ((s = prepare(db, sql_rows)) == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, reg);
	sqlite3_bind_int64(s, 2, to_i64(from_seq));
	sqlite3_bind_int64(s, 3, to_i64(*count));
	while (n < *count && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		CH_AUDIT_RECORD *r = &out[n++];

		memset(r, 0, sizeof(*r));
		r->seq = to_ulong(sqlite3_column_int64(s, C_SEQ));
		r->time = to_ulong(sqlite3_column_int64(s, C_TIME));
		r->pid = to_ulong(sqlite3_column_int64(s, C_PID));
		pad_field(r->participant, sizeof(r->participant), s, C_PARTICIPANT);
		pad_field(r->operation, sizeof(r->operation), s, C_OPERATION);
		pad_field(r->object, sizeof(r->object), s, C_OBJECT);
		r->result = (CK_RV)sqlite3_column_int64(s, C_RESULT);
		r->count = to_ulong(sqlite3_column_int64(s, C_COUNT));
		pad_field(r->detail, sizeof(r->detail), s, C_DETAIL);
		mac_ok = sqlite3_column_type(s, C_MAC) == SQLITE_BLOB &&
		         sqlite3_column_bytes(s, C_MAC) == CH_MAC_LEN;
		r->authenticated = mac_ok ? CK_TRUE : CK_FALSE;
	}
	if (n < *count && rc != SQLITE_DONE) {
		log_db(db, "read records");
		goto out;
	}
	*count = n;
	rv = CKR_OK;
out:
	sqlite3_finalize(s);
	return rv;
}

/* ---- verify ---- */

/* Fills row from the current result row of sql_rows (pointers valid until
 * the next step). */
static void row_from_stmt(sqlite3_stmt *s, int64_t reg, ch_audit_row *row)
{
	/* Text before bytes: the pointer and the length must describe the same
	 * (UTF-8) form of the value. */
	row->reg = reg;
	row->seq = sqlite3_column_int64(s, C_SEQ);
	row->time = sqlite3_column_int64(s, C_TIME);
	row->pid = sqlite3_column_int64(s, C_PID);
	row->result = sqlite3_column_int64(s, C_RESULT);
	row->count = sqlite3_column_int64(s, C_COUNT);
	row->has_mac = sqlite3_column_type(s, C_MAC) != SQLITE_NULL;
	row->participant = (const char *)sqlite3_column_text(s, C_PARTICIPANT);
	row->participant_len = (size_t)sqlite3_column_bytes(s, C_PARTICIPANT);
	row->operation = (const char *)sqlite3_column_text(s, C_OPERATION);
	row->operation_len = (size_t)sqlite3_column_bytes(s, C_OPERATION);
	row->object = (const char *)sqlite3_column_text(s, C_OBJECT);
	row->object_len = (size_t)sqlite3_column_bytes(s, C_OBJECT);
	row->detail = (const char *)sqlite3_column_text(s, C_DETAIL);
	row->detail_len = (size_t)sqlite3_column_bytes(s, C_DETAIL);
}

CK_RV ch_audit_verify(ch_store *st, int64_t reg, const ch_seal *seal, uint64_t *first_bad,
                      uint64_t *unauthenticated)
{
	uint8_t prev[CH_AUDIT_HASH_LEN] = { 0 }, hash[CH_AUDIT_HASH_LEN], mac[CH_MAC_LEN];
	sqlite3_stmt *s = NULL;
	EVP_MD_CTX *md = NULL;
	sqlite3 *db = NULL;
	ch_audit_row row;
	int64_t expect = 1, run_start = 0;
	uint64_t uncovered = 0, bad = 0;
	int in_run = 0, rc;
	CK_RV rv = CKR_ARGUMENTS_BAD;

	if (st == NULL || seal == NULL || first_bad == NULL || unauthenticated == NULL)
		goto out;
	db = ch_store_db(st);
	rv = CKR_HOST_MEMORY;
	if ((md = EVP_MD_CTX_new()) == NULL)
		goto out;
	rv = CKR_DEVICE_ERROR;
	if ((s = prepare(db, sql_rows)) == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, reg);
	sqlite3_bind_int64(s, 2, INT64_MIN);
	sqlite3_bind_int64(s, 3, -1); /* no limit */
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const void *stored = sqlite3_column_blob(s, C_HASH);
		int stored_len = sqlite3_column_bytes(s, C_HASH);
		int ok;

		row_from_stmt(s, reg, &row);
		if (!in_run) {
			/* The first record not yet covered by a verified MAC. */
			run_start = row.seq;
			in_run = 1;
		}
		if ((rv = row_hash(md, prev, &row, hash)) != CKR_OK)
			goto out;
		ok = row.seq == expect && stored_len == CH_AUDIT_HASH_LEN && stored != NULL &&
		     memcmp(stored, hash, CH_AUDIT_HASH_LEN) == 0;
		if (ok && row.has_mac) {
			const void *m = sqlite3_column_blob(s, C_MAC);

			if ((rv = ch_seal_audit_mac(seal, hash, sizeof(hash), mac)) != CKR_OK)
				goto out;
			ok = sqlite3_column_bytes(s, C_MAC) == CH_MAC_LEN && m != NULL &&
			     CRYPTO_memcmp(m, mac, CH_MAC_LEN) == 0;
			if (ok) {
				/* Everything up to here is proven. */
				in_run = 0;
				uncovered = 0;
			}
		} else if (ok) {
			uncovered++;
		}
		if (!ok) {
			bad = run_start < 1 ? 1 : (uint64_t)run_start;
			ch_log(CH_LOG_ERROR,
			       "audit: registration %lld: record %lld fails "
			       "verification; log not proven from record %llu on",
			       (long long)reg, (long long)row.seq, (unsigned long long)bad);
			break;
		}
		memcpy(prev, hash, sizeof(prev));
		if (row.seq == INT64_MAX)
			expect = INT64_MIN; /* nothing may follow; any next seq fails */
		else
			expect = row.seq + 1;
	}
	rv = CKR_DEVICE_ERROR;
	if (bad == 0 && rc != SQLITE_DONE) {
		log_db(db, "verify");
		goto out;
	}
	*first_bad = bad;
	*unauthenticated = bad == 0 ? uncovered : 0;
	rv = CKR_OK;
out:
	sqlite3_finalize(s);
	EVP_MD_CTX_free(md);
	return rv;
}

/* ---- raw rows ---- */

CK_RV ch_audit_rows_each(ch_store *st, int64_t reg,
                         int (*fn)(void *arg, const ch_audit_row *row, const uint8_t *hash,
                                   size_t hash_len, const uint8_t *mac, size_t mac_len),
                         void *arg)
{
	sqlite3 *db = ch_store_db(st);
	sqlite3_stmt *s;
	ch_audit_row row;
	CK_RV rv = CKR_DEVICE_ERROR;
	int rc;

	if ((s = prepare(db, sql_rows)) == NULL)
		return rv;
	sqlite3_bind_int64(s, 1, reg);
	sqlite3_bind_int64(s, 2, INT64_MIN);
	sqlite3_bind_int64(s, 3, -1); /* no limit */
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const uint8_t *mac = NULL;
		size_t mac_len = 0;

		row_from_stmt(s, reg, &row);
		if (row.has_mac) {
			mac = sqlite3_column_blob(s, C_MAC);
			mac_len = (size_t)sqlite3_column_bytes(s, C_MAC);
		}
		if (fn(arg, &row, sqlite3_column_blob(s, C_HASH),
		       (size_t)sqlite3_column_bytes(s, C_HASH), mac, mac_len) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		log_db(db, "read records");
	else
		rv = CKR_OK;
	sqlite3_finalize(s);
	return rv;
}

CK_RV ch_audit_insert_row(ch_store *st, const ch_audit_row *row,
                          const uint8_t hash[CH_AUDIT_HASH_LEN], const uint8_t *mac)
{
	sqlite3 *db = ch_store_db(st);
	sqlite3_stmt *s;
	CK_RV rv = CKR_DEVICE_ERROR;

	if ((s = prepare(db, sql_insert)) == NULL)
		return rv;
	sqlite3_bind_int64(s, 1, row->reg);
	sqlite3_bind_int64(s, 2, row->seq);
	sqlite3_bind_int64(s, 3, row->time);
	sqlite3_bind_int64(s, 4, row->pid);
	sqlite3_bind_text(s, 5, row->participant ? row->participant : "", (int)row->participant_len,
	                  SQLITE_STATIC);
	sqlite3_bind_text(s, 6, row->operation ? row->operation : "", (int)row->operation_len,
	                  SQLITE_STATIC);
	sqlite3_bind_text(s, 7, row->object ? row->object : "", (int)row->object_len,
	                  SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, row->result);
	sqlite3_bind_int64(s, 9, row->count);
	sqlite3_bind_text(s, 10, row->detail ? row->detail : "", (int)row->detail_len,
	                  SQLITE_STATIC);
	sqlite3_bind_blob(s, 11, hash, CH_AUDIT_HASH_LEN, SQLITE_STATIC);
	if (mac != NULL)
		sqlite3_bind_blob(s, 12, mac, CH_MAC_LEN, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 12);
	if (sqlite3_step(s) == SQLITE_DONE)
		rv = CKR_OK;
	else
		log_db(db, "insert record");
	sqlite3_finalize(s);
	return rv;
}

/* ---- key-use aggregation ---- */

#define AGG_SHARDS        16 /* a power of two */
#define AGG_FIRST_BUCKETS 16

typedef struct agg_entry {
	struct agg_entry *next;
	uint64_t hash;
	int64_t reg;
	uint64_t count;
	int64_t first; /* time of the first use since the last flush */
	char object[CH_AUDIT_OBJECT_MAX + 1];
	char participant[CH_AUDIT_PARTICIPANT_MAX + 1];
	char operation[CH_AUDIT_OPERATION_MAX + 1];
} agg_entry;

/* One shard, on its own cache lines so that threads noting different keys
 * do not bounce one line between cores. */
typedef struct agg_shard {
	pthread_mutex_t lock;
	agg_entry **bucket; /* nbuckets chains, or NULL before the first note */
	size_t nbuckets;    /* a power of two */
	size_t n;
} __attribute__((aligned(64))) agg_shard;

struct ch_audit_agg {
	agg_shard shard[AGG_SHARDS];
	pthread_mutex_t flush_lock;
	atomic_uint_fast64_t pending;   /* entries in all shards */
	atomic_int_fast64_t last_flush; /* CLOCK_MONOTONIC, in ms */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FNV-1a, 64 bits, over the key's parts (strings with their terminators, so
 * ("ab", "c") and ("a", "bc") differ). */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t entry_hash(const agg_entry *e)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = fnv(h, &e->reg, sizeof(e->reg));
	h = fnv(h, e->object, strlen(e->object) + 1);
	h = fnv(h, e->participant, strlen(e->participant) + 1);
	return fnv(h, e->operation, strlen(e->operation) + 1);
}

static int entry_same(const agg_entry *a, const agg_entry *b)
{
	return a->hash == b->hash && a->reg == b->reg && strcmp(a->object, b->object) == 0 &&
	       strcmp(a->participant, b->participant) == 0 &&
	       strcmp(a->operation, b->operation) == 0;
}

static agg_shard *shard_of(ch_audit_agg *a, uint64_t hash)
{
	return &a->shard[(hash >> 59) & (AGG_SHARDS - 1)];
}

/* Doubles sh's table (or creates it); on failure keeps the old one, whose
 * chains just get longer.  Shard lock held. */
static void shard_grow_locked(agg_shard *sh)
{
	size_t nb = sh->nbuckets ? sh->nbuckets * 2 : AGG_FIRST_BUCKETS;
	agg_entry **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		return;
	for (size_t i = 0; i < sh->nbuckets; i++) {
		agg_entry *e = sh->bucket[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(sh->bucket);
	sh->bucket = b;
	sh->nbuckets = nb;
}

/* The entry equal to key in sh, or NULL.  Shard lock held. */
static agg_entry *shard_find_locked(agg_shard *sh, const agg_entry *key)
{
	agg_entry *e;

	if (sh->nbuckets == 0)
		return NULL;
	for (e = sh->bucket[key->hash & (sh->nbuckets - 1)]; e != NULL; e = e->next)
		if (entry_same(e, key))
			return e;
	return NULL;
}

/* Links e (not in any table) into sh.  0 when sh has no table and none can
 * be made.  Shard lock held. */
static int shard_link_locked(agg_shard *sh, agg_entry *e)
{
	size_t b;

	if (sh->n >= sh->nbuckets)
		shard_grow_locked(sh);
	if (sh->nbuckets > 0) {
		b = e->hash & (sh->nbuckets - 1);
		e->next = sh->bucket[b];
		sh->bucket[b] = e;
		sh->n++;
	}
	return sh->nbuckets > 0;
}

ch_audit_agg *ch_audit_agg_new(void)
{
	ch_audit_agg *a = aligned_alloc(64, sizeof(ch_audit_agg));

	if (a == NULL)
		return NULL;
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < AGG_SHARDS; i++)
		pthread_mutex_init(&a->shard[i].lock, NULL);
	pthread_mutex_init(&a->flush_lock, NULL);
	atomic_init(&a->pending, 0);
	atomic_init(&a->last_flush, now_ms());
	return a;
}

static void entries_free(agg_entry *e)
{
	agg_entry *next;

	for (; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
}

void ch_audit_agg_free(ch_audit_agg *a)
{
	if (a == NULL)
		return;
	for (int i = 0; i < AGG_SHARDS; i++) {
		agg_shard *sh = &a->shard[i];

		for (size_t b = 0; b < sh->nbuckets; b++)
			entries_free(sh->bucket[b]);
		free(sh->bucket);
		pthread_mutex_destroy(&sh->lock);
	}
	pthread_mutex_destroy(&a->flush_lock);
	free(a);
}

void ch_audit_agg_note(ch_audit_agg *a, int64_t reg, const char *object, const char *participant,
                       const char *operation)
{
	agg_entry key, *e;
	agg_shard *sh;

	if (a == NULL)
		return;
	key.reg = reg;
	field_clean(object, CH_AUDIT_OBJECT_MAX, key.object);
	field_clean(participant, CH_AUDIT_PARTICIPANT_MAX, key.participant);
	field_clean(operation, CH_AUDIT_OPERATION_MAX, key.operation);
	key.hash = entry_hash(&key);
	sh = shard_of(a, key.hash);

	pthread_mutex_lock(&sh->lock);
	if ((e = shard_find_locked(sh, &key)) != NULL) {
		e->count++;
		goto out;
	}
	if ((e = malloc(sizeof(*e))) == NULL)
		goto lost;
	*e = key;
	e->count = 1;
	e->first = (int64_t)time(NULL);
	if (!shard_link_locked(sh, e)) {
		free(e);
		goto lost;
	}
	atomic_fetch_add_explicit(&a->pending, 1, memory_order_relaxed);
	goto out;
lost:
	ch_log(CH_LOG_ERROR, "audit: out of memory, one use of object '%s' not counted",
	       key.object);
out:
	pthread_mutex_unlock(&sh->lock);
}

bool ch_audit_agg_due(ch_audit_agg *a)
{
	if (a == NULL || atomic_load_explicit(&a->pending, memory_order_relaxed) == 0)
		return false;
	return now_ms() - atomic_load_explicit(&a->last_flush, memory_order_relaxed) >=
	       CH_AUDIT_FLUSH_INTERVAL_MS;
}

bool ch_audit_agg_claim(ch_audit_agg *a)
{
	int_fast64_t now = now_ms(), last;

	if (a == NULL || atomic_load_explicit(&a->pending, memory_order_relaxed) == 0)
		return false;
	last = atomic_load_explicit(&a->last_flush, memory_order_relaxed);
	return now - last >= CH_AUDIT_FLUSH_INTERVAL_MS &&
	       atomic_compare_exchange_strong(&a->last_flush, &last, now);
}

/* Detaches every entry of every shard into one list; returns its length. */
static size_t agg_take(ch_audit_agg *a, agg_entry **list)
{
	size_t n = 0;

	*list = NULL;
	for (int i = 0; i < AGG_SHARDS; i++) {
		agg_shard *sh = &a->shard[i];

		pthread_mutex_lock(&sh->lock);
		for (size_t b = 0; b < sh->nbuckets; b++) {
			agg_entry *e = sh->bucket[b], *next;

			for (; e != NULL; e = next) {
				next = e->next;
				e->next = *list;
				*list = e;
				n++;
			}
			sh->bucket[b] = NULL;
		}
		sh->n = 0;
		pthread_mutex_unlock(&sh->lock);
	}
	atomic_fetch_sub_explicit(&a->pending, n, memory_order_relaxed);
	return n;
}

/* Puts taken entries back, adding to entries noted meanwhile. */
static void agg_merge_back(ch_audit_agg *a, agg_entry *list)
{
	agg_entry *e, *next, *have;

	for (e = list; e != NULL; e = next) {
		agg_shard *sh = shard_of(a, e->hash);

		next = e->next;
		e->next = NULL;
		if (e->count == 0) { /* its registration is gone */
			free(e);
			continue;
		}
		pthread_mutex_lock(&sh->lock);
		if ((have = shard_find_locked(sh, e)) != NULL) {
			have->count += e->count;
			if (e->first < have->first)
				have->first = e->first;
			free(e);
		} else if (shard_link_locked(sh, e)) {
			atomic_fetch_add_explicit(&a->pending, 1, memory_order_relaxed);
		} else {
			ch_log(CH_LOG_ERROR,
			       "audit: out of memory, %llu uses of object '%s' "
			       "not counted",
			       (unsigned long long)e->count, e->object);
			free(e);
		}
		pthread_mutex_unlock(&sh->lock);
	}
}

static int entry_order(const void *pa, const void *pb)
{
	const agg_entry *a = *(const agg_entry *const *)pa, *b = *(const agg_entry *const *)pb;
	int c;

	if (a->reg != b->reg)
		return a->reg < b->reg ? -1 : 1;
	if ((c = strcmp(a->object, b->object)) != 0)
		return c;
	if ((c = strcmp(a->participant, b->participant)) != 0)
		return c;
	return strcmp(a->operation, b->operation);
}

/* Writes sorted entries v[0..n-1] in the open transaction; an entry whose
 * registration is gone is dropped (its count set to 0). */
static CK_RV agg_write(ch_store *st, agg_entry **v, size_t n,
                       const ch_seal *(*seal_of)(void *arg, int64_t reg), void *arg)
{
	append_stmts as = { 0 };
	char detail[CH_AUDIT_DETAIL_MAX + 1];
	CK_RV rv;

	if ((rv = append_prepare(st, &as)) != CKR_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		ch_audit_event ev = {
			.participant = v[i]->participant,
			.operation = v[i]->operation,
			.object = v[i]->object,
			.result = CKR_OK,
			.count = v[i]->count,
			.detail = detail,
		};
		const ch_seal *seal = seal_of != NULL ? seal_of(arg, v[i]->reg) : NULL;

		snprintf(detail, sizeof(detail), "first_use=%lld", (long long)v[i]->first);
		rv = append_one(&as, v[i]->reg, seal, &ev);
		if (rv == CKR_SLOT_ID_INVALID) {
			ch_log(CH_LOG_WARNING,
			       "audit: dropping %llu uses of '%s' in deleted "
			       "registration %lld",
			       (unsigned long long)v[i]->count, v[i]->object, (long long)v[i]->reg);
			v[i]->count = 0;
			continue;
		}
		if (rv != CKR_OK)
			goto out;
		/* The key's running count of encryptions, in the same
		 * transaction as the record it sums (keyuse.h). */
		if (strcmp(v[i]->operation, CH_KEYUSE_OP_ENCRYPT) == 0 && v[i]->object[0] != '\0' &&
		    (rv = ch_keyuse_add(st, v[i]->reg, v[i]->object, v[i]->count, NULL)) != CKR_OK)
			goto out;
	}
	rv = CKR_OK;
out:
	append_done(&as);
	return rv;
}

CK_RV ch_audit_agg_flush(ch_audit_agg *a, ch_store *st,
                         const ch_seal *(*seal_of)(void *arg, int64_t reg), void *arg)
{
	agg_entry *list = NULL, **v = NULL, *e;
	size_t n = 0, i = 0;
	int begun = 0, locked = 0;
	CK_RV rv = CKR_ARGUMENTS_BAD;

	if (a == NULL || st == NULL)
		goto out;
	pthread_mutex_lock(&a->flush_lock);
	locked = 1;
	rv = CKR_OK;
	if ((n = agg_take(a, &list)) == 0)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((v = malloc(n * sizeof(*v))) == NULL)
		goto out;
	for (e = list; e != NULL; e = e->next)
		v[i++] = e;
	qsort(v, n, sizeof(*v), entry_order);
	if ((rv = ch_store_begin(st)) != CKR_OK)
		goto out;
	begun = 1;
	if ((rv = agg_write(st, v, n, seal_of, arg)) != CKR_OK)
		goto out;
	begun = 0;
	if ((rv = ch_store_commit(st)) != CKR_OK) /* rolled back on failure */
		goto out;
	entries_free(list);
	list = NULL; /* written */
	rv = CKR_OK;
out:
	if (begun)
		ch_store_rollback(st);
	if (list != NULL) {
		/* Not written: every count is pending again, to be retried. */
		agg_merge_back(a, list);
	}
	free(v);
	if (locked) {
		if (rv == CKR_OK)
			atomic_store_explicit(&a->last_flush, now_ms(), memory_order_relaxed);
		pthread_mutex_unlock(&a->flush_lock);
	}
	return rv;
}
