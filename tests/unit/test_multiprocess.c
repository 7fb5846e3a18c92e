/*
 * Several processes on one store: what one writes, the others see at once,
 * without C_Finalize/C_Initialize, and concurrent writers lose nothing.
 *
 * The test process (A) sets up the store and keeps its sessions and its
 * login; the other processes are this same executable started again with a
 * command (see child_main): they inherit CIPHERHUB_STORE and CIPHERHUB_CONF,
 * initialize the module themselves, do one job and report through their exit
 * status (0 = done as asked).
 */
#include <sys/wait.h>

#include "module.h"

#define BULK 200

/* ---- the child side ---- */

/* Creates count token data objects labelled label in token "t". */
static int child_create(const char *label, long count)
{
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;
	char value[64];
	CK_RV rv;

	if ((rv = ch_t_slot_by_label(CH_T_LABEL, &slot)) != CKR_OK ||
	    (rv = ch_t_open(slot, true, &h)) != CKR_OK || (rv = ch_t_login_user(h)) != CKR_OK) {
		fprintf(stderr, "child %ld: session: %s\n", (long)getpid(), ch_test_rv_name(rv));
		return 1;
	}
	for (long i = 0; i < count; i++) {
		snprintf(value, sizeof(value), "%s #%ld from pid %ld", label, i, (long)getpid());
		rv = ch_t_create_data(h, true, i % 2 == 0, label, value, strlen(value), &o);
		if (rv != CKR_OK) {
			fprintf(stderr, "child %ld: object %ld of %s: C_CreateObject: %s\n",
			        (long)getpid(), i, label, ch_test_rv_name(rv));
			return 1;
		}
	}
	return 0;
}

/* Succeeds when exactly count objects are labelled label (logged in). */
static int child_count(const char *label, long count)
{
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE h;
	long n;
	CK_RV rv;

	if ((rv = ch_t_slot_by_label(CH_T_LABEL, &slot)) != CKR_OK ||
	    (rv = ch_t_open(slot, false, &h)) != CKR_OK || (rv = ch_t_login_user(h)) != CKR_OK) {
		fprintf(stderr, "child %ld: session: %s\n", (long)getpid(), ch_test_rv_name(rv));
		return 1;
	}
	n = ch_t_count_label(h, label);
	if (n != count) {
		fprintf(stderr, "child %ld: %ld objects labelled %s, expected %ld\n",
		        (long)getpid(), n, label, count);
		return 1;
	}
	return 0;
}

/* Sets the value of the one object labelled label count times, to values
 * of changing length (so its attribute rows and MAC change every time). */
static int child_rewrite(const char *label, long count)
{
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;
	CK_ATTRIBUTE t[] = { CH_T_STR(CKA_LABEL, label) };
	CK_ULONG n = 0;
	char value[64];
	CK_RV rv;

	if ((rv = ch_t_slot_by_label(CH_T_LABEL, &slot)) != CKR_OK ||
	    (rv = ch_t_open(slot, true, &h)) != CKR_OK || (rv = ch_t_login_user(h)) != CKR_OK ||
	    (rv = ch_t_find(h, t, 1, &o, 1, &n)) != CKR_OK || n != 1) {
		fprintf(stderr, "child %ld: session or find: %s\n", (long)getpid(),
		        ch_test_rv_name(rv));
		return 1;
	}
	for (long i = 0; i < count; i++) {
		CK_ATTRIBUTE v = { CKA_VALUE, value, 0 };

		v.ulValueLen = (CK_ULONG)snprintf(value, sizeof(value), "%.*s", (int)(1 + i % 40),
		                                  "0123456789012345678901234567890123456789");
		if ((rv = P11->C_SetAttributeValue(h, o, &v, 1)) != CKR_OK) {
			fprintf(stderr, "child %ld: C_SetAttributeValue: %s\n", (long)getpid(),
			        ch_test_rv_name(rv));
			return 1;
		}
	}
	return 0;
}

