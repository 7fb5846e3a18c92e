/*
 * The raw store over SQLite (see store.h).
 *
 * Schema (version 4; migrations at the end of this comment's list):
 *
 *   meta(key, value)              'schema_version'
 *   registrations(id, uuid, label, user_pin_set, created)
 *                                 id is the slot ID, never reused
 *   credentials(reg, user_type, name, kdf..., salt, wrapped, roles, failures)
 *                                 a participant: the registration key wrapped
 *                                 under its PIN, its roles, its consecutive
 *                                 failed logins (version 2 added the last two)
 *   audit(reg, seq, time, ..., hash, mac)
 *                                 the hash-chained audit log (version 2)
 *   objects(id, reg, private, gen, mac)
 *                                 id is the object handle, never reused;
 *                                 gen grows on every write so other
 *                                 processes can tell their copy is stale
 *   attributes(obj, type, sealed, value, lookup)
 *                                 one row per attribute; sealed rows hold
 *                                 nonce||ciphertext||tag, lookup the blind
 *                                 index of searchable sealed values
 *   reg_root(reg, key_label, blob)
 *                                 a registration's root secret, encrypted
 *                                 by the HSM key of that label (version 3;
 *                                 see soft_root.c)
 *   key_use(reg, object, encryptions)
 *                                 encryptions and wraps per key (by
 *                                 CKA_UNIQUE_ID), the running sum of the
 *                                 audit log's (version 4; keyuse.h)
 *
 * Statements are prepared once per connection and reused.  Every write path
 * runs inside a transaction opened by the caller, so a failure anywhere
 * leaves the file as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "keyuse.h"
#include "log.h"
#include "store.h"

enum stmt_id {
	S_BEGIN,
	S_BEGIN_READ,
	S_COMMIT,
	S_ROLLBACK,
	S_DATA_VERSION,
	S_REG_EACH,
	S_REG_GET,
	S_REG_NEXT,
	S_REG_INSERT,
	S_REG_UPDATE,
	S_CRED_GET,
	S_CRED_PUT,
	S_CRED_DELETE,
	S_CRED_DELETE_ONE,
	S_CRED_SET,
	S_CRED_FAIL,
	S_CRED_EACH,
	S_OBJ_NEW,
	S_OBJ_UPDATE,
	S_ATTR_DELETE,
	S_ATTR_INSERT,
	S_OBJ_GET,
	S_ATTR_GET,
	S_OBJ_GEN,
	S_OBJ_DELETE,
	S_OBJ_DELETE_ALL,
	S_OBJ_COUNT,
	S_GRANT_PUT,
	S_GRANT_DELETE,
	S_GRANT_EACH,
	S_ROOT_GET,
	S_ROOT_PUT,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_BEGIN_READ] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_DATA_VERSION] = "PRAGMA data_version",
	[S_REG_EACH] = "SELECT id, uuid, label, user_pin_set FROM registrations ORDER BY id",
	[S_REG_GET] = "SELECT id, uuid, label, user_pin_set FROM registrations WHERE id = ?1",
	[S_REG_NEXT] = "SELECT coalesce(max(id), 0) + 1 FROM registrations WHERE id < 65536",
	[S_REG_INSERT] = "INSERT INTO registrations(id, uuid, label, user_pin_set, created) "
	                 "VALUES(?1, ?2, ?3, ?4, ?5)",
	[S_REG_UPDATE] = "UPDATE registrations SET label = ?2, user_pin_set = ?3 WHERE id = ?1",
	[S_CRED_GET] = "SELECT kdf, iterations, log2n, r, p, salt, wrapped, roles, failures "
	               "FROM credentials WHERE reg = ?1 AND user_type = ?2 AND name = ?3",
	[S_CRED_PUT] =
	        "INSERT INTO credentials(reg, user_type, name, kdf, iterations, log2n, r, p, "
	        "salt, wrapped, roles, failures) "
	        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0) "
	        "ON CONFLICT(reg, user_type, name) DO UPDATE SET kdf = excluded.kdf, "
	        "iterations = excluded.iterations, log2n = excluded.log2n, r = excluded.r, "
	        "p = excluded.p, salt = excluded.salt, wrapped = excluded.wrapped, "
	        "roles = excluded.roles, failures = 0",
	[S_CRED_DELETE] = "DELETE FROM credentials WHERE reg = ?1 AND user_type = ?2",
	[S_CRED_DELETE_ONE] =
	        "DELETE FROM credentials WHERE reg = ?1 AND user_type = ?2 AND name = ?3",
	[S_CRED_SET] = "UPDATE credentials SET roles = ?4, failures = ?5 "
	               "WHERE reg = ?1 AND user_type = ?2 AND name = ?3",
	[S_CRED_FAIL] = "UPDATE credentials SET failures = failures + 1 "
	                "WHERE reg = ?1 AND user_type = ?2 AND name = ?3 RETURNING failures",
	[S_CRED_EACH] = "SELECT user_type, name, roles, failures FROM credentials WHERE reg = ?1 "
	                "ORDER BY user_type, name",
	[S_OBJ_NEW] =
	        "INSERT INTO objects(reg, private, gen, mac, owner) VALUES(?1, ?2, 0, x'', ?3)",
	[S_OBJ_UPDATE] = "UPDATE objects SET private = ?2, mac = ?3, gen = gen + 1 WHERE id = ?1",
	[S_ATTR_DELETE] = "DELETE FROM attributes WHERE obj = ?1",
	[S_ATTR_INSERT] = "INSERT INTO attributes(obj, type, sealed, value, lookup) "
	                  "VALUES(?1, ?2, ?3, ?4, ?5)",
	[S_OBJ_GET] = "SELECT reg, private, gen, mac, owner FROM objects WHERE id = ?1",
	[S_ATTR_GET] = "SELECT type, sealed, value, lookup FROM attributes WHERE obj = ?1 "
	               "ORDER BY type",
	[S_OBJ_GEN] = "SELECT gen FROM objects WHERE id = ?1",
	[S_OBJ_DELETE] = "DELETE FROM objects WHERE id = ?1",
	[S_OBJ_DELETE_ALL] = "DELETE FROM objects WHERE reg = ?1",
	[S_OBJ_COUNT] = "SELECT count(*) FROM objects WHERE reg = ?1",
	[S_GRANT_PUT] =
	        "INSERT OR REPLACE INTO grants(obj, grantee, ops, mac) VALUES(?1, ?2, ?3, ?4)",
	[S_GRANT_DELETE] = "DELETE FROM grants WHERE obj = ?1 AND grantee = ?2",
	[S_GRANT_EACH] = "SELECT grantee, ops, mac FROM grants WHERE obj = ?1 ORDER BY grantee",
	[S_ROOT_GET] = "SELECT key_label, blob FROM reg_root WHERE reg = ?1",
	[S_ROOT_PUT] = "INSERT OR REPLACE INTO reg_root(reg, key_label, blob) VALUES(?1, ?2, ?3)",
};

/* Migrations: migration[i] brings a store from version i to i + 1. */
static const char *const migrations[CH_STORE_SCHEMA_VERSION] = {
	"CREATE TABLE registrations("
	"  id INTEGER PRIMARY KEY,"
	"  uuid BLOB NOT NULL UNIQUE,"
	"  label TEXT NOT NULL,"
	"  user_pin_set INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE credentials("
	"  reg INTEGER NOT NULL REFERENCES registrations(id) ON DELETE CASCADE,"
	"  user_type INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  kdf INTEGER NOT NULL, iterations INTEGER NOT NULL, log2n INTEGER NOT NULL,"
	"  r INTEGER NOT NULL, p INTEGER NOT NULL,"
	"  salt BLOB NOT NULL, wrapped BLOB NOT NULL,"
	"  PRIMARY KEY(reg, user_type, name));"
	"CREATE TABLE objects("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  reg INTEGER NOT NULL REFERENCES registrations(id) ON DELETE CASCADE,"
	"  private INTEGER NOT NULL,"
	"  gen INTEGER NOT NULL,"
	"  mac BLOB NOT NULL);"
	"CREATE INDEX objects_reg ON objects(reg, private);"
	"CREATE TABLE attributes("
	"  obj INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,"
	"  type INTEGER NOT NULL,"
	"  sealed INTEGER NOT NULL,"
	"  value BLOB,"
	"  lookup BLOB,"
	"  PRIMARY KEY(obj, type)) WITHOUT ROWID;"
	"CREATE INDEX attributes_value ON attributes(type, value) WHERE sealed = 0;"
	"CREATE INDEX attributes_lookup ON attributes(lookup) WHERE lookup IS NOT NULL;",

	/* 2: participants (roles, failed-login counts), the audit log, object
	 * owners and grants. */
	"ALTER TABLE credentials ADD COLUMN roles INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE credentials ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;"
	"UPDATE credentials SET roles = 1 WHERE user_type = 0;" /* the SO: admin */
	"UPDATE credentials SET roles = 6 WHERE user_type = 1;" /* default: operator, user */
	"CREATE TABLE audit("
	"  reg INTEGER NOT NULL REFERENCES registrations(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  pid INTEGER NOT NULL,"
	"  participant TEXT NOT NULL,"
	"  operation TEXT NOT NULL,"
	"  object TEXT NOT NULL,"
	"  result INTEGER NOT NULL,"
	"  count INTEGER NOT NULL,"
	"  detail TEXT NOT NULL,"
	"  hash BLOB NOT NULL,"
	"  mac BLOB,"
	"  PRIMARY KEY(reg, seq)) WITHOUT ROWID;"
	"ALTER TABLE objects ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE grants("
	"  obj INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,"
	"  grantee TEXT NOT NULL,"
	"  ops INTEGER NOT NULL,"
	"  mac BLOB NOT NULL,"
	"  PRIMARY KEY(obj, grantee)) WITHOUT ROWID;",

	/* 3: registrations whose root secret an HSM holds. */
	"CREATE TABLE reg_root("
	"  reg INTEGER PRIMARY KEY REFERENCES registrations(id) ON DELETE CASCADE,"
	"  key_label TEXT NOT NULL,"
	"  blob BLOB NOT NULL);",

	/* 4: encryption counts per key, filled from the log so far. */
	"CREATE TABLE key_use("
	"  reg INTEGER NOT NULL REFERENCES registrations(id) ON DELETE CASCADE,"
	"  object TEXT NOT NULL,"
	"  encryptions INTEGER NOT NULL,"
	"  PRIMARY KEY(reg, object)) WITHOUT ROWID;" CH_KEYUSE_FROM_AUDIT_SQL(""),
};

