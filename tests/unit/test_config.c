/*
 * Configuration and the store's location, through C_Initialize: which store
 * wins (CIPHERHUB_STORE over [store] path over the default under
 * $XDG_DATA_HOME or ~/.local/share), that a missing store and its
 * directories are created private to the user, that a store which is not
 * one fails cleanly and is left as it was, and that a broken configuration
 * stops C_Initialize with CKR_GENERAL_ERROR and says which line.
 */
#include <stdarg.h>
#include <stdint.h>

#include <sqlite3.h>

#include "module.h"

/* Rewrites e's configuration: the cheap KDF, the log file, then the text. */
static bool write_conf(const ch_t_env *e, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static bool write_conf(const ch_t_env *e, const char *fmt, ...)
{
	char body[1024], text[1536];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(body))
		return false;
	n = snprintf(text, sizeof(text), "[pin]\npbkdf2_iterations = 1000\n[log]\nfile = %s\n%s",
	             e->log, body);
	return n > 0 && (size_t)n < sizeof(text) && ch_t_write_file(e->conf, text, (size_t)n);
}

static bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* The permission bits of path, or -1. */
static int mode_of(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

/* Runs C_Initialize with standard error sent to a file; *err gets what was
 * written there (caller frees; may be NULL). */
static CK_RV initialize_capturing_stderr(const ch_t_env *e, char **err)
{
	char path[300];
	int saved, fd;
	size_t len = 0;
	CK_RV rv;

	snprintf(path, sizeof(path), "%s/stderr.txt", e->dir);
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (saved >= 0 && fd >= 0)
		dup2(fd, 2);
	rv = ch_t_initialize();
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
	if (fd >= 0)
		close(fd);
	*err = (char *)ch_t_read_file(path, &len);
	return rv;
}

/* True when the error output or the log file mentions needle. */
static bool reported(const ch_t_env *e, const char *err, const char *needle)
{
	return (err != NULL && strstr(err, needle) != NULL) || ch_t_log_has(e, needle);
}

static void test_env_store_wins_over_config_path(void)
{
	ch_t_env e;
	char conf_store[300];
	CK_SLOT_ID slot, ids[4];

	REQUIRE(ch_t_load() && ch_t_env_new(&e));
	snprintf(conf_store, sizeof(conf_store), "%s/from-conf.db", e.dir);
	REQUIRE(write_conf(&e, "[store]\npath = %s\n", conf_store));

	/* CIPHERHUB_STORE (e.store) is set: the token goes there. */
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_make_token(CH_T_LABEL, true, &slot), CKR_OK);
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	CHECK(exists(e.store));
	CHECK(!exists(conf_store));

	/* Without it the file's path is used: a new, empty store. */
	unsetenv("CIPHERHUB_STORE");
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	CHECK(ch_t_slots(ids, 4) == 1);
	CHECK_RV(ch_t_slot_by_label(CH_T_LABEL, &slot), CKR_SLOT_ID_INVALID);
	CHECK(exists(conf_store));
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);

	/* An empty CIPHERHUB_STORE counts as unset. */
	setenv("CIPHERHUB_STORE", "", 1);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	CHECK_RV(ch_t_slot_by_label(CH_T_LABEL, &slot), CKR_SLOT_ID_INVALID);
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);

	/* And set again, the first store and its token are back. */
	setenv("CIPHERHUB_STORE", e.store, 1);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	CHECK_RV(ch_t_slot_by_label(CH_T_LABEL, &slot), CKR_OK);
out:
	ch_t_env_free(&e);
}

static void test_store_in_missing_directory_created_private(void)
{
	ch_t_env e;
	char a[300], ab[300], store[300], side[320];
	CK_SLOT_ID slot, ids[4];
	mode_t old = umask(022);

	REQUIRE(ch_t_load() && ch_t_env_new(&e));
	snprintf(a, sizeof(a), "%s/a", e.dir);
	snprintf(ab, sizeof(ab), "%s/a/b", e.dir);
	snprintf(store, sizeof(store), "%s/a/b/store.db", e.dir);
	setenv("CIPHERHUB_STORE", store, 1);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	CHECK(ch_t_slots(ids, 4) == 1);
	CHECK_RV(ch_t_make_token(CH_T_LABEL, true, &slot), CKR_OK);
	if (!CHECK(mode_of(a) == 0700))
		fprintf(stderr, "\t%s has mode %o\n", a, mode_of(a));
	if (!CHECK(mode_of(ab) == 0700))
		fprintf(stderr, "\t%s has mode %o\n", ab, mode_of(ab));
	if (!CHECK(mode_of(store) == 0600))
		fprintf(stderr, "\t%s has mode %o\n", store, mode_of(store));
	/* SQLite's side files, while they exist, are as private. */
	snprintf(side, sizeof(side), "%s-wal", store);
	CHECK(!exists(side) || mode_of(side) == 0600);
	snprintf(side, sizeof(side), "%s-shm", store);
	CHECK(!exists(side) || mode_of(side) == 0600);
out:
	umask(old);
	ch_t_env_free(&e);
}

