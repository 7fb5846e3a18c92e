/*
 * The audit log (token/audit.c): records go in and come back as written,
 * the chain hash has the documented encoding, verify passes on an intact
 * log and names the first record it cannot prove after each kind of
 * tampering done directly in SQLite (edit, delete, reorder, insert, forge,
 * strip a MAC, rewrite a chain without the key), and the key-use
 * aggregator counts exactly, also with threads noting and flushing at once.
 *
 * Every tampering test works on a registration of its own, built with the
 * same pattern of authenticated (M) and unauthenticated (-) records:
 *
 *	seq   1  2  3  4  5  6  7  8  9
 *	      M  -  M  M  -  -  M  M  -
 *
 * so record 9 is the one trailing unauthenticated record, 5..6 a run of
 * records covered by 7, and 2 a lone record covered by 3.
 *
 * verify reports the first record it cannot prove: after a break, that is
 * the first record of the MAC-less run (if any) before it, because without
 * the key a break cannot be pinned down more closely than that.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "audit.h"
#include "check.h"
#include "store.h"

static char dir[] = "/tmp/ch-test-audit-XXXXXX";
static ch_store *st;

#define PATTERN_LEN 9
static const int pattern_mac[PATTERN_LEN + 1] = { 0, 1, 0, 1, 1, 0, 0, 1, 1, 0 }; /* by seq */

/* ---- helpers ---- */

static void uuid_of(int64_t reg, uint8_t uuid[CH_UUID_LEN])
{
	memset(uuid, 0xA5, CH_UUID_LEN);
	uuid[0] = (uint8_t)reg;
}

/* The seal of registration reg (a registration key made from its number). */
static ch_seal *seal_for(int64_t reg)
{
	uint8_t key[CH_REGKEY_LEN], uuid[CH_UUID_LEN];

	memset(key, 0x42, sizeof(key));
	key[0] = (uint8_t)reg;
	uuid_of(reg, uuid);
	return ch_seal_new(key, uuid);
}

static int reg_add(int64_t id)
{
	ch_reg_row r;

	memset(&r, 0, sizeof(r));
	r.id = id;
	uuid_of(id, r.uuid);
	snprintf(r.label, sizeof(r.label), "reg%lld", (long long)id);
	return CHECK_RV(ch_store_reg_insert(st, &r), CKR_OK);
}

/* Appends one event in its own transaction. */
static CK_RV append(int64_t reg, const ch_seal *seal, const char *participant, const char *op,
                    const char *object, CK_RV result, const char *detail)
{
	ch_audit_event ev = { participant, op, object, result, 1, detail };
	CK_RV rv;

	if ((rv = ch_store_begin(st)) != CKR_OK)
		return rv;
	if ((rv = ch_audit_append(st, reg, seal, &ev)) != CKR_OK) {
		ch_store_rollback(st);
		return rv;
	}
	return ch_store_commit(st);
}

/* Creates registration reg with the pattern log above; returns its seal. */
static ch_seal *build_log(int64_t reg)
{
	ch_seal *seal = seal_for(reg);
	char detail[32];

	if (!reg_add(reg) || !CHECK(seal != NULL))
		return seal;
	for (int seq = 1; seq <= PATTERN_LEN; seq++) {
		snprintf(detail, sizeof(detail), "event %d", seq);
		CHECK_RV(append(reg, pattern_mac[seq] ? seal : NULL,
		                pattern_mac[seq] ? "alice" : "",
		                pattern_mac[seq] ? "key.create" : "login", "obj-1",
		                pattern_mac[seq] ? CKR_OK : CKR_PIN_INCORRECT, detail),
		         CKR_OK);
	}
	return seal;
}

static int sql(const char *text)
{
	char *err = NULL;
	int rc;

	rc = sqlite3_exec(ch_store_db(st), text, NULL, NULL, &err);
	if (rc != SQLITE_OK)
		fprintf(stderr, "\tSQL failed: %s: %s\n", text, err ? err : "?");
	sqlite3_free(err);
	return CHECK(rc == SQLITE_OK);
}

/* What an attacker without the key can do: recompute every hash of reg's
 * chain from seq from on (each from the previous stored hash), leaving the
 * MACs as they are. */