/* The WAL-index header: two copies of 48 bytes at the start of the -shm
 * file (https://sqlite.org/walformat.html). */
#define CH_SHM_HDR 96

/* Search shapes kept prepared: up to 15 conditions. */
#define CH_FIND_SHAPES 64

struct ch_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	int64_t data_version;
	sqlite3_stmt *find[CH_FIND_SHAPES]; /* ch_store_find's shapes, as prepared */
	const volatile uint8_t *shm;        /* the WAL index, read-only (see shm_open_watch) */
	uint8_t shm_seen[CH_SHM_HDR];       /* its header when data_version was last read */
	bool shm_valid;
	int shm_fd;       /* kept open with the connection (see shm_open_watch) */
	int64_t epoch_dv; /* the data_version ch_store_epoch last saw */
	uint64_t epoch;   /* see ch_store_epoch */
	char *path;
};

static void shm_open_watch(ch_store *st);

static void log_db(ch_store *st, const char *what)
{
	ch_log(CH_LOG_ERROR, "store %s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
}

/* The cached statement id, reset and with its bindings cleared. */
static sqlite3_stmt *stmt(ch_store *st, enum stmt_id id)
{
	sqlite3_stmt *s = st->stmt[id];

	if (s == NULL) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s,
		                       NULL) != SQLITE_OK) {
			log_db(st, "prepare");
			return NULL;
		}
		st->stmt[id] = s;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* Steps a statement that returns no rows; 1 on success. */