/* Fills path with bytes that are no SQLite database. */
static bool write_garbage(const char *path, unsigned char *buf, size_t len)
{
	uint32_t x = 0x9e3779b9u;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
	return ch_t_write_file(path, buf, len);
}

/* C_Initialize on a store that is not one: either it fails with
 * CKR_DEVICE_ERROR, or it succeeds and the slot list is empty or fails with
 * CKR_DEVICE_ERROR; and an error is logged naming the store. */
static void check_store_refused(const ch_t_env *e, const char *what)
{
	CK_ULONG n = 99;
	CK_RV rv;
	char *err = NULL;

	fprintf(stderr, "    store: %s\n", what);
	rv = initialize_capturing_stderr(e, &err);
	if (rv == CKR_OK) {
		rv = P11->C_GetSlotList(CK_FALSE, NULL, &n);
		if (rv == CKR_OK)
			CHECK_UL(n, 0);
		else
			CHECK_RV(rv, CKR_DEVICE_ERROR);
		/* Asking again does not change the answer or crash. */
		n = 99;
		rv = P11->C_GetSlotList(CK_TRUE, NULL, &n);
		CHECK(rv == CKR_DEVICE_ERROR || (rv == CKR_OK && n == 0));
		CHECK_RV(P11->C_GetSlotInfo(1, &(CK_SLOT_INFO){ 0 }), CKR_SLOT_ID_INVALID);
		CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	} else {
		CHECK_RV(rv, CKR_DEVICE_ERROR);
	}
	if (!CHECK(reported(e, err, e->store)))
		fprintf(stderr, "\tno log line names %s\n", e->store);
	free(err);
}