static void rechain(int64_t reg, int64_t from)
{
	sqlite3 *db = ch_store_db(st);
	sqlite3_stmt *s = NULL, *u = NULL;
	uint8_t prev[CH_AUDIT_HASH_LEN] = { 0 }, h[CH_AUDIT_HASH_LEN];
	int have_prev = 0;

	CHECK(sqlite3_prepare_v2(db,
	                         "SELECT seq, time, pid, participant, operation, object, result,"
	                         " count, detail, hash, mac FROM audit WHERE reg = ?1 ORDER BY seq",
	                         -1, &s, NULL) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "UPDATE audit SET hash = ?1 WHERE reg = ?2 AND seq = ?3", -1,
	                         &u, NULL) == SQLITE_OK);
	sqlite3_bind_int64(s, 1, reg);
	while (sqlite3_step(s) == SQLITE_ROW) {
		ch_audit_row row = { 0 };

		row.reg = reg;
		row.seq = sqlite3_column_int64(s, 0);
		row.time = sqlite3_column_int64(s, 1);
		row.pid = sqlite3_column_int64(s, 2);
		row.participant = (const char *)sqlite3_column_text(s, 3);
		row.participant_len = (size_t)sqlite3_column_bytes(s, 3);
		row.operation = (const char *)sqlite3_column_text(s, 4);
		row.operation_len = (size_t)sqlite3_column_bytes(s, 4);
		row.object = (const char *)sqlite3_column_text(s, 5);
		row.object_len = (size_t)sqlite3_column_bytes(s, 5);
		row.result = sqlite3_column_int64(s, 6);
		row.count = sqlite3_column_int64(s, 7);
		row.detail = (const char *)sqlite3_column_text(s, 8);
		row.detail_len = (size_t)sqlite3_column_bytes(s, 8);
		row.has_mac = sqlite3_column_type(s, 10) != SQLITE_NULL;
		if (row.seq < from) {
			memcpy(prev, sqlite3_column_blob(s, 9), sizeof(prev));
			have_prev = 1;
			continue;
		}
		CHECK_RV(ch_audit_hash(have_prev ? prev : NULL, &row, h), CKR_OK);
		sqlite3_reset(u);
		sqlite3_bind_blob(u, 1, h, sizeof(h), SQLITE_TRANSIENT);
		sqlite3_bind_int64(u, 2, reg);
		sqlite3_bind_int64(u, 3, row.seq);
		CHECK(sqlite3_step(u) == SQLITE_DONE);
		memcpy(prev, h, sizeof(prev));
		have_prev = 1;
	}
	sqlite3_finalize(s);
	sqlite3_finalize(u);
}

/* Verifies reg and checks the outcome; prints what verify reported. */
static void expect_verify(const char *what, int64_t reg, const ch_seal *seal, uint64_t want_bad,
                          uint64_t want_unauth)
{
	uint64_t bad = 999, unauth = 999;

	CHECK_RV(ch_audit_verify(st, reg, seal, &bad, &unauth), CKR_OK);
	printf("verify after %-44s first_bad=%llu unauthenticated=%llu\n", what,
	       (unsigned long long)bad, (unsigned long long)unauth);
	CHECK_UL(bad, want_bad);
	CHECK_UL(unauth, want_unauth);
}

static int field_is(const CK_UTF8CHAR *f, size_t n, const char *want)
{
	size_t len = strlen(want);

	if (len > n || memcmp(f, want, len) != 0)
		return 0;
	for (size_t i = len; i < n; i++)
		if (f[i] != ' ')
			return 0;
	return 1;
}

/* ---- the log ---- */

static void test_hash_has_the_documented_encoding(void)
{
	/* Expected digests computed independently (Python hashlib) from the
	 * encoding written in audit.h. */
	static const uint8_t kat1[CH_AUDIT_HASH_LEN] = {
		0x2b, 0x7c, 0xf7, 0x0f, 0xfb, 0xa1, 0xbf, 0xf0, 0xd9, 0xf1, 0x82,
		0xa9, 0xbb, 0x09, 0x61, 0x16, 0x1c, 0x8f, 0xa6, 0x86, 0xde, 0xec,
		0x8e, 0xbc, 0x6f, 0x80, 0x96, 0x7b, 0x62, 0x70, 0xf1, 0x46,
	};
	static const uint8_t kat2[CH_AUDIT_HASH_LEN] = {
		0x33, 0xa8, 0x91, 0x42, 0xdc, 0x0c, 0x26, 0xba, 0x97, 0x16, 0xf5,
		0xd8, 0x56, 0x0a, 0xf1, 0xac, 0xb5, 0x49, 0x13, 0xc0, 0x07, 0x51,
		0x8c, 0xbd, 0x48, 0x68, 0xda, 0xf2, 0x88, 0x34, 0x09, 0xa6,
	};
	uint8_t prev[CH_AUDIT_HASH_LEN], h[CH_AUDIT_HASH_LEN];
	ch_audit_row r1 = {
		.reg = 7,
		.seq = 3,
		.time = 1700000000,
		.pid = 4242,
		.result = CKR_PIN_INCORRECT,
		.count = 1,
		.has_mac = 1,
		.participant = "alice",
		.participant_len = 5,
		.operation = "login",
		.operation_len = 5,
		.object = "",
		.object_len = 0,
		.detail = "wrong pin",
		.detail_len = 9,
	};
	ch_audit_row r2 = {
		.reg = 1,
		.seq = 1,
		.time = 0,
		.pid = 1,
		.result = -1,
		.count = 2,
		.has_mac = 0,
		.operation = "x",
		.operation_len = 1,
		.object = "y",
		.object_len = 1,
	};

	for (int i = 0; i < CH_AUDIT_HASH_LEN; i++)
		prev[i] = (uint8_t)i;
	CHECK_RV(ch_audit_hash(prev, &r1, h), CKR_OK);
	CHECK(memcmp(h, kat1, sizeof(h)) == 0);
	CHECK_RV(ch_audit_hash(NULL, &r2, h), CKR_OK);
	CHECK(memcmp(h, kat2, sizeof(h)) == 0);
	/* Moving a byte from one string to the next changes the hash. */
	r2.operation = "xy";
	r2.operation_len = 2;
	r2.object = "";
	r2.object_len = 0;
	CHECK_RV(ch_audit_hash(NULL, &r2, h), CKR_OK);
	CHECK(memcmp(h, kat2, sizeof(h)) != 0);
}