static int run(ch_store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_db(st, what);
		return 0;
	}
	return 1;
}

static int exec_sql(ch_store *st, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		ch_log(CH_LOG_ERROR, "store %s: %s", st->path, err ? err : "error");
		sqlite3_free(err);
		return 0;
	}
	return 1;
}

/* Creates the directories leading to path (like mkdir -p), private to the
 * user; existing ones are left as they are.  Returns 1 on success. */
static int make_parent(const char *path)
{
	char *dir = strdup(path), *p;
	int ok = 1;

	if (dir == NULL)
		return 0;
	p = strrchr(dir, '/');
	if (p != NULL && p != dir) {
		*p = '\0';
		for (p = dir + 1; ok && *p != '\0'; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			ok = mkdir(dir, 0700) == 0 || errno == EEXIST;
			*p = '/';
		}
		ok = ok && (mkdir(dir, 0700) == 0 || errno == EEXIST);
	}
	free(dir);
	return ok;
}

static int schema_version(ch_store *st, int64_t *v)
{
	sqlite3_stmt *s = NULL;
	int ok = 0, rc;

	*v = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
	                       &s, NULL) != SQLITE_OK) {
		/* No meta table: a new, empty database, or not ours. */
		sqlite3_finalize(s);
		return 1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(s, 0);
	ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
	sqlite3_finalize(s);
	return ok;
}

static int is_empty(ch_store *st)
{
	sqlite3_stmt *s = NULL;
	int empty = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM sqlite_master", -1, &s, NULL) ==
	            SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		empty = sqlite3_column_int64(s, 0) == 0;
	sqlite3_finalize(s);
	return empty;
}

/* True for an empty database or one with our meta table; logs otherwise. */
static int is_ours_or_empty(ch_store *st)
{
	sqlite3_stmt *s = NULL;
	int rc, ours = 0;

	rc = sqlite3_prepare_v2(
	        st->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
	        -1, &s, NULL);
	if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		ours = sqlite3_column_int(s, 0) == 1 || is_empty(st);
	else
		log_db(st, "read");
	sqlite3_finalize(s);
	if (!ours && rc == SQLITE_OK)
		ch_log(CH_LOG_ERROR, "store %s: not a Cipher Hub store", st->path);
	return ours;
}

/* Brings the schema to CH_STORE_SCHEMA_VERSION in one transaction. */
static CK_RV migrate(ch_store *st)
{
	int64_t v;
	char sql[128];
	CK_RV rv = CKR_DEVICE_ERROR;

	if (!exec_sql(st, "BEGIN IMMEDIATE"))
		return CKR_DEVICE_ERROR;
	if (!schema_version(st, &v))
		goto out;
	if (v == 0 && !is_empty(st)) {
		ch_log(CH_LOG_ERROR, "store %s: not a Cipher Hub store", st->path);
		goto out;
	}
	if (v > CH_STORE_SCHEMA_VERSION) {
		ch_log(CH_LOG_ERROR, "store %s: schema version %lld is newer than this module's %d",
		       st->path, (long long)v, CH_STORE_SCHEMA_VERSION);
		goto out;
	}
	if (v == 0 && !exec_sql(st, "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID"))
		goto out;
	for (; v < CH_STORE_SCHEMA_VERSION; v++) {
		if (!exec_sql(st, migrations[v]))
			goto out;
		ch_log(CH_LOG_INFO, "store %s: schema migrated to version %lld", st->path,
		       (long long)v + 1);
	}
	snprintf(sql, sizeof(sql),
	         "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', %d)",
	         CH_STORE_SCHEMA_VERSION);
	if (!exec_sql(st, sql))
		goto out;
	rv = CKR_OK;
out:
	if (!exec_sql(st, rv == CKR_OK ? "COMMIT" : "ROLLBACK"))
		rv = CKR_DEVICE_ERROR;
	return rv;
}