/* Makes a new registration named label (no user PIN). */
static int child_init_token(const char *label)
{
	CK_SLOT_ID slot;

	return ch_t_make_token(label, false, &slot) == CKR_OK ? 0 : 1;
}

/* argv: self, "child", job, label [, count]. */
static int child_main(int argc, char **argv)
{
	const char *job = argv[2], *label = argv[3];
	long count = argc > 4 ? strtol(argv[4], NULL, 10) : 0;
	int status = 2;
	CK_RV rv;

	if (!ch_t_load())
		return 2;
	if ((rv = ch_t_initialize()) != CKR_OK) {
		fprintf(stderr, "child %ld: C_Initialize: %s\n", (long)getpid(),
		        ch_test_rv_name(rv));
		return 2;
	}
	if (strcmp(job, "create") == 0)
		status = child_create(label, count);
	else if (strcmp(job, "count") == 0)
		status = child_count(label, count);
	else if (strcmp(job, "rewrite") == 0)
		status = child_rewrite(label, count);
	else if (strcmp(job, "init-token") == 0)
		status = child_init_token(label);
	else
		fprintf(stderr, "child: unknown job %s\n", job);
	if ((rv = P11->C_Finalize(NULL)) != CKR_OK) {
		fprintf(stderr, "child %ld: C_Finalize: %s\n", (long)getpid(), ch_test_rv_name(rv));
		status = 2;
	}
	return status;
}

/* ---- the parent side ---- */

/* Starts a child doing job on label (count may be NULL). */
static pid_t start(const char *job, const char *label, const char *count)
{
	char *args[] = { "child", (char *)job, (char *)label, (char *)count, NULL };

	return ch_t_spawn_self(args);
}

/* Runs a child to the end; its exit status, or -1. */
static int run(const char *job, const char *label, const char *count)
{
	pid_t pid = start(job, label, count);

	return pid < 0 ? -1 : ch_t_wait(pid);
}

static void test_object_created_by_another_process_is_seen_without_reinit(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE found[4], mine;
	CK_ATTRIBUTE t[] = { CH_T_STR(CKA_LABEL, "from-child") };
	CK_BYTE buf[128];
	CK_ULONG n, len = sizeof(buf);

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	CHECK(ch_t_count_label(h, "from-child") == 0);

	CHECK_UL(run("create", "from-child", "1"), 0);
	REQUIRE_RV(ch_t_find(h, t, 1, found, 4, &n), CKR_OK);
	CHECK_UL(n, 1);
	REQUIRE(n == 1);
	CHECK_RV(ch_t_get(h, found[0], CKA_VALUE, buf, &len), CKR_OK);
	CHECK(len > 13 && memcmp(buf, "from-child #0", 13) == 0);

	/* The other way: A's object, seen by a child; A's destruction of the
	 * child's object, seen by the next child. */
	REQUIRE_RV(ch_t_create_data(h, true, true, "from-parent", "x", 1, &mine), CKR_OK);
	CHECK_UL(run("count", "from-parent", "1"), 0);
	CHECK_RV(P11->C_DestroyObject(h, found[0]), CKR_OK);
	CHECK_UL(run("count", "from-child", "0"), 0);
	CHECK(ch_t_count_label(h, "from-child") == 0);
	/* A's login and session survived all that. */
	CHECK(ch_t_count_label(h, "from-parent") == 1);
out:
	ch_t_env_free(&e);
}

static void test_registration_created_by_another_process_appears(void)
{
	ch_t_env e;
	CK_SLOT_ID ids[8], other;
	CK_SESSION_HANDLE h;
	long before, after;

	REQUIRE(ch_t_setup(&e));
	before = ch_t_slots(ids, 8);
	CHECK(before == 2);
	CHECK_UL(run("init-token", "made-elsewhere", NULL), 0);
	after = ch_t_slots(ids, 8);
	CHECK(after == before + 1);
	REQUIRE_RV(ch_t_slot_by_label("made-elsewhere", &other), CKR_OK);
	CHECK(other != e.slot);
	REQUIRE_RV(ch_t_open(other, true, &h), CKR_OK);
	CHECK_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	/* And there is a free slot again. */
	{
		CK_SLOT_ID free_slot;
		CHECK_RV(ch_t_free_slot(&free_slot), CKR_OK);
	}
out:
	ch_t_env_free(&e);
}