static void test_store_that_is_not_a_store_fails_cleanly(void)
{
	ch_t_env e;
	unsigned char garbage[8192], *after = NULL;
	size_t len = 0;
	sqlite3 *db = NULL;

	REQUIRE(ch_t_load() && ch_t_env_new(&e));

	/* Random bytes. */
	REQUIRE(write_garbage(e.store, garbage, sizeof(garbage)));
	check_store_refused(&e, "random bytes");
	/* The file is left alone: not truncated, not "repaired". */
	after = ch_t_read_file(e.store, &len);
	CHECK(after != NULL && len == sizeof(garbage) && memcmp(after, garbage, len) == 0);
	free(after);
	after = NULL;

	/* Somebody else's SQLite database. */
	REQUIRE(remove(e.store) == 0);
	REQUIRE(sqlite3_open(e.store, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db,
	                   "CREATE TABLE accounts(id INTEGER, name TEXT);"
	                   "INSERT INTO accounts VALUES (1, 'x');",
	                   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	{
		size_t before_len = 0;
		unsigned char *before = ch_t_read_file(e.store, &before_len);

		check_store_refused(&e, "a foreign SQLite database");
		/* Not even its journal mode was changed. */
		after = ch_t_read_file(e.store, &len);
		CHECK(before != NULL && after != NULL && len == before_len &&
		      memcmp(before, after, len) == 0);
		free(before);
		free(after);
		after = NULL;
	}
	REQUIRE(sqlite3_open(e.store, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "SELECT name FROM accounts", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);

	/* A path that cannot be a file. */
	REQUIRE(remove(e.store) == 0);
	REQUIRE(mkdir(e.store, 0700) == 0);
	check_store_refused(&e, "a directory");

	/* Once the path is fixed, the same process works. */
	REQUIRE(rmdir(e.store) == 0);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	CHECK(ch_t_slots((CK_SLOT_ID[4]){ 0 }, 4) == 1);
out:
	free(after);
	ch_t_env_free(&e);
}

static void test_broken_configuration_fails_initialize(void)
{
	ch_t_env e;
	char *err = NULL;
	CK_INFO info;
	static const struct {
		const char *what, *body, *line;
	} bad[] = {
		{ "a line that is not INI", "[store]\nthis is not a key value pair\n", "line 6" },
		{ "an unknown key", "[pin]\npbkdf2_iteratoins = 5\n", "line 6" },
		{ "a bad number", "[pin]\npbkdf2_iterations = lots\n", "line 6" },
		{ "an unknown KDF", "[pin]\nkdf = md5\n", "line 6" },
		{ "an unknown log level", "[log]\nlevel = chatty\n", "line 6" },
		{ "an unknown section", "[stroe]\npath = /tmp/x.db\n", "line 6" },
	};

	REQUIRE(ch_t_load() && ch_t_env_new(&e));
	for (size_t i = 0; i < CH_T_ARRAY_LEN(bad); i++) {
		fprintf(stderr, "    configuration with %s\n", bad[i].what);
		REQUIRE(write_conf(&e, "%s", bad[i].body));
		CHECK_RV(initialize_capturing_stderr(&e, &err), CKR_GENERAL_ERROR);
		if (!CHECK(reported(&e, err, bad[i].line)))
			fprintf(stderr, "\t\"%s\" not reported; stderr was: %s\n", bad[i].line,
			        err != NULL ? err : "(none)");
		free(err);
		err = NULL;
		/* Not initialized after the failure. */
		CHECK_RV(P11->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
	}

	/* A configuration named but missing is an error too. */
	setenv("CIPHERHUB_CONF", "/nonexistent/cipherhub.conf", 1);
	CHECK_RV(initialize_capturing_stderr(&e, &err), CKR_GENERAL_ERROR);
	free(err);
	err = NULL;
	setenv("CIPHERHUB_CONF", e.conf, 1);

	/* Fixed, it initializes; comments and blank lines are fine. */
	REQUIRE(write_conf(&e, "; a comment\n\n# another\n[pin]\nkdf = pbkdf2-sha256\n"));
	CHECK_RV(ch_t_initialize(), CKR_OK);
	CHECK_RV(P11->C_GetInfo(&info), CKR_OK);
out:
	free(err);
	ch_t_env_free(&e);
}

static void test_scrypt_kdf_from_configuration_works(void)
{
	ch_t_env e;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE h;

	REQUIRE(ch_t_load() && ch_t_env_new(&e));
	REQUIRE(write_conf(&e, "[pin]\nkdf = scrypt\nscrypt_log2n = 10\nscrypt_r = 8\n"
	                       "scrypt_p = 1\n"));
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_make_token(CH_T_LABEL, true, &slot), CKR_OK);
	REQUIRE_RV(ch_t_open(slot, true, &h), CKR_OK);
	CHECK_RV(ch_t_login(h, CKU_USER, "wrong-pin-here"), CKR_PIN_INCORRECT);
	CHECK_RV(ch_t_login_user(h), CKR_OK);
	/* PINs set under one KDF still open after the configuration changes. */
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	REQUIRE(write_conf(&e, "[pin]\nkdf = pbkdf2-sha256\n"));
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_open(slot, true, &h), CKR_OK);
	CHECK_RV(ch_t_login_user(h), CKR_OK);
out:
	ch_t_env_free(&e);
}

/* Saves and restores one environment variable around a test. */
typedef struct saved_env {
	const char *name;
	char *value; /* NULL: was unset */
} saved_env;

static saved_env env_save(const char *name)
{
	const char *v = getenv(name);
	saved_env s = { name, v != NULL ? strdup(v) : NULL };

	return s;
}

static void env_restore(saved_env *s)
{
	if (s->value != NULL)
		setenv(s->name, s->value, 1);
	else
		unsetenv(s->name);
	free(s->value);
	s->value = NULL;
}

static void test_default_store_without_any_configuration(void)
{
	ch_t_env e;
	saved_env xdg = env_save("XDG_DATA_HOME"), home = env_save("HOME");
	char path[300], dir[300];

	REQUIRE(ch_t_load() && ch_t_env_new(&e));
	if (!CHECK(!exists("/etc/cipherhub/cipherhub.conf")))
		fprintf(stderr, "\t/etc/cipherhub/cipherhub.conf exists: cannot test defaults\n");
	unsetenv("CIPHERHUB_STORE");
	unsetenv("CIPHERHUB_CONF");

	/* $XDG_DATA_HOME/cipherhub/store.db, directories created. */
	snprintf(path, sizeof(path), "%s/xdg", e.dir);
	setenv("XDG_DATA_HOME", path, 1);
	snprintf(dir, sizeof(dir), "%s/xdg/cipherhub", e.dir);
	snprintf(path, sizeof(path), "%s/xdg/cipherhub/store.db", e.dir);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	CHECK(ch_t_slots((CK_SLOT_ID[4]){ 0 }, 4) == 1);
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	CHECK(mode_of(dir) == 0700);
	CHECK(mode_of(path) == 0600);

	/* Without it, ~/.local/share/cipherhub/store.db. */
	unsetenv("XDG_DATA_HOME");
	snprintf(path, sizeof(path), "%s/home", e.dir);
	setenv("HOME", path, 1);
	snprintf(path, sizeof(path), "%s/home/.local/share/cipherhub/store.db", e.dir);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	CHECK(ch_t_slots((CK_SLOT_ID[4]){ 0 }, 4) == 1);
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	CHECK(mode_of(path) == 0600);

	/* A relative XDG_DATA_HOME is invalid (XDG base directory
	 * specification) and ignored. */
	setenv("XDG_DATA_HOME", "relative/data", 1);
	snprintf(path, sizeof(path), "%s/home2", e.dir);
	setenv("HOME", path, 1);
	snprintf(path, sizeof(path), "%s/home2/.local/share/cipherhub/store.db", e.dir);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	CHECK(ch_t_slots((CK_SLOT_ID[4]){ 0 }, 4) == 1);
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	CHECK(exists(path));
	CHECK(!exists("relative/data/cipherhub/store.db"));
out:
	env_restore(&xdg);
	env_restore(&home);
	ch_t_env_free(&e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_env_store_wins_over_config_path),
	CH_T_CASE(test_store_in_missing_directory_created_private),
	CH_T_CASE(test_store_that_is_not_a_store_fails_cleanly),
	CH_T_CASE(test_broken_configuration_fails_initialize),
	CH_T_CASE(test_scrypt_kdf_from_configuration_works),
	CH_T_CASE(test_default_store_without_any_configuration),
};

int main(void)
{
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