CK_RV ch_store_open(const char *path, ch_store **out)
{
	ch_store *st = NULL;
	CK_RV rv = CKR_DEVICE_ERROR;
	int fd;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL || (st->path = strdup(path)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	if (!make_parent(path)) {
		ch_log(CH_LOG_ERROR, "store %s: cannot create its directory: %s", path,
		       strerror(errno));
		goto out;
	}
	/* Create the file ourselves so that it is private from the first byte. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		ch_log(CH_LOG_ERROR, "store %s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	close(fd);
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		log_db(st, "open");
		goto out;
	}
	sqlite3_busy_timeout(st->db, 10000);
	sqlite3_extended_result_codes(st->db, 1);
	/* Refuse somebody else's database before changing anything in it (not
	 * even its journal mode). */
	if (!is_ours_or_empty(st))
		goto out;
	if (!exec_sql(st, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
	                  "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;"))
		goto out;
	if ((rv = migrate(st)) != CKR_OK)
		goto out;
	(void)ch_store_changed(st);
	shm_open_watch(st);
	*out = st;
	st = NULL; /* transferred */
	rv = CKR_OK;
out:
	ch_store_close(st);
	return rv;
}

void ch_store_close(ch_store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	for (int i = 0; i < CH_FIND_SHAPES; i++)
		sqlite3_finalize(st->find[i]);
	sqlite3_close(st->db);
	if (st->shm != NULL) {
		munmap((void *)st->shm, CH_SHM_HDR);
		close(st->shm_fd);
	}
	free(st->path);
	free(st);
}

CK_RV ch_store_begin(ch_store *st)
{
	sqlite3_stmt *s = stmt(st, S_BEGIN);

	return s != NULL && run(st, s, "begin") ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV ch_store_wal_truncate(ch_store *st)
{
	return exec_sql(st, "PRAGMA wal_checkpoint(TRUNCATE)") ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV ch_store_begin_read(ch_store *st)
{
	sqlite3_stmt *s = stmt(st, S_BEGIN_READ);

	return s != NULL && run(st, s, "begin") ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV ch_store_commit(ch_store *st)
{
	sqlite3_stmt *s = stmt(st, S_COMMIT);

	st->epoch++; /* our own commits do not move data_version */
	if (s != NULL && run(st, s, "commit"))
		return CKR_OK;
	ch_store_rollback(st);
	return CKR_DEVICE_ERROR;
}

void ch_store_rollback(ch_store *st)
{
	sqlite3_stmt *s = stmt(st, S_ROLLBACK);

	if (s != NULL && sqlite3_get_autocommit(st->db) == 0)
		(void)run(st, s, "rollback");
}

struct sqlite3 *ch_store_db(ch_store *st)
{
	return st->db;
}

bool ch_store_changed(ch_store *st)
{
	sqlite3_stmt *s = stmt(st, S_DATA_VERSION);
	int64_t v;

	if (s == NULL || sqlite3_step(s) != SQLITE_ROW)
		return true;
	v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (v == st->data_version)
		return false;
	st->data_version = v;
	return true;
}

/*
 * The fast path of ch_store_epoch.  Every commit of any connection rewrites
 * the WAL-index header in the -shm file (its iChange counter moves on every
 * write, mxFrame on every commit): SQLite itself compares that header to its
 * own copy to learn that the database changed, before it takes any lock.  We
 * map the header read-only and compare it the same way.  Unchanged bytes
 * mean no commit has become visible since our last data_version read (a
 * commit becomes visible only by writing the header); a torn read during a
 * write differs from our copy and sends us to the exact path.  While our
 * connection is open no other one can truncate the file (SQLite does so only
 * for the first connection), so the mapping stays valid until close.
 */
static void shm_open_watch(ch_store *st)
{
	const char *db = sqlite3_db_filename(st->db, "main");
	char *path = NULL;
	void *map;
	struct stat sb;
	int fd = -1;

	if (db == NULL || *db == '\0' || asprintf(&path, "%s-shm", db) < 0)
		return;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0 && fstat(fd, &sb) == 0 &&
	    sb.st_size >= CH_SHM_HDR) {
		map = mmap(NULL, CH_SHM_HDR, PROT_READ, MAP_SHARED, fd, 0);
		if (map != MAP_FAILED)
			st->shm = map;
	}
	/* Not closed before the connection is: closing any descriptor of the
	 * file would drop every POSIX lock this process holds on it, SQLite's
	 * included, and another process would then reset the file under us. */
	if (st->shm != NULL)
		st->shm_fd = fd;
	else if (fd >= 0)
		close(fd);
	free(path);
}

/* Copies the header as it is now into out. */
/* A copy of the WAL-index header, read a word at a time (the mapping is
 * page aligned; SQLite writes it under its own locks, which we do not take:
 * a torn copy differs from the last one and only costs a data_version). */
static void shm_read(const ch_store *st, uint8_t out[CH_SHM_HDR])
{
	const uint64_t *w = (const uint64_t *)(const void *)st->shm;

	for (size_t i = 0; i < CH_SHM_HDR / 8; i++) {
		uint64_t v = __atomic_load_n(&w[i], __ATOMIC_RELAXED);

		memcpy(out + 8 * i, &v, 8);
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

uint64_t ch_store_epoch(ch_store *st)
{
	sqlite3_stmt *s;
	int64_t v = -1;
	uint8_t now[CH_SHM_HDR];

	if (st->shm != NULL) {
		shm_read(st, now);
		if (st->shm_valid && memcmp(now, st->shm_seen, CH_SHM_HDR) == 0)
			return st->epoch;
		/* The header before data_version: a commit after this copy shows
		 * as a difference next time. */
		memcpy(st->shm_seen, now, CH_SHM_HDR);
		st->shm_valid = true;
	}
	s = stmt(st, S_DATA_VERSION);

	if (s != NULL && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	if (s != NULL)
		sqlite3_reset(s);
	/* A failed read counts as a change, so nothing is trusted on it. */
	if (v != st->epoch_dv || v < 0) {
		st->epoch_dv = v;
		st->epoch++;
	}
	return st->epoch;
}

/* ---- registrations ---- */

static void reg_from_row(sqlite3_stmt *s, ch_reg_row *r)
{
	const void *uuid = sqlite3_column_blob(s, 1);
	const unsigned char *label = sqlite3_column_text(s, 2);

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	if (uuid != NULL && sqlite3_column_bytes(s, 1) == CH_UUID_LEN)
		memcpy(r->uuid, uuid, CH_UUID_LEN);
	if (label != NULL)
		snprintf(r->label, sizeof(r->label), "%s", (const char *)label);
	r->user_pin_set = sqlite3_column_int(s, 3);
}

CK_RV ch_store_reg_each(ch_store *st, int (*fn)(void *arg, const ch_reg_row *r), void *arg)
{
	sqlite3_stmt *s = stmt(st, S_REG_EACH);
	ch_reg_row r;
	int rc;

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		reg_from_row(s, &r);
		if (fn(arg, &r) != 0)
			break;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_db(st, "list registrations");
		return CKR_DEVICE_ERROR;
	}
	return CKR_OK;
}

CK_RV ch_store_reg_get(ch_store *st, int64_t id, ch_reg_row *out)
{
	sqlite3_stmt *s = stmt(st, S_REG_GET);
	int rc;

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		reg_from_row(s, out);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return CKR_SLOT_ID_INVALID;
	if (rc != SQLITE_ROW) {
		log_db(st, "read registration");
		return CKR_DEVICE_ERROR;
	}
	return CKR_OK;
}

CK_RV ch_store_reg_next_id(ch_store *st, int64_t *out)
{
	sqlite3_stmt *s = stmt(st, S_REG_NEXT);
	CK_RV rv = CKR_DEVICE_ERROR;

	if (s != NULL && sqlite3_step(s) == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rv = CKR_OK;
	}
	if (s != NULL)
		sqlite3_reset(s);
	return rv;
}

CK_RV ch_store_reg_insert(ch_store *st, const ch_reg_row *r)
{
	sqlite3_stmt *s = stmt(st, S_REG_INSERT);

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	sqlite3_bind_int64(s, 1, r->id);
	sqlite3_bind_blob(s, 2, r->uuid, CH_UUID_LEN, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, r->label, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, r->user_pin_set);
	sqlite3_bind_int64(s, 5, (int64_t)time(NULL));
	return run(st, s, "insert registration") ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV ch_store_reg_update(ch_store *st, const ch_reg_row *r)
{
	sqlite3_stmt *s = stmt(st, S_REG_UPDATE);

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	sqlite3_bind_int64(s, 1, r->id);
	sqlite3_bind_text(s, 2, r->label, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, r->user_pin_set);
	return run(st, s, "update registration") ? CKR_OK : CKR_DEVICE_ERROR;
}

/* ---- credentials ---- */

/* Binds (reg, who, name) to ?1..?3 of s. */
static void bind_cred(sqlite3_stmt *s, int64_t reg, CK_USER_TYPE who, const char *name)
{
	sqlite3_bind_int64(s, 1, reg);
	sqlite3_bind_int64(s, 2, (int64_t)who);
	sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
}

CK_RV ch_store_cred_get(ch_store *st, int64_t reg, CK_USER_TYPE who, const char *name, ch_cred *out)
{
	sqlite3_stmt *s = stmt(st, S_CRED_GET);
	CK_RV rv = CKR_DEVICE_ERROR;
	int rc;

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	bind_cred(s, reg, who, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		rv = CKR_USER_PIN_NOT_INITIALIZED;
	} else if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 5) == CH_SALT_LEN &&
	           sqlite3_column_bytes(s, 6) == (int)sizeof(out->w.blob)) {
		out->w.kdf.alg = (ch_kdf_alg)sqlite3_column_int(s, 0);
		out->w.kdf.iterations = (uint32_t)sqlite3_column_int64(s, 1);
		out->w.kdf.log2n = (uint32_t)sqlite3_column_int64(s, 2);
		out->w.kdf.r = (uint32_t)sqlite3_column_int64(s, 3);
		out->w.kdf.p = (uint32_t)sqlite3_column_int64(s, 4);
		memcpy(out->w.salt, sqlite3_column_blob(s, 5), CH_SALT_LEN);
		memcpy(out->w.blob, sqlite3_column_blob(s, 6), sizeof(out->w.blob));
		out->roles = (CK_FLAGS)sqlite3_column_int64(s, 7);
		out->failures = (CK_ULONG)sqlite3_column_int64(s, 8);
		rv = CKR_OK;
	} else {
		ch_log(CH_LOG_ERROR, "store %s: credential of registration %lld is malformed",
		       st->path, (long long)reg);
	}
	sqlite3_reset(s);
	return rv;
}

CK_RV ch_store_cred_put(ch_store *st, int64_t reg, CK_USER_TYPE who, const char *name,
                        const ch_wrapped_key *w, CK_FLAGS roles)
{
	sqlite3_stmt *s = stmt(st, S_CRED_PUT);

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	bind_cred(s, reg, who, name);
	sqlite3_bind_int(s, 4, (int)w->kdf.alg);
	sqlite3_bind_int64(s, 5, w->kdf.iterations);
	sqlite3_bind_int64(s, 6, w->kdf.log2n);
	sqlite3_bind_int64(s, 7, w->kdf.r);
	sqlite3_bind_int64(s, 8, w->kdf.p);
	sqlite3_bind_blob(s, 9, w->salt, CH_SALT_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 10, w->blob, sizeof(w->blob), SQLITE_STATIC);
	sqlite3_bind_int64(s, 11, (int64_t)roles);
	return run(st, s, "store credential") ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV ch_store_cred_set(ch_store *st, int64_t reg, CK_USER_TYPE who, const char *name,
                        CK_FLAGS roles, CK_ULONG failures)
{
	sqlite3_stmt *s = stmt(st, S_CRED_SET);

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	bind_cred(s, reg, who, name);
	sqlite3_bind_int64(s, 4, (int64_t)roles);
	sqlite3_bind_int64(s, 5, (int64_t)failures);
	if (!run(st, s, "update participant"))
		return CKR_DEVICE_ERROR;
	return sqlite3_changes(st->db) == 1 ? CKR_OK : CKR_USER_PIN_NOT_INITIALIZED;
}

CK_RV ch_store_cred_fail(ch_store *st, int64_t reg, CK_USER_TYPE who, const char *name,
                         CK_ULONG *failures)
{
	sqlite3_stmt *s = stmt(st, S_CRED_FAIL);
	CK_RV rv = CKR_DEVICE_ERROR;
	int rc;

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	bind_cred(s, reg, who, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*failures = (CK_ULONG)sqlite3_column_int64(s, 0);
		rv = CKR_OK;
	} else if (rc == SQLITE_DONE) {
		rv = CKR_USER_PIN_NOT_INITIALIZED;
	} else {
		log_db(st, "count failed login");
	}
	/* RETURNING finishes its writes only when stepped to the end. */
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rv;
}

CK_RV ch_store_cred_delete(ch_store *st, int64_t reg, CK_USER_TYPE who, const char *name)
{
	sqlite3_stmt *s = stmt(st, S_CRED_DELETE_ONE);

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	bind_cred(s, reg, who, name);
	return run(st, s, "delete participant") ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV ch_store_cred_each(ch_store *st, int64_t reg,
                         int (*fn)(void *arg, CK_USER_TYPE who, const char *name, CK_FLAGS roles,
                                   CK_ULONG failures),
                         void *arg)
{
	sqlite3_stmt *s = stmt(st, S_CRED_EACH);
	int rc;

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	sqlite3_bind_int64(s, 1, reg);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(s, 1);

		if (fn(arg, (CK_USER_TYPE)sqlite3_column_int64(s, 0),
		       name != NULL ? (const char *)name : "", (CK_FLAGS)sqlite3_column_int64(s, 2),
		       (CK_ULONG)sqlite3_column_int64(s, 3)) != 0)
			break;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_db(st, "list participants");
		return CKR_DEVICE_ERROR;
	}
	return CKR_OK;
}

CK_RV ch_store_cred_delete_all(ch_store *st, int64_t reg, CK_USER_TYPE who)
{
	sqlite3_stmt *s = stmt(st, S_CRED_DELETE);

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	sqlite3_bind_int64(s, 1, reg);
	sqlite3_bind_int64(s, 2, (int64_t)who);
	return run(st, s, "delete credentials") ? CKR_OK : CKR_DEVICE_ERROR;
}

/* ---- objects ---- */

void ch_rows_free(ch_rows *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].value != NULL) {
			memset(r->v[i].value, 0, r->v[i].len);
			free(r->v[i].value);
		}
	}
	free(r->v);
	free(r);
}

CK_RV ch_store_obj_new(ch_store *st, int64_t reg, int private_, const char *owner, int64_t *id)
{
	sqlite3_stmt *s = stmt(st, S_OBJ_NEW);

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	sqlite3_bind_int64(s, 1, reg);
	sqlite3_bind_int(s, 2, private_);
	sqlite3_bind_text(s, 3, owner, -1, SQLITE_STATIC);
	if (!run(st, s, "insert object"))
		return CKR_DEVICE_ERROR;
	*id = sqlite3_last_insert_rowid(st->db);
	return CKR_OK;
}

CK_RV ch_store_obj_write(ch_store *st, const ch_rows *r)
{
	sqlite3_stmt *s;

	if ((s = stmt(st, S_ATTR_DELETE)) == NULL)
		return CKR_DEVICE_ERROR;
	sqlite3_bind_int64(s, 1, r->id);
	if (!run(st, s, "delete attributes"))
		return CKR_DEVICE_ERROR;
	for (size_t i = 0; i < r->n; i++) {
		const ch_row *a = &r->v[i];

		if ((s = stmt(st, S_ATTR_INSERT)) == NULL)
			return CKR_DEVICE_ERROR;
		sqlite3_bind_int64(s, 1, r->id);
		sqlite3_bind_int64(s, 2, (int64_t)a->type);
		sqlite3_bind_int(s, 3, a->sealed);
		sqlite3_bind_blob(s, 4, a->len ? (const void *)a->value : "", (int)a->len,
		                  SQLITE_STATIC);
		if (a->has_lookup)
			sqlite3_bind_blob(s, 5, a->lookup, CH_LOOKUP_LEN, SQLITE_STATIC);
		if (!run(st, s, "insert attribute"))
			return CKR_DEVICE_ERROR;
	}
	if ((s = stmt(st, S_OBJ_UPDATE)) == NULL)
		return CKR_DEVICE_ERROR;
	sqlite3_bind_int64(s, 1, r->id);
	sqlite3_bind_int(s, 2, r->private_);
	sqlite3_bind_blob(s, 3, r->mac, CH_MAC_LEN, SQLITE_STATIC);
	return run(st, s, "update object") ? CKR_OK : CKR_DEVICE_ERROR;
}

static CK_RV obj_load_rows(ch_store *st, int64_t id, ch_rows **out)
{
	sqlite3_stmt *s;
	ch_rows *r = NULL;
	CK_RV rv = CKR_DEVICE_ERROR;
	size_t cap = 0;
	int rc;

	*out = NULL;
	if ((s = stmt(st, S_OBJ_GET)) == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		rv = CKR_OBJECT_HANDLE_INVALID;
		goto out;
	}
	if (rc != SQLITE_ROW || (r = calloc(1, sizeof(*r))) == NULL) {
		sqlite3_reset(s);
		goto out;
	}
	r->id = id;
	r->reg = sqlite3_column_int64(s, 0);
	r->private_ = sqlite3_column_int(s, 1);
	r->gen = sqlite3_column_int64(s, 2);
	if (sqlite3_column_bytes(s, 3) == CH_MAC_LEN)
		memcpy(r->mac, sqlite3_column_blob(s, 3), CH_MAC_LEN);
	if (sqlite3_column_text(s, 4) != NULL)
		snprintf(r->owner, sizeof(r->owner), "%s", (const char *)sqlite3_column_text(s, 4));
	sqlite3_reset(s);

	if ((s = stmt(st, S_ATTR_GET)) == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ch_row *a;
		int len = sqlite3_column_bytes(s, 2);

		if (r->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			ch_row *nv = realloc(r->v, ncap * sizeof(*nv));
			if (nv == NULL)
				break;
			r->v = nv;
			cap = ncap;
		}
		a = &r->v[r->n];
		memset(a, 0, sizeof(*a));
		a->type = (CK_ATTRIBUTE_TYPE)sqlite3_column_int64(s, 0);
		a->sealed = sqlite3_column_int(s, 1);
		a->len = (size_t)len;
		if (len > 0) {
			if ((a->value = malloc((size_t)len)) == NULL)
				break;
			memcpy(a->value, sqlite3_column_blob(s, 2), (size_t)len);
		}
		if (sqlite3_column_bytes(s, 3) == CH_LOOKUP_LEN) {
			memcpy(a->lookup, sqlite3_column_blob(s, 3), CH_LOOKUP_LEN);
			a->has_lookup = 1;
		}
		r->n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_db(st, "load object");
		goto out;
	}
	*out = r;
	r = NULL; /* transferred */
	rv = CKR_OK;
out:
	ch_rows_free(r);
	return rv;
}

CK_RV ch_store_obj_load(ch_store *st, int64_t id, ch_rows **out)
{
	bool own = sqlite3_get_autocommit(st->db) != 0;
	CK_RV rv;

	/* Two statements (the object row, then its attributes): in one read
	 * transaction, or another process's commit may fall between them and
	 * the rows fail their MAC as if tampered with. */
	if (own && ch_store_begin_read(st) != CKR_OK)
		return CKR_DEVICE_ERROR;
	rv = obj_load_rows(st, id, out);
	if (own)
		ch_store_rollback(st);
	return rv;
}

int64_t ch_store_obj_gen(ch_store *st, int64_t id)
{
	sqlite3_stmt *s = stmt(st, S_OBJ_GEN);
	int64_t gen = -1;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW)
		gen = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return gen;
}

CK_RV ch_store_obj_delete(ch_store *st, int64_t id)
{
	sqlite3_stmt *s = stmt(st, S_OBJ_DELETE);

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	sqlite3_bind_int64(s, 1, id);
	return run(st, s, "delete object") ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV ch_store_obj_delete_all(ch_store *st, int64_t reg)
{
	sqlite3_stmt *s = stmt(st, S_OBJ_DELETE_ALL);

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	sqlite3_bind_int64(s, 1, reg);
	return run(st, s, "delete objects") ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV ch_store_obj_count(ch_store *st, int64_t reg, CK_ULONG *out)
{
	sqlite3_stmt *s = stmt(st, S_OBJ_COUNT);
	CK_RV rv = CKR_DEVICE_ERROR;

	if (s == NULL)
		return rv;
	sqlite3_bind_int64(s, 1, reg);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*out = (CK_ULONG)sqlite3_column_int64(s, 0);
		rv = CKR_OK;
	}
	sqlite3_reset(s);
	return rv;
}

CK_RV ch_store_grant_put(ch_store *st, int64_t obj, const char *grantee, CK_FLAGS ops,
                         const uint8_t mac[CH_MAC_LEN])
{
	sqlite3_stmt *s = stmt(st, S_GRANT_PUT);

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	sqlite3_bind_int64(s, 1, obj);
	sqlite3_bind_text(s, 2, grantee, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)ops);
	sqlite3_bind_blob(s, 4, mac, CH_MAC_LEN, SQLITE_STATIC);
	return run(st, s, "store grant") ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV ch_store_grant_delete(ch_store *st, int64_t obj, const char *grantee)
{
	sqlite3_stmt *s = stmt(st, S_GRANT_DELETE);

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	sqlite3_bind_int64(s, 1, obj);
	sqlite3_bind_text(s, 2, grantee, -1, SQLITE_STATIC);
	return run(st, s, "delete grant") ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV ch_store_grant_each(ch_store *st, int64_t obj,
                          int (*fn)(void *arg, const char *grantee, CK_FLAGS ops,
                                    const uint8_t *mac, size_t mac_len),
                          void *arg)
{
	sqlite3_stmt *s = stmt(st, S_GRANT_EACH);
	int rc;

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	sqlite3_bind_int64(s, 1, obj);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *g = sqlite3_column_text(s, 0);

		if (fn(arg, g != NULL ? (const char *)g : "", (CK_FLAGS)sqlite3_column_int64(s, 1),
		       sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2)) != 0)
			break;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_db(st, "list grants");
		return CKR_DEVICE_ERROR;
	}
	return CKR_OK;
}

/* Is a condition on type selective enough to drive a search from the
 * attribute indexes?  Class and key type match whole families. */
static bool find_drives(CK_ATTRIBUTE_TYPE type)
{
	return type != CKA_CLASS && type != CKA_KEY_TYPE && type != CKA_CERTIFICATE_TYPE;
}

/* The SQL of a search shape: n conditions, the first of them driving (an
 * indexed lookup of the matching attribute rows, by value for clear rows and
 * by blind index for sealed ones) when drive is set; otherwise every object
 * of the registration is visited.  Caller frees. */
static char *find_sql(size_t n, bool with_private, bool drive)
{
	static const char cond_sql[] =
	        " AND EXISTS(SELECT 1 FROM attributes a WHERE a.obj = o.id AND a.type = ? AND"
	        " ((a.sealed = 0 AND a.value = ?) OR (a.sealed = 1 AND a.lookup = ?)))";
	static const char drive_sql[] =
	        " AND o.id IN (SELECT obj FROM attributes WHERE type = ?2 AND sealed = 0"
	        " AND value = ?3 UNION SELECT obj FROM attributes WHERE lookup = ?4 AND type = ?2"
	        " AND sealed = 1)";
	size_t len = 128 + sizeof(drive_sql) + n * sizeof(cond_sql);
	char *sql = malloc(len);

	if (sql == NULL)
		return NULL;
	/* When a condition drives, the unary + keeps SQLite from walking the
	 * registration's whole objects_reg range instead of probing the IDs. */
	strcpy(sql, drive ? "SELECT o.id FROM objects o WHERE +o.reg = ?1"
	                  : "SELECT o.id FROM objects o WHERE o.reg = ?1");
	if (!with_private)
		strcat(sql, drive ? " AND +o.private = 0" : " AND o.private = 0");
	for (size_t i = 0; i < n; i++)
		strcat(sql, i == 0 && drive ? drive_sql : cond_sql);
	strcat(sql, " ORDER BY o.id");
	return sql;
}

CK_RV ch_store_find(ch_store *st, int64_t reg, bool with_private, const ch_find_cond *c, size_t n,
                    int (*fn)(void *arg, int64_t id), void *arg)
{
	ch_find_cond *order = NULL;
	sqlite3_stmt *s = NULL;
	char *sql = NULL;
	CK_RV rv = CKR_DEVICE_ERROR;
	bool drive = false;
	size_t shape;
	int rc, k = 2;

	/* The first selective condition drives; it goes first. */
	if ((order = calloc(n ? n : 1, sizeof(*order))) == NULL)
		return CKR_HOST_MEMORY;
	if (n > 0)
		memcpy(order, c, n * sizeof(*c));
	for (size_t i = 0; i < n && !drive; i++) {
		if (find_drives(c[i].type)) {
			order[0] = c[i];
			order[i] = c[0];
			drive = true;
		}
	}
	/* Shapes are few (the number of conditions, privacy, driving or not):
	 * each is prepared once per connection. */
	shape = (n * 2 + with_private) * 2 + drive;
	if (shape < CH_FIND_SHAPES && st->find[shape] != NULL) {
		s = st->find[shape];
	} else {
		if ((sql = find_sql(n, with_private, drive)) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) !=
		    SQLITE_OK) {
			log_db(st, "prepare find");
			goto out;
		}
		if (shape < CH_FIND_SHAPES)
			st->find[shape] = s;
	}
	sqlite3_bind_int64(s, 1, reg);
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(s, k++, (int64_t)order[i].type);
		sqlite3_bind_blob(s, k++, order[i].len ? (const void *)order[i].value : "",
		                  (int)order[i].len, SQLITE_STATIC);
		if (order[i].lookup != NULL)
			sqlite3_bind_blob(s, k, order[i].lookup, CH_LOOKUP_LEN, SQLITE_STATIC);
		else
			sqlite3_bind_null(s, k);
		k++;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(arg, sqlite3_column_int64(s, 0)) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_db(st, "find");
		goto out;
	}
	rv = CKR_OK;