static int cmp_handle(const void *a, const void *b)
{
	CK_OBJECT_HANDLE x = *(const CK_OBJECT_HANDLE *)a, y = *(const CK_OBJECT_HANDLE *)b;

	return x < y ? -1 : x > y;
}

static void test_concurrent_writers_lose_nothing(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o, all[3 * BULK];
	CK_ATTRIBUTE by_app[] = { CH_T_STR(CKA_APPLICATION, "cipherhub-tests") };
	CK_ULONG n;
	pid_t a = -1, b = -1;
	char count[16];
	int created = 0;

	snprintf(count, sizeof(count), "%d", BULK);
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	a = start("create", "bulk-a", count);
	b = start("create", "bulk-b", count);
	CHECK(a > 0 && b > 0);
	/* A writes too while they run. */
	for (int i = 0; i < BULK / 4; i++) {
		if (!CHECK_RV(ch_t_create_data(h, true, false, "bulk-parent", "p", 1, &o), CKR_OK))
			break;
		created++;
	}
	CHECK_UL(a > 0 ? ch_t_wait(a) : -1, 0);
	CHECK_UL(b > 0 ? ch_t_wait(b) : -1, 0);
	a = b = -1;

	CHECK(ch_t_count_label(h, "bulk-a") == BULK);
	CHECK(ch_t_count_label(h, "bulk-b") == BULK);
	CHECK(ch_t_count_label(h, "bulk-parent") == created);
	REQUIRE_RV(ch_t_find(h, by_app, 1, all, CH_T_ARRAY_LEN(all), &n), CKR_OK);
	CHECK_UL(n, 2 * BULK + (CK_ULONG)created);
	/* Every object has its own handle. */
	if (n <= CH_T_ARRAY_LEN(all)) {
		int dups = 0;
		qsort(all, n, sizeof(all[0]), cmp_handle);
		for (CK_ULONG i = 1; i < n; i++)
			dups += all[i] == all[i - 1];
		CHECK_UL(dups, 0);
	}
	/* And the same from a fresh start. */
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_user_session(&e, false, &h), CKR_OK);
	CHECK(ch_t_count(h, by_app, 1) == 2 * BULK + created);
out:
	if (a > 0)
		(void)ch_t_wait(a);
	if (b > 0)
		(void)ch_t_wait(b);
	ch_t_env_free(&e);
}

/* An object another process keeps changing always reads whole: its object
 * row and its attribute rows come from one snapshot, never from both sides
 * of the other's commit (which would fail the MAC as tampering). */
static void test_an_object_changed_by_another_process_never_reads_torn(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;
	long reads = 0, bad = 0;
	CK_RV first_bad = CKR_OK;
	pid_t pid;
	int status;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, true, "torn", "x", 1, &o), CKR_OK);
	REQUIRE((pid = start("rewrite", "torn", "400")) > 0);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		char buf[64];
		CK_ATTRIBUTE v = { CKA_VALUE, buf, sizeof(buf) };
		CK_RV rv = P11->C_GetAttributeValue(h, o, &v, 1);

		reads++;
		if (rv != CKR_OK && bad++ == 0)
			first_bad = rv;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(reads > 10);
	if (!CHECK(bad == 0))
		fprintf(stderr, "    %ld of %ld reads failed, the first with %s\n", bad, reads,
		        ch_test_rv_name(first_bad));
out:
	ch_t_env_free(&e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_an_object_changed_by_another_process_never_reads_torn),
	CH_T_CASE(test_object_created_by_another_process_is_seen_without_reinit),
	CH_T_CASE(test_registration_created_by_another_process_appears),
	CH_T_CASE(test_concurrent_writers_lose_nothing),
};

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "child") == 0)
		return child_main(argc, argv);
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
