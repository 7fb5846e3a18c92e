/*
 * The raw store (token/store.c): creation with private permissions, schema
 * versioning, refusal of files that are not ours, rows in and out,
 * transactions, and change detection across connections.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "store.h"

static char dir[] = "/tmp/ch-test-store-XXXXXX";

static char *path_in(const char *name)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

static void test_open_creates_private_dir_and_file(void)
{
	ch_store *st = NULL;
	struct stat sb;
	char *p = strdup(path_in("a/b/store.db"));

	CHECK_RV(ch_store_open(p, &st), CKR_OK);
	CHECK(stat(path_in("a/b"), &sb) == 0 && (sb.st_mode & 0777) == 0700);
	CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	ch_store_close(st);
	/* Opening again keeps it (schema already current). */
	CHECK_RV(ch_store_open(p, &st), CKR_OK);
	ch_store_close(st);
	free(p);
}

static void test_open_refuses_foreign_and_garbage_files(void)
{
	ch_store *st = NULL;
	sqlite3 *db;
	int fd;

	CHECK(sqlite3_open(path_in("foreign.db"), &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	CHECK_RV(ch_store_open(path_in("foreign.db"), &st), CKR_DEVICE_ERROR);
	CHECK(st == NULL);

	fd = open(path_in("garbage.db"), O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0);
	for (int i = 0; i < 64; i++)
		CHECK(write(fd, "not a database, not at all", 26) == 26);
	close(fd);
	CHECK_RV(ch_store_open(path_in("garbage.db"), &st), CKR_DEVICE_ERROR);
	CHECK(st == NULL);
}

static void test_open_refuses_newer_schema(void)
{
	ch_store *st = NULL;
	sqlite3 *db;
	char *p = strdup(path_in("newer.db"));

	CHECK_RV(ch_store_open(p, &st), CKR_OK);
	ch_store_close(st);
	st = NULL;
	CHECK(sqlite3_open(p, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "UPDATE meta SET value = 99 WHERE key = 'schema_version'", NULL,
	                   NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	CHECK_RV(ch_store_open(p, &st), CKR_DEVICE_ERROR);
	free(p);
}

static void test_registrations_and_objects_roundtrip(void)
{
	ch_store *st = NULL;
	ch_reg_row r, got;
	ch_rows w, *loaded = NULL;
	ch_row rows[2];
	int64_t next = 0, id = 0;
	uint8_t v1[] = { 1, 2, 3 }, v2[] = "label";

	CHECK_RV(ch_store_open(path_in("rt.db"), &st), CKR_OK);
	CHECK_RV(ch_store_reg_next_id(st, &next), CKR_OK);
	CHECK(next == 1);
	memset(&r, 0, sizeof(r));
	r.id = 1;
	memset(r.uuid, 7, sizeof(r.uuid));
	strcpy(r.label, "payments");
	CHECK_RV(ch_store_begin(st), CKR_OK);
	CHECK_RV(ch_store_reg_insert(st, &r), CKR_OK);
	CHECK_RV(ch_store_commit(st), CKR_OK);
	CHECK_RV(ch_store_reg_get(st, 1, &got), CKR_OK);
	CHECK(strcmp(got.label, "payments") == 0 && got.uuid[3] == 7);
	CHECK_RV(ch_store_reg_get(st, 2, &got), CKR_SLOT_ID_INVALID);
	CHECK_RV(ch_store_reg_next_id(st, &next), CKR_OK);
	CHECK(next == 2);

	/* A duplicate slot ID is refused and the transaction rolls back. */
	CHECK_RV(ch_store_begin(st), CKR_OK);
	CHECK_RV(ch_store_reg_insert(st, &r), CKR_DEVICE_ERROR);
	ch_store_rollback(st);

	CHECK_RV(ch_store_begin(st), CKR_OK);
	CHECK_RV(ch_store_obj_new(st, 1, 0, "", &id), CKR_OK);
	memset(&w, 0, sizeof(w));
	memset(rows, 0, sizeof(rows));
	rows[0].type = CKA_VALUE;
	rows[0].sealed = 1;
	rows[0].value = v1;
	rows[0].len = sizeof(v1);
	rows[1].type = CKA_LABEL;
	rows[1].value = v2;
	rows[1].len = 5;
	w.id = id;
	w.reg = 1;
	w.v = rows;
	w.n = 2;
	memset(w.mac, 0xAB, sizeof(w.mac));
	CHECK_RV(ch_store_obj_write(st, &w), CKR_OK);
	CHECK_RV(ch_store_commit(st), CKR_OK);

	CHECK_RV(ch_store_obj_load(st, id, &loaded), CKR_OK);
	CHECK(loaded != NULL && loaded->n == 2 && loaded->reg == 1 && loaded->gen == 1);
	CHECK(loaded != NULL && loaded->v[0].type == CKA_LABEL && loaded->v[1].sealed == 1);
	CHECK(loaded != NULL && loaded->mac[0] == 0xAB);
	ch_rows_free(loaded);
	CHECK(ch_store_obj_gen(st, id) == 1);
	CHECK_RV(ch_store_obj_load(st, id + 100, &loaded), CKR_OBJECT_HANDLE_INVALID);

	CHECK_RV(ch_store_begin(st), CKR_OK);
	CHECK_RV(ch_store_obj_delete(st, id), CKR_OK);
	CHECK_RV(ch_store_commit(st), CKR_OK);
	CHECK(ch_store_obj_gen(st, id) == -1);
	ch_store_close(st);
}

static void test_changed_sees_other_connection_commit(void)
{
	ch_store *a = NULL, *b = NULL;
	ch_reg_row r;
	char *p = strdup(path_in("two.db"));

	CHECK_RV(ch_store_open(p, &a), CKR_OK);
	CHECK_RV(ch_store_open(p, &b), CKR_OK);
	(void)ch_store_changed(a);
	CHECK(!ch_store_changed(a));
	memset(&r, 0, sizeof(r));
	r.id = 1;
	strcpy(r.label, "x");
	CHECK_RV(ch_store_begin(b), CKR_OK);
	CHECK_RV(ch_store_reg_insert(b, &r), CKR_OK);
	CHECK_RV(ch_store_commit(b), CKR_OK);
	CHECK(ch_store_changed(a));
	CHECK(!ch_store_changed(a));
	ch_store_close(a);
	ch_store_close(b);
	free(p);
}

int main(void)
{
	CHECK(mkdtemp(dir) != NULL);
	test_open_creates_private_dir_and_file();
	test_open_refuses_foreign_and_garbage_files();
	test_open_refuses_newer_schema();
	test_registrations_and_objects_roundtrip();
	test_changed_sees_other_connection_commit();
	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		CHECK(system(cmd) == 0);
	}
	return ch_test_done();
}
