/*
 * Shared helper of the tests that read a store's rows: to compare them
 * before and after a call (a refused call must leave every object,
 * attribute and grant as it was) or to look at a sealed value.  The rows are read straight from the
 * SQLite file (read-only), so the comparison does not depend on the module under test.
 *
 * Apart from module.h because only these tests need sqlite3; the functions
 * are static inline so a test that uses some of them gets no warning for
 * the others.
 */
#ifndef CH_TESTS_STORE_ROWS_H
#define CH_TESTS_STORE_ROWS_H

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "module.h"

/* Writes the rows query q returns from db to f, each column followed by
 * '|', each row by a newline; a query that does not prepare writes
 * nothing. */
static inline void ch_t_rows_write(sqlite3 *db, const char *q, FILE *f)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int c = 0; c < sqlite3_column_count(st); c++) {
			const unsigned char *t = sqlite3_column_text(st, c);

			fprintf(f, "%s|", t != NULL ? (const char *)t : "NULL");
		}
		fputc('\n', f);
	}
	sqlite3_finalize(st);
}

/* The rows the n queries q return from the store at path, in order, as one
 * string (caller frees); NULL when no memory. */
static inline char *ch_t_rows_of(const char *path, const char *const *q, size_t n)
{
	sqlite3 *db = NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (f == NULL)
		return NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
		for (size_t i = 0; i < n; i++)
			ch_t_rows_write(db, q[i], f);
	sqlite3_close(db);
	fclose(f);
	return out;
}

/* Every row of the store at path but the audit log's (objects, attributes,
 * grants), as one string (caller frees): what a refused call must leave
 * alone. */
static inline char *ch_t_store_rows(const char *path)
{
	static const char *const q[] = {
		"SELECT id, reg, private, gen, hex(mac) FROM objects ORDER BY id",
		"SELECT obj, type, sealed, hex(value), hex(lookup) FROM attributes ORDER BY obj, "
		"type",
		"SELECT obj, grantee, ops, hex(mac) FROM grants ORDER BY obj, grantee",
	};

	return ch_t_rows_of(path, q, CH_T_ARRAY_LEN(q));
}

/* The sealed CKA_VALUE row of object o, straight from the store file at
 * path, into out (at most max bytes).  Returns its length; 0 when there is
 * none or it is longer than max. */
static inline size_t ch_t_sealed_value(const char *path, CK_OBJECT_HANDLE o, unsigned char *out,
                                       size_t max)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT value FROM attributes WHERE obj = ? AND type = ?", -1,
	                       &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)o);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)CKA_VALUE);
		if (sqlite3_step(st) == SQLITE_ROW) {
			n = (size_t)sqlite3_column_bytes(st, 0);
			if (n > max)
				n = 0;
			else if (n != 0)
				memcpy(out, sqlite3_column_blob(st, 0), n);
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

#endif