out:
	if (s != NULL) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		if (shape >= CH_FIND_SHAPES)
			sqlite3_finalize(s);
	}
	free(order);
	free(sql);
	return rv;
}

/* ---- HSM roots ---- */

CK_RV ch_store_root_get(ch_store *st, int64_t reg, ch_root_row *out)
{
	sqlite3_stmt *s = stmt(st, S_ROOT_GET);
	CK_RV rv = CKR_DEVICE_ERROR;
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return CKR_DEVICE_ERROR;
	sqlite3_bind_int64(s, 1, reg);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		rv = CKR_OK; /* no root: out->present stays false */
	} else if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 1) == CH_ROOT_BLOB_LEN &&
	           sqlite3_column_bytes(s, 0) < (int)sizeof(out->key_label)) {
		snprintf(out->key_label, sizeof(out->key_label), "%s",
		         (const char *)sqlite3_column_text(s, 0));
		memcpy(out->blob, sqlite3_column_blob(s, 1), CH_ROOT_BLOB_LEN);
		out->present = true;
		rv = CKR_OK;
	} else if (rc == SQLITE_ROW) {
		ch_log(CH_LOG_ERROR, "store %s: HSM root of registration %lld is malformed",
		       st->path, (long long)reg);
	} else {
		log_db(st, "read HSM root");
	}
	sqlite3_reset(s);
	return rv;
}

CK_RV ch_store_root_put(ch_store *st, int64_t reg, const ch_root_row *r)
{
	sqlite3_stmt *s = stmt(st, S_ROOT_PUT);

	if (s == NULL)
		return CKR_DEVICE_ERROR;
	sqlite3_bind_int64(s, 1, reg);
	sqlite3_bind_text(s, 2, r->key_label, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, r->blob, CH_ROOT_BLOB_LEN, SQLITE_STATIC);
	return run(st, s, "write HSM root") ? CKR_OK : CKR_DEVICE_ERROR;
}