static void test_append_needs_a_transaction_and_a_registration(void)
{
	ch_audit_event ev = { .operation = "login" };
	CK_ULONG n = 99;

	CHECK_RV(ch_audit_append(st, 1, NULL, &ev), CKR_GENERAL_ERROR);
	CHECK_RV(ch_audit_append(NULL, 1, NULL, &ev), CKR_ARGUMENTS_BAD);
	CHECK_RV(ch_store_begin(st), CKR_OK);
	CHECK_RV(ch_audit_append(st, 1, NULL, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(ch_audit_append(st, 4242, NULL, &ev), CKR_SLOT_ID_INVALID);
	/* The transaction is still usable after the refused insert. */
	CHECK_RV(ch_audit_append(st, 1, NULL, &ev), CKR_OK);
	CHECK_RV(ch_store_commit(st), CKR_OK);
	CHECK_RV(ch_audit_read(st, 1, 0, NULL, &n), CKR_OK);
	CHECK_UL(n, 1);
	n = 99;
	CHECK_RV(ch_audit_read(st, 4242, 0, NULL, &n), CKR_OK);
	CHECK_UL(n, 0);
}

static void test_records_read_back_as_written(void)
{
	ch_seal *seal = seal_for(2);
	CH_AUDIT_RECORD r[16];
	CK_ULONG n;
	time_t t0 = time(NULL), t1;
	char long_name[80], utf8_cut[40];
	ch_audit_event ev = { 0 };

	if (!reg_add(2) || !CHECK(seal != NULL))
		goto out;
	CHECK_RV(append(2, NULL, "mallory", "login", NULL, CKR_PIN_INCORRECT, "bad pin"), CKR_OK);
	CHECK_RV(append(2, seal, "alice", "login", NULL, CKR_OK, NULL), CKR_OK);
	CHECK_RV(append(2, seal, "alice", "key.create", "0123456789abcdef", CKR_OK, "AES-256"),
	         CKR_OK);
	/* Long names are cut to the field, never inside a UTF-8 sequence;
	 * control characters become '?'. */
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	memset(utf8_cut, 'u', 31);
	memcpy(utf8_cut + 31, "\xc3\xa9", 3); /* an e-acute across bytes 31..32 */
	CHECK_RV(append(2, seal, long_name, utf8_cut, NULL, CKR_OK, "line\nbreak\x7f"), CKR_OK);
	ev.operation = "key.sign";
	ev.participant = "bob";
	CHECK_RV(ch_store_begin(st), CKR_OK);
	CHECK_RV(ch_audit_append(st, 2, seal, &ev), CKR_OK); /* count 0: stored as 1 */
	ev.count = 12345;
	CHECK_RV(ch_audit_append(st, 2, seal, &ev), CKR_OK);
	CHECK_RV(ch_store_commit(st), CKR_OK);
	CHECK_RV(append(2, NULL, "", "login", NULL, CKR_PIN_INCORRECT, NULL), CKR_OK);
	t1 = time(NULL);

	n = 0;
	CHECK_RV(ch_audit_read(st, 2, 0, NULL, &n), CKR_OK);
	CHECK_UL(n, 7);
	n = 16;
	if (!CHECK_RV(ch_audit_read(st, 2, 0, r, &n), CKR_OK) || !CHECK_UL(n, 7))
		goto out;
	for (CK_ULONG i = 0; i < n; i++) {
		CHECK_UL(r[i].seq, i + 1);
		CHECK_UL(r[i].pid, getpid());
		CHECK(r[i].time >= (CK_ULONG)t0 && r[i].time <= (CK_ULONG)t1);
	}
	CHECK(field_is(r[0].participant, sizeof(r[0].participant), "mallory"));
	CHECK(field_is(r[0].operation, sizeof(r[0].operation), "login"));
	CHECK(field_is(r[0].object, sizeof(r[0].object), ""));
	CHECK(field_is(r[0].detail, sizeof(r[0].detail), "bad pin"));
	CHECK_UL(r[0].result, CKR_PIN_INCORRECT);
	CHECK_UL(r[0].count, 1);
	CHECK_UL(r[0].authenticated, CK_FALSE);
	CHECK_UL(r[1].authenticated, CK_TRUE);
	CHECK(field_is(r[2].object, sizeof(r[2].object), "0123456789abcdef"));
	CHECK(field_is(r[2].detail, sizeof(r[2].detail), "AES-256"));
	CHECK(memcmp(r[3].participant, long_name, sizeof(r[3].participant)) == 0);
	CHECK(memcmp(r[3].operation, utf8_cut, 31) == 0 && r[3].operation[31] == ' ');
	CHECK(field_is(r[3].detail, sizeof(r[3].detail), "line?break?"));
	CHECK(field_is(r[4].operation, sizeof(r[4].operation), "key.sign"));
	CHECK_UL(r[4].count, 1);
	CHECK_UL(r[5].count, 12345);
	CHECK_UL(r[6].authenticated, CK_FALSE);

	/* A window: from seq 3, two records. */
	n = 2;
	CHECK_RV(ch_audit_read(st, 2, 3, r, &n), CKR_OK);
	CHECK_UL(n, 2);
	CHECK_UL(r[0].seq, 3);
	CHECK_UL(r[1].seq, 4);
	/* Fewer than asked only at the end. */
	n = 16;
	CHECK_RV(ch_audit_read(st, 2, 6, r, &n), CKR_OK);
	CHECK_UL(n, 2);
	n = 16;
	CHECK_RV(ch_audit_read(st, 2, 8, r, &n), CKR_OK);
	CHECK_UL(n, 0);
	n = 0;
	CHECK_RV(ch_audit_read(st, 2, 5, NULL, &n), CKR_OK);
	CHECK_UL(n, 3);
	CHECK_RV(ch_audit_read(st, 2, 0, r, NULL), CKR_ARGUMENTS_BAD);

	expect_verify("a clean log", 2, seal, 0, 1);
	CHECK_RV(append(2, seal, "alice", "login", NULL, CKR_OK, NULL), CKR_OK);
	expect_verify("an authenticated record", 2, seal, 0, 0);
out:
	ch_seal_free(seal);
}

static void test_verify_intact_logs(void)
{
	ch_seal *seal = build_log(10), *other = seal_for(99);
	uint64_t bad, unauth;

	expect_verify("nothing (pattern log)", 10, seal, 0, 1);
	/* An empty log is intact. */
	expect_verify("nothing (empty log)", 4242, seal, 0, 0);
	/* A log of MAC-less records only: all of it unauthenticated. */
	if (reg_add(11)) {
		for (int i = 0; i < 3; i++)
			CHECK_RV(append(11, NULL, "", "login", NULL, CKR_PIN_INCORRECT, NULL),
			         CKR_OK);
		expect_verify("nothing (unauthenticated log)", 11, seal, 0, 3);
	}
	/* The key of another registration proves nothing. */
	expect_verify("checking with a foreign key", 10, other, 1, 0);
	CHECK_RV(ch_audit_verify(st, 10, NULL, &bad, &unauth), CKR_ARGUMENTS_BAD);
	CHECK_RV(ch_audit_verify(st, 10, seal, NULL, &unauth), CKR_ARGUMENTS_BAD);
	ch_seal_free(seal);
	ch_seal_free(other);
}

/* One tampering case: a fresh pattern log in registration reg, the SQL done
 * to it (each '@' stands for reg), optionally the chain recomputed from seq
 * rechain_from on, and what verify must report. */
static void tamper_case(int64_t reg, const char *what, const char *sql_tmpl, int rechain_from,
                        uint64_t want_bad, uint64_t want_unauth)
{
	ch_seal *seal = build_log(reg);
	char text[1024];
	size_t n = 0;

	expect_verify("nothing (before tampering)", reg, seal, 0, 1);
	for (const char *p = sql_tmpl; p != NULL && *p != '\0' && n < sizeof(text) - 32; p++) {
		if (*p == '@')
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%lld", (long long)reg);
		else
			text[n++] = *p;
	}
	text[n] = '\0';
	if (sql_tmpl != NULL)
		sql(text);
	if (rechain_from > 0)
		rechain(reg, rechain_from);
	expect_verify(what, reg, seal, want_bad, want_unauth);
	ch_seal_free(seal);
}

static void test_verify_names_the_first_bad_record(void)
{
	/* Editing authenticated records. */
	tamper_case(20, "editing MAC'd record 4",
	            "UPDATE audit SET operation = 'key.destroy' WHERE reg = @ AND seq = 4", 0, 4,
	            0);
	tamper_case(21, "editing the result of record 8",
	            "UPDATE audit SET result = 6 WHERE reg = @ AND seq = 8", 0, 8, 0);
	tamper_case(22, "editing the time of record 1",
	            "UPDATE audit SET time = time - 3600 WHERE reg = @ AND seq = 1", 0, 1, 0);
	/* Deleting: the record after the hole is the first not proven. */
	tamper_case(23, "deleting record 4", "DELETE FROM audit WHERE reg = @ AND seq = 4", 0, 5,
	            0);
	tamper_case(24, "deleting record 8", "DELETE FROM audit WHERE reg = @ AND seq = 8", 0, 9,
	            0);
	tamper_case(26, "deleting record 1", "DELETE FROM audit WHERE reg = @ AND seq = 1", 0, 2,
	            0);
	/* Record 6 sits in the MAC-less run 5..6: the break is found at 7,
	 * and nothing from 5 on is proven any more. */
	tamper_case(25, "deleting MAC-less record 6", "DELETE FROM audit WHERE reg = @ AND seq = 6",
	            0, 5, 0);
	/* Reordering. */
	tamper_case(27, "swapping records 1 and 2",
	            "UPDATE audit SET seq = 100 WHERE reg = @ AND seq = 1;"
	            "UPDATE audit SET seq = 1 WHERE reg = @ AND seq = 2;"
	            "UPDATE audit SET seq = 2 WHERE reg = @ AND seq = 100;",
	            0, 1, 0);
	/* The break shows at 3; record 2 (MAC-less) is covered only by 3's
	 * MAC, so it is the first not proven. */
	tamper_case(28, "swapping records 3 and 4",
	            "UPDATE audit SET seq = 100 WHERE reg = @ AND seq = 3;"
	            "UPDATE audit SET seq = 3 WHERE reg = @ AND seq = 4;"
	            "UPDATE audit SET seq = 4 WHERE reg = @ AND seq = 100;",
	            0, 2, 0);
	/* Editing a MAC-less record covered by a later MAC. */
	tamper_case(29, "editing MAC-less record 2",
	            "UPDATE audit SET participant = 'admin' WHERE reg = @ AND seq = 2", 0, 2, 0);
	/* (Record 6 was written with CKR_PIN_INCORRECT.) */
	tamper_case(30, "editing MAC-less record 6",
	            "UPDATE audit SET result = 0 WHERE reg = @ AND seq = 6", 0, 5, 0);
	tamper_case(31, "editing MAC-less record 5",
	            "UPDATE audit SET detail = 'nothing' WHERE reg = @ AND seq = 5", 0, 5, 0);
	/* ... and recomputing the chain after it: the MAC of record 7 fails. */
	tamper_case(32, "editing record 5 and rechaining",
	            "UPDATE audit SET detail = 'nothing' WHERE reg = @ AND seq = 5", 5, 5, 0);
	tamper_case(33, "editing MAC'd record 4 and rechaining",
	            "UPDATE audit SET result = 6 WHERE reg = @ AND seq = 4", 4, 4, 0);
	/* Stripping a MAC changes the record's hash; rechaining after it
	 * leaves record 7's MAC failing. */
	tamper_case(34, "stripping the MAC of record 4",
	            "UPDATE audit SET mac = NULL WHERE reg = @ AND seq = 4", 0, 4, 0);
	tamper_case(35, "stripping MAC 4 and rechaining",
	            "UPDATE audit SET mac = NULL WHERE reg = @ AND seq = 4", 4, 4, 0);
	tamper_case(36, "stripping the MAC of record 8",
	            "UPDATE audit SET mac = NULL WHERE reg = @ AND seq = 8", 0, 8, 0);
	tamper_case(37, "a garbage MAC on record 8",
	            "UPDATE audit SET mac = zeroblob(32) WHERE reg = @ AND seq = 8", 0, 8, 0);
	tamper_case(38, "a short MAC on record 1",
	            "UPDATE audit SET mac = x'00' WHERE reg = @ AND seq = 1", 0, 1, 0);
	tamper_case(39, "a short hash on record 7",
	            "UPDATE audit SET hash = x'00' WHERE reg = @ AND seq = 7", 0, 5, 0);
	/* Inserting: shift 5.. up, put a forged MAC-less record at 5 and
	 * recompute the chain from it: record 8 (the old 7) fails its MAC,
	 * and the forged record is the first not proven. */
	tamper_case(40, "inserting a forged record at 5",
	            "UPDATE audit SET seq = seq + 1000 WHERE reg = @ AND seq >= 5;"
	            "UPDATE audit SET seq = seq - 999 WHERE reg = @ AND seq > 1000;"
	            "INSERT INTO audit SELECT reg, 5, time, pid, 'alice', 'key.export', object,"
	            " 0, 1, 'forged', hash, NULL FROM audit WHERE reg = @ AND seq = 4;",
	            5, 5, 0);
	/* A forged record with a made-up MAC at the end (seq 10): the
	 * MAC-less record 9 before it is not proven either. */
	tamper_case(41, "appending a record with a forged MAC",
	            "INSERT INTO audit SELECT reg, 10, time, pid, 'alice', 'key.export', object,"
	            " 0, 1, 'forged', hash, randomblob(32) FROM audit WHERE reg = @ AND seq = 9",
	            10, 9, 0);
	/* A record copied in from another registration (10's record 4). */
	tamper_case(42, "replacing record 4 by another registration's",
	            "DELETE FROM audit WHERE reg = @ AND seq = 4;"
	            "INSERT INTO audit SELECT @, seq, time, pid, participant, operation, object,"
	            " result, count, detail, hash, mac FROM audit WHERE reg = 10 AND seq = 4;",
	            0, 4, 0);
	/* A hole among trailing MAC-less records, the chain recomputed over
	 * it: no MAC can catch this, the numbering does. */
	tamper_case(44, "deleting trailing record 9 of 9..10, rechaining",
	            "INSERT INTO audit SELECT reg, 10, time, pid, participant, operation, object,"
	            " result, count, detail, hash, mac FROM audit WHERE reg = @ AND seq = 9;"
	            "DELETE FROM audit WHERE reg = @ AND seq = 9;",
	            10, 10, 0);
	/* A row with seq 0 before record 1: reported as 1 (seq is at least 1). */
	tamper_case(43, "inserting a record with seq 0",
	            "INSERT INTO audit SELECT reg, 0, time, pid, participant, operation, object,"
	            " result, count, detail, hash, mac FROM audit WHERE reg = @ AND seq = 1",
	            0, 1, 0);
}

/* The residual window audit.h states: what verify cannot see. */
static void test_verify_residual_window(void)
{
	/* The trailing unauthenticated record can be edited (and rechained)
	 * or a new one forged: still intact, and counted. */
	tamper_case(50, "editing trailing record 9 and rechaining",
	            "UPDATE audit SET participant = 'nobody' WHERE reg = @ AND seq = 9", 9, 0, 1);
	tamper_case(51, "forging a trailing MAC-less record",
	            "INSERT INTO audit SELECT reg, 10, time, pid, '', 'login', '', 0, 1, '', hash,"
	            " NULL FROM audit WHERE reg = @ AND seq = 9",
	            10, 0, 2);
	/* Truncating the tail leaves a shorter chain that verifies (1..6,
	 * with 5..6 now trailing). */
	tamper_case(52, "deleting the last three records",
	            "DELETE FROM audit WHERE reg = @ AND seq >= 7", 0, 0, 2);
	/* Stripping the last MACs and rechaining turns the authenticated
	 * tail (7..8) into unauthenticated records. */
	tamper_case(54, "stripping MACs 7..8 and rechaining",
	            "UPDATE audit SET mac = NULL WHERE reg = @ AND seq >= 7", 7, 0, 5);
	/* ... but the next authenticated record closes the window over the
	 * records before it: editing one afterwards is caught. */
	{
		ch_seal *seal = build_log(53);

		CHECK_RV(append(53, seal, "alice", "login", NULL, CKR_OK, NULL), CKR_OK);
		expect_verify("an authenticated record after 9", 53, seal, 0, 0);
		sql("UPDATE audit SET participant = 'nobody' WHERE reg = 53 AND seq = 9");
		rechain(53, 9);
		expect_verify("editing now-covered record 9", 53, seal, 9, 0);
		ch_seal_free(seal);
	}
}

/* ---- aggregation ---- */

typedef struct seals {
	ch_seal *s[4];
	int64_t reg[4];
	int calls;
} seals;

static const ch_seal *seal_lookup(void *arg, int64_t reg)
{
	seals *ss = arg;

	ss->calls++;
	for (int i = 0; i < 4; i++)
		if (ss->reg[i] == reg)
			return ss->s[i];
	return NULL;
}

static void test_agg_counts_per_key(void)
{
	ch_audit_agg *a = ch_audit_agg_new();
	seals ss = { .s = { seal_for(60) }, .reg = { 60 } };
	static const char *const keys[3] = { "key-c", "key-a", "key-b" };
	unsigned want[3] = { 0, 0, 0 };
	CH_AUDIT_RECORD r[8];
	CK_ULONG n;

	if (!CHECK(a != NULL) || !reg_add(60))
		goto out;
	CHECK(!ch_audit_agg_due(a));
	CHECK_RV(ch_audit_agg_flush(a, st, seal_lookup, &ss), CKR_OK); /* nothing pending */
	n = 99;
	CHECK_RV(ch_audit_read(st, 60, 0, NULL, &n), CKR_OK);
	CHECK_UL(n, 0);
	for (unsigned i = 0; i < 1000; i++) {
		unsigned k = i % 7 < 4 ? 0 : i % 7 < 6 ? 1 : 2;

		ch_audit_agg_note(a, 60, keys[k], "alice", "key.sign");
		want[k]++;
	}
	CHECK(!ch_audit_agg_due(a)); /* pending, but not a second old */
	CHECK_RV(ch_audit_agg_flush(a, st, seal_lookup, &ss), CKR_OK);
	CHECK(!ch_audit_agg_due(a));
	n = 8;
	if (!CHECK_RV(ch_audit_read(st, 60, 0, r, &n), CKR_OK) || !CHECK_UL(n, 3))
		goto out;
	/* In (reg, object, participant, operation) order: key-a, key-b, key-c. */
	CHECK(field_is(r[0].object, sizeof(r[0].object), "key-a"));
	CHECK_UL(r[0].count, want[1]);
	CHECK(field_is(r[1].object, sizeof(r[1].object), "key-b"));
	CHECK_UL(r[1].count, want[2]);
	CHECK(field_is(r[2].object, sizeof(r[2].object), "key-c"));
	CHECK_UL(r[2].count, want[0]);
	CHECK_UL(r[0].count + r[1].count + r[2].count, 1000);
	for (int i = 0; i < 3; i++) {
		CHECK(field_is(r[i].operation, sizeof(r[i].operation), "key.sign"));
		CHECK(field_is(r[i].participant, sizeof(r[i].participant), "alice"));
		CHECK(memcmp(r[i].detail, "first_use=", 10) == 0);
		CHECK_UL(r[i].result, CKR_OK);
		CHECK_UL(r[i].authenticated, CK_TRUE);
	}
	expect_verify("a flush of 1000 notes", 60, ss.s[0], 0, 0);

	/* Different participants and operations are different keys. */
	ch_audit_agg_note(a, 60, "key-a", "alice", "key.sign");
	ch_audit_agg_note(a, 60, "key-a", "bob", "key.sign");
	ch_audit_agg_note(a, 60, "key-a", "alice", "key.verify");
	ch_audit_agg_note(a, 60, "key-a", "alice", "key.verify");
	/* ... but names differing only past the field size are not. */
	ch_audit_agg_note(a, 60, "key-a", "alice", "key.verify.0123456789abcdefghijkXX");
	ch_audit_agg_note(a, 60, "key-a", "alice", "key.verify.0123456789abcdefghijkYY");
	CHECK_RV(ch_audit_agg_flush(a, st, seal_lookup, &ss), CKR_OK);
	n = 8;
	if (CHECK_RV(ch_audit_read(st, 60, 4, r, &n), CKR_OK) && CHECK_UL(n, 4)) {
		CHECK(field_is(r[0].participant, sizeof(r[0].participant), "alice"));
		CHECK(field_is(r[0].operation, sizeof(r[0].operation), "key.sign"));
		CHECK_UL(r[0].count, 1);
		CHECK(field_is(r[1].operation, sizeof(r[1].operation), "key.verify"));
		CHECK_UL(r[1].count, 2);
		CHECK(field_is(r[2].operation, sizeof(r[2].operation),
		               "key.verify.0123456789abcdefghijk"));
		CHECK_UL(r[2].count, 2);
		CHECK(field_is(r[3].participant, sizeof(r[3].participant), "bob"));
	}
	expect_verify("a second flush", 60, ss.s[0], 0, 0);
out:
	ch_audit_agg_free(a);
	ch_seal_free(ss.s[0]);
}

static void test_agg_due_after_a_second(void)
{
	ch_audit_agg *a = ch_audit_agg_new();
	struct timespec ts = { 1, 100 * 1000 * 1000 };

	if (!CHECK(a != NULL))
		return;
	CHECK(!ch_audit_agg_due(NULL));
	CHECK(!ch_audit_agg_due(a));
	nanosleep(&ts, NULL);
	CHECK(!ch_audit_agg_due(a)); /* old enough, but nothing pending */
	ch_audit_agg_note(a, 60, "key-d", "alice", "key.sign");
	CHECK(ch_audit_agg_due(a));
	CHECK_RV(ch_audit_agg_flush(a, st, NULL, NULL), CKR_OK);
	CHECK(!ch_audit_agg_due(a));
	ch_audit_agg_note(a, 60, "key-d", "alice", "key.sign");
	CHECK(!ch_audit_agg_due(a)); /* flushed less than a second ago */
	CHECK_RV(ch_audit_agg_flush(a, st, NULL, NULL), CKR_OK);
	ch_audit_agg_free(a);
	ch_audit_agg_free(NULL);
	ch_audit_agg_note(NULL, 60, "key-d", "alice", "key.sign");
}

static void test_agg_claim_goes_to_one_caller_per_interval(void)
{
	ch_audit_agg *a = ch_audit_agg_new();
	struct timespec ts = { 1, 100 * 1000 * 1000 };

	if (!CHECK(a != NULL))
		return;
	CHECK(!ch_audit_agg_claim(NULL));
	ch_audit_agg_note(a, 61, "key-c", "alice", "key.sign");
	CHECK(!ch_audit_agg_claim(a)); /* pending, but not a second old */
	nanosleep(&ts, NULL);
	CHECK(ch_audit_agg_claim(a));
	/* Another thread asking now does not flush too, even with the counts
	 * still pending (the first flush failed or has not run yet). */
	CHECK(!ch_audit_agg_claim(a));
	CHECK(!ch_audit_agg_claim(a));
	CHECK_RV(ch_audit_agg_flush(a, st, NULL, NULL), CKR_OK);
	ch_audit_agg_free(a);
}

static void test_agg_failed_flush_keeps_counts(void)
{
	ch_audit_agg *a = ch_audit_agg_new();
	CH_AUDIT_RECORD r[4];
	CK_ULONG n;

	if (!CHECK(a != NULL) || !reg_add(61))
		goto out;
	for (int i = 0; i < 5; i++)
		ch_audit_agg_note(a, 61, "key-e", "alice", "key.decrypt");
	/* A flush inside someone else's transaction cannot begin its own. */
	CHECK_RV(ch_store_begin(st), CKR_OK);
	CHECK(ch_audit_agg_flush(a, st, NULL, NULL) != CKR_OK);
	ch_store_rollback(st);
	/* Counts noted meanwhile add up with the ones put back. */
	for (int i = 0; i < 3; i++)
		ch_audit_agg_note(a, 61, "key-e", "alice", "key.decrypt");
	/* Counts for a registration that does not exist are dropped; the
	 * others are written. */
	ch_audit_agg_note(a, 4242, "key-e", "alice", "key.decrypt");
	CHECK_RV(ch_audit_agg_flush(a, st, NULL, NULL), CKR_OK);
	n = 4;
	if (CHECK_RV(ch_audit_read(st, 61, 0, r, &n), CKR_OK) && CHECK_UL(n, 1)) {
		CHECK_UL(r[0].count, 8);
		CHECK_UL(r[0].authenticated, CK_FALSE);
	}
	n = 99;
	CHECK_RV(ch_audit_read(st, 4242, 0, NULL, &n), CKR_OK);
	CHECK_UL(n, 0);
	CHECK(!ch_audit_agg_due(a));
	CHECK_RV(ch_audit_agg_flush(a, st, NULL, NULL), CKR_OK);
	n = 99;
	CHECK_RV(ch_audit_read(st, 61, 0, NULL, &n), CKR_OK);
	CHECK_UL(n, 1);
	CHECK_RV(ch_audit_agg_flush(NULL, st, NULL, NULL), CKR_ARGUMENTS_BAD);
out:
	ch_audit_agg_free(a);
}

#define THREAD_NOTES 50000

static void *noter(void *arg)
{
	ch_audit_agg *a = arg;
	char obj[16];

	for (int i = 0; i < THREAD_NOTES; i++) {
		snprintf(obj, sizeof(obj), "key-%d", i % 5);
		ch_audit_agg_note(a, 62, obj, "svc", "key.sign");
	}
	return NULL;
}

/* Two threads note the same keys while the main thread flushes: every
 * note ends up in exactly one record. */
static void test_agg_threads(void)
{
	ch_audit_agg *a = ch_audit_agg_new();
	pthread_t t[2];
	int started = 0, flushes = 0;
	sqlite3_stmt *s = NULL;
	long long total = -1, rows = -1;
	seals ss = { .s = { seal_for(62) }, .reg = { 62 } };

	if (!CHECK(a != NULL) || !reg_add(62))
		goto out;
	for (int i = 0; i < 2; i++)
		if (CHECK(pthread_create(&t[i], NULL, noter, a) == 0))
			started++;
	for (int i = 0; i < 20; i++) {
		struct timespec ts = { 0, 2 * 1000 * 1000 };

		CHECK_RV(ch_audit_agg_flush(a, st, seal_lookup, &ss), CKR_OK);
		flushes++;
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	CHECK_RV(ch_audit_agg_flush(a, st, seal_lookup, &ss), CKR_OK);
	CHECK(sqlite3_prepare_v2(ch_store_db(st),
	                         "SELECT sum(count), count(*) FROM audit WHERE reg = 62", -1, &s,
	                         NULL) == SQLITE_OK);
	if (CHECK(sqlite3_step(s) == SQLITE_ROW)) {
		total = sqlite3_column_int64(s, 0);
		rows = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	printf("threads: %d flushes wrote %lld records for %lld uses\n", flushes + 1, rows, total);
	CHECK_UL(total, 2 * THREAD_NOTES);
	CHECK(rows >= 5);
	expect_verify("concurrent notes and flushes", 62, ss.s[0], 0, 0);
out:
	ch_audit_agg_free(a);
	ch_seal_free(ss.s[0]);
}

int main(void)
{
	char path[600];

	if (!CHECK(mkdtemp(dir) != NULL))
		return ch_test_done();
	snprintf(path, sizeof(path), "%s/store.db", dir);
	if (!CHECK_RV(ch_store_open(path, &st), CKR_OK))
		return ch_test_done();
	reg_add(1);

	test_hash_has_the_documented_encoding();
	test_append_needs_a_transaction_and_a_registration();
	test_records_read_back_as_written();
	test_verify_intact_logs();
	test_verify_names_the_first_bad_record();
	test_verify_residual_window();
	test_agg_counts_per_key();
	test_agg_due_after_a_second();
	test_agg_claim_goes_to_one_caller_per_interval();
	test_agg_failed_flush_keeps_counts();
	test_agg_threads();

	ch_store_close(st);
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		CHECK(system(cmd) == 0);
	}
	return ch_test_done();
}
