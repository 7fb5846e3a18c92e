/*
 * PIN retry lockout (issue 3, item 4): consecutive wrong PINs are counted
 * per participant in the store, a right PIN resets the count, and at the
 * configured limit ([pin] max_failures) the participant gets CKR_PIN_LOCKED
 * -- even with the right PIN -- until an admin calls CH_ParticipantUnlock.
 * C_GetTokenInfo shows the default user's and the default SO's state in the
 * CKF_USER_PIN_* and CKF_SO_PIN_* flags; CH_ParticipantList shows everyone's.
 * One participant's lockout touches nobody else, and failures made by other
 * processes on the same store add up (this test re-runs itself as the
 * child: `test_lockout child JOB ...`, see child_main).
 */
#include "module.h"

#define PIN_ALICE "alice-pin-1"
#define PIN_BOB   "bob-pin-22"
#define PIN_ADM   "adm-pin-333"

#define MAX3 "[pin]\nmax_failures = 3\n"

#define USER_PIN_FLAGS (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED)
#define SO_PIN_FLAGS   (CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED)

typedef struct fixture {
	ch_t_env e;
	CK_SESSION_HANDLE h; /* R/W, nobody logged in after setup */
} fixture;

/* Token "t" (limit from extra, NULL: the default) with alice (user), bob
 * (user) and adm (admin). */
static bool setup(fixture *f, const char *extra)
{
	memset(f, 0, sizeof(*f));
	if (!ch_t_setup_with(&f->e, extra) || ch_t_vendor() == NULL)
		return false;
	REQUIRE_RV(ch_t_open(f->e.slot, true, &f->h), CKR_OK);
	REQUIRE_RV(ch_t_login(f->h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(ch_t_participant_add(f->h, "alice", CH_ROLE_USER, PIN_ALICE), CKR_OK);
	REQUIRE_RV(ch_t_participant_add(f->h, "bob", CH_ROLE_USER, PIN_BOB), CKR_OK);
	REQUIRE_RV(ch_t_participant_add(f->h, "adm", CH_ROLE_ADMIN, PIN_ADM), CKR_OK);
	REQUIRE_RV(P11->C_Logout(f->h), CKR_OK);
	return true;
out:
	return false;
}

/* Logs in and, when that worked, out again; the login's return value. */
static CK_RV try_login(CK_SESSION_HANDLE h, CK_USER_TYPE who, const char *name, const char *pin)
{
	CK_RV rv = ch_t_login_as(h, who, name, pin);

	if (rv == CKR_OK)
		(void)P11->C_Logout(h);
	return rv;
}

/* name's list entry as an admin sees it (logs adm in and out); failedLogins
 * is set to 9999 when it cannot be read. */
static CH_PARTICIPANT_INFO info_of(CK_SESSION_HANDLE h, const char *name)
{
	CH_PARTICIPANT_INFO p;
	CK_RV rv;

	memset(&p, 0, sizeof(p));
	p.failedLogins = 9999;
	if ((rv = ch_t_login_as(h, CKU_SO, "adm", PIN_ADM)) != CKR_OK) {
		fprintf(stderr, "\tadmin login for the list: %s\n", ch_test_rv_name(rv));
		return p;
	}
	if ((rv = ch_t_participant_get(h, name, &p)) != CKR_OK) {
		fprintf(stderr, "\tparticipant %s: %s\n", name, ch_test_rv_name(rv));
		p.failedLogins = 9999;
	}
	(void)P11->C_Logout(h);
	return p;
}

/* An admin (adm, or the SO when who is "so") unlocks name. */
static CK_RV unlock(CK_SESSION_HANDLE h, const char *admin, const char *admin_pin, const char *name)
{
	CK_RV rv = ch_t_login_as(h, CKU_SO, admin, admin_pin);

	if (rv != CKR_OK)
		return rv;
	rv = ch_t_vendor()->CH_ParticipantUnlock(h, (CK_UTF8CHAR_PTR)name, strlen(name));
	(void)P11->C_Logout(h);
	return rv;
}

static CK_FLAGS pin_flags(CK_SLOT_ID slot)
{
	return ch_t_token_flags(slot) & (USER_PIN_FLAGS | SO_PIN_FLAGS);
}

/* ---- single process ---- */

static void test_lockout_default_user_flags_then_locked_until_unlock(void)
{
	fixture f;
	CH_PARTICIPANT_INFO p;

	REQUIRE(setup(&f, MAX3));
	CHECK_UL(pin_flags(f.e.slot), 0);

	CHECK_RV(try_login(f.h, CKU_USER, NULL, "wrong-pin-1"), CKR_PIN_INCORRECT);
	CHECK_UL(pin_flags(f.e.slot), CKF_USER_PIN_COUNT_LOW);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, "wrong-pin-2"), CKR_PIN_INCORRECT);
	CHECK_UL(pin_flags(f.e.slot), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	p = info_of(f.h, "default");
	CHECK_UL(p.failedLogins, 2);
	CHECK_UL(p.locked, CK_FALSE);
	/* The third wrong PIN is the last one tried. */
	CHECK_RV2(try_login(f.h, CKU_USER, NULL, "wrong-pin-3"), CKR_PIN_INCORRECT, CKR_PIN_LOCKED);
	CHECK_UL(pin_flags(f.e.slot) & CKF_USER_PIN_LOCKED, CKF_USER_PIN_LOCKED);
	CHECK_UL(pin_flags(f.e.slot) & SO_PIN_FLAGS, 0);

	/* Locked: the right PIN, a wrong one, name:pin and C_SetPIN all say so. */
	CHECK_RV(try_login(f.h, CKU_USER, NULL, CH_T_USER_PIN), CKR_PIN_LOCKED);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, "wrong-pin-4"), CKR_PIN_LOCKED);
	CHECK_RV(try_login(f.h, CKU_USER, "default", CH_T_USER_PIN), CKR_PIN_LOCKED);
	CHECK_RV(P11->C_SetPIN(f.h, (CK_UTF8CHAR_PTR)CH_T_USER_PIN, strlen(CH_T_USER_PIN),
	                       (CK_UTF8CHAR_PTR) "new-user-pin", 12),
	         CKR_PIN_LOCKED);
	p = info_of(f.h, "default");
	CHECK_UL(p.locked, CK_TRUE);
	CHECK(p.failedLogins >= 3 && p.failedLogins != 9999);

	/* Still locked after C_Finalize: the count is in the store. */
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_open(f.e.slot, true, &f.h), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, CH_T_USER_PIN), CKR_PIN_LOCKED);
	CHECK_UL(pin_flags(f.e.slot) & CKF_USER_PIN_LOCKED, CKF_USER_PIN_LOCKED);

	/* Others are not locked out; the SO unlocks the default user. */
	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_OK);
	CHECK_RV(unlock(f.h, NULL, CH_T_SO_PIN, "default"), CKR_OK);
	CHECK_UL(pin_flags(f.e.slot), 0);
	p = info_of(f.h, "default");
	CHECK_UL(p.failedLogins, 0);
	CHECK_UL(p.locked, CK_FALSE);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, CH_T_USER_PIN), CKR_OK);
	/* The old PIN is still the PIN (C_SetPIN was refused). */
	CHECK_RV(try_login(f.h, CKU_USER, NULL, "new-user-pin"), CKR_PIN_INCORRECT);
out:
	ch_t_env_free(&f.e);
}

static void test_lockout_right_pin_resets_the_count(void)
{
	fixture f;
	CH_PARTICIPANT_INFO p;

	REQUIRE(setup(&f, MAX3));
	CHECK_RV(try_login(f.h, CKU_USER, NULL, "wrong-pin-1"), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, "wrong-pin-2"), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, CH_T_USER_PIN), CKR_OK);
	CHECK_UL(pin_flags(f.e.slot), 0);
	/* Two more wrong PINs do not lock: the count started again. */
	CHECK_RV(try_login(f.h, CKU_USER, NULL, "wrong-pin-3"), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, "wrong-pin-4"), CKR_PIN_INCORRECT);
	CHECK_UL(pin_flags(f.e.slot), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	p = info_of(f.h, "default");
	CHECK_UL(p.failedLogins, 2);
	CHECK_UL(p.locked, CK_FALSE);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, CH_T_USER_PIN), CKR_OK);

	/* The same for a named participant, and for name:pin logins. */
	CHECK_RV(ch_t_login(f.h, CKU_USER, "alice:wrong-1"), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", "wrong-2"), CKR_PIN_INCORRECT);
	p = info_of(f.h, "alice");
	CHECK_UL(p.failedLogins, 2);
	CHECK_RV(ch_t_login(f.h, CKU_USER, "alice:" PIN_ALICE), CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	p = info_of(f.h, "alice");
	CHECK_UL(p.failedLogins, 0);
out:
	ch_t_env_free(&f.e);
}

static void test_lockout_default_limit_is_ten(void)
{
	fixture f;
	char pin[32];

	REQUIRE(setup(&f, NULL));
	for (int i = 1; i <= 8; i++) {
		snprintf(pin, sizeof(pin), "wrong-pin-%d", i);
		CHECK_RV(try_login(f.h, CKU_USER, NULL, pin), CKR_PIN_INCORRECT);
	}
	CHECK_UL(pin_flags(f.e.slot), CKF_USER_PIN_COUNT_LOW);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, "wrong-pin-9"), CKR_PIN_INCORRECT);
	CHECK_UL(pin_flags(f.e.slot), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	CHECK_RV2(try_login(f.h, CKU_USER, NULL, "wrong-pin-10"), CKR_PIN_INCORRECT,
	          CKR_PIN_LOCKED);
	CHECK_UL(pin_flags(f.e.slot), CKF_USER_PIN_LOCKED);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, CH_T_USER_PIN), CKR_PIN_LOCKED);
out:
	ch_t_env_free(&f.e);
}

static void test_lockout_so_flags_and_named_admin_unlocks_so(void)
{
	fixture f;

	REQUIRE(setup(&f, MAX3));
	CHECK_RV(try_login(f.h, CKU_SO, NULL, "wrong-so-1"), CKR_PIN_INCORRECT);
	CHECK_UL(pin_flags(f.e.slot), CKF_SO_PIN_COUNT_LOW);
	CHECK_RV(try_login(f.h, CKU_SO, "so", "wrong-so-2"), CKR_PIN_INCORRECT);
	CHECK_UL(pin_flags(f.e.slot), CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY);
	CHECK_RV2(ch_t_login(f.h, CKU_SO, "so:wrong-so-3"), CKR_PIN_INCORRECT, CKR_PIN_LOCKED);
	CHECK_UL(pin_flags(f.e.slot), CKF_SO_PIN_LOCKED);
	CHECK_RV(try_login(f.h, CKU_SO, NULL, CH_T_SO_PIN), CKR_PIN_LOCKED);
	/* C_InitToken checks the SO PIN too: locked means locked. */
	{
		CK_UTF8CHAR lab[32];

		ch_t_pad(lab, sizeof(lab), CH_T_LABEL);
		CHECK_RV(P11->C_CloseSession(f.h), CKR_OK);
		f.h = CK_INVALID_HANDLE;
		CHECK_RV(P11->C_InitToken(f.e.slot, (CK_UTF8CHAR_PTR)CH_T_SO_PIN,
		                          strlen(CH_T_SO_PIN), lab),
		         CKR_PIN_LOCKED);
		REQUIRE_RV(ch_t_open(f.e.slot, true, &f.h), CKR_OK);
	}

	/* The user side and the other admin are untouched. */
	CHECK_RV(try_login(f.h, CKU_USER, NULL, CH_T_USER_PIN), CKR_OK);
	CHECK_RV(unlock(f.h, "adm", PIN_ADM, "so"), CKR_OK);
	CHECK_UL(pin_flags(f.e.slot), 0);
	CHECK_RV(try_login(f.h, CKU_SO, NULL, CH_T_SO_PIN), CKR_OK);
	/* The user objects survived (the refused C_InitToken erased nothing). */
	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_OK);
out:
	ch_t_env_free(&f.e);
}

static void test_lockout_of_one_participant_leaves_others_alone(void)
{
	fixture f;
	CH_PARTICIPANT_INFO p;

	REQUIRE(setup(&f, MAX3));
	CHECK_RV(try_login(f.h, CKU_USER, "alice", "wrong-1"), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", "wrong-2"), CKR_PIN_INCORRECT);
	/* Nobody else's count moved, and the token flags are the default
	 * participants': still clear. */
	CHECK_UL(pin_flags(f.e.slot), 0);
	CHECK_RV2(ch_t_login(f.h, CKU_USER, "alice:wrong-3"), CKR_PIN_INCORRECT, CKR_PIN_LOCKED);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_PIN_LOCKED);
	CHECK_RV(ch_t_login(f.h, CKU_USER, "alice:" PIN_ALICE), CKR_PIN_LOCKED);
	CHECK_UL(pin_flags(f.e.slot), 0);

	CHECK_RV(try_login(f.h, CKU_USER, "bob", PIN_BOB), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, CH_T_USER_PIN), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_SO, NULL, CH_T_SO_PIN), CKR_OK);
	p = info_of(f.h, "alice");
	CHECK_UL(p.locked, CK_TRUE);
	CHECK(p.failedLogins >= 3 && p.failedLogins != 9999);
	p = info_of(f.h, "bob");
	CHECK_UL(p.failedLogins, 0);
	CHECK_UL(p.locked, CK_FALSE);
	p = info_of(f.h, "default");
	CHECK_UL(p.failedLogins, 0);

	/* Only an admin unlocks. */
	REQUIRE_RV(ch_t_login_as(f.h, CKU_USER, "bob", PIN_BOB), CKR_OK);
	CHECK_RV(ch_t_vendor()->CH_ParticipantUnlock(f.h, (CK_UTF8CHAR_PTR) "alice", 5),
	         CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_PIN_LOCKED);
	CHECK_RV(unlock(f.h, "adm", PIN_ADM, "alice"), CKR_OK);
	/* Unlocking keeps the roles and the PIN. */
	p = info_of(f.h, "alice");
	CHECK_UL(p.failedLogins, 0);
	CHECK_UL(p.locked, CK_FALSE);
	CHECK_UL(p.roles, CH_ROLE_USER);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_OK);
out:
	ch_t_env_free(&f.e);
}

static void test_lockout_unknown_names_and_bad_types_count_nothing(void)
{
	fixture f;
	CH_PARTICIPANT_INFO list[8];
	CK_ULONG n = 0;

	REQUIRE(setup(&f, MAX3));
	for (int i = 0; i < 5; i++)
		CHECK_RV(try_login(f.h, CKU_USER, "mallory", "some-pin"), CKR_PIN_INCORRECT);
	/* Right PIN, wrong login type: not a PIN failure. */
	for (int i = 0; i < 5; i++)
		CHECK_RV(try_login(f.h, CKU_SO, "alice", PIN_ALICE), CKR_USER_TYPE_INVALID);
	CHECK_UL(pin_flags(f.e.slot), 0);
	REQUIRE_RV(ch_t_login_as(f.h, CKU_SO, "adm", PIN_ADM), CKR_OK);
	REQUIRE_RV(ch_t_participants(f.h, list, CH_T_ARRAY_LEN(list), &n), CKR_OK);
	CHECK_UL(n, 5);
	for (CK_ULONG i = 0; i < n; i++) {
		if (!CHECK_UL(list[i].failedLogins, 0))
			fprintf(stderr, "\tparticipant %.*s\n", (int)sizeof(list[i].name),
			        (const char *)list[i].name);
		CHECK_UL(list[i].locked, CK_FALSE);
	}
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_OK);
out:
	ch_t_env_free(&f.e);
}

static void test_lockout_wrong_old_pin_in_set_pin_counts(void)
{
	fixture f;
	CH_PARTICIPANT_INFO p;

	REQUIRE(setup(&f, MAX3));
	/* Nobody logged in: C_SetPIN is about the default user's PIN. */
	CHECK_RV(P11->C_SetPIN(f.h, (CK_UTF8CHAR_PTR) "wrong-old", 9, (CK_UTF8CHAR_PTR) "new-pin-1",
	                       9),
	         CKR_PIN_INCORRECT);
	CHECK_UL(pin_flags(f.e.slot), CKF_USER_PIN_COUNT_LOW);
	/* Logged in as alice: about alice's. */
	REQUIRE_RV(ch_t_login_as(f.h, CKU_USER, "alice", PIN_ALICE), CKR_OK);
	CHECK_RV(P11->C_SetPIN(f.h, (CK_UTF8CHAR_PTR) "wrong-old", 9, (CK_UTF8CHAR_PTR) "new-pin-1",
	                       9),
	         CKR_PIN_INCORRECT);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	p = info_of(f.h, "alice");
	CHECK_UL(p.failedLogins, 1);
	p = info_of(f.h, "default");
	CHECK_UL(p.failedLogins, 1);
out:
	ch_t_env_free(&f.e);
}

/* ---- across processes ---- */

/* Child jobs (argv after "child"):
 *   fail NAME COUNT        COUNT wrong logins as NAME ("-": the default
 *                          user), each must give CKR_PIN_INCORRECT
 *   login NAME PIN RV      one login as NAME with PIN must give RV (decimal)
 *   flags MASK             the token's PIN flags must be MASK (decimal)
 * Exit status 0 when every check passed. */
static int child_main(int argc, char **argv)
{
	const char *job = argv[2];
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_SLOT_ID slot;
	CK_RV rv;

	if (!ch_t_load())
		return 2;
	if (!CHECK_RV(ch_t_initialize(), CKR_OK))
		return ch_test_done();
	if (!CHECK_RV(ch_t_slot_by_label(CH_T_LABEL, &slot), CKR_OK) ||
	    !CHECK_RV(ch_t_open(slot, true, &h), CKR_OK))
		goto out;
	if (strcmp(job, "fail") == 0 && argc == 5) {
		const char *name = strcmp(argv[3], "-") == 0 ? NULL : argv[3];
		long count = strtol(argv[4], NULL, 10);
		char pin[64];

		for (long i = 0; i < count; i++) {
			snprintf(pin, sizeof(pin), "child-%ld-wrong-%ld", (long)getpid(), i);
			CHECK_RV(try_login(h, CKU_USER, name, pin), CKR_PIN_INCORRECT);
		}
	} else if (strcmp(job, "login") == 0 && argc == 6) {
		const char *name = strcmp(argv[3], "-") == 0 ? NULL : argv[3];

		CHECK_RV(try_login(h, CKU_USER, name, argv[4]), strtoul(argv[5], NULL, 10));
	} else if (strcmp(job, "flags") == 0 && argc == 4) {
		CHECK_UL(pin_flags(slot), strtoul(argv[3], NULL, 10));
	} else {
		CHECK(!"a known child job");
	}
out:
	rv = P11->C_Finalize(NULL);
	CHECK_RV(rv, CKR_OK);
	return ch_test_done();
}

/* Runs a child job to its end; its exit status, or -1. */
static int child(const char *job, const char *a, const char *b, const char *c)
{
	char *args[] = { "child", (char *)job, (char *)a, (char *)b, (char *)c, NULL };
	pid_t pid = ch_t_spawn_self(args);

	return pid < 0 ? -1 : ch_t_wait(pid);
}

static const char *rv_arg(CK_RV rv, char buf[24])
{
	snprintf(buf, 24, "%lu", (unsigned long)rv);
	return buf;
}

static void test_lockout_failures_in_two_processes_add_up(void)
{
	fixture f;
	char a[24], b[24];
	CH_PARTICIPANT_INFO p;

	REQUIRE(setup(&f, MAX3));
	/* One failure here, one in a child: two in all. */
	CHECK_RV(try_login(f.h, CKU_USER, NULL, "parent-wrong-1"), CKR_PIN_INCORRECT);
	CHECK_UL(child("fail", "-", "1", NULL), 0);
	CHECK_UL(pin_flags(f.e.slot), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	/* The child sees the same state. */
	CHECK_UL(child("flags", rv_arg(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY, a), NULL,
	               NULL),
	         0);
	/* The third failure, here, locks the default user for the child too. */
	CHECK_RV2(try_login(f.h, CKU_USER, NULL, "parent-wrong-2"), CKR_PIN_INCORRECT,
	          CKR_PIN_LOCKED);
	CHECK_UL(child("login", "-", CH_T_USER_PIN, rv_arg(CKR_PIN_LOCKED, b)), 0);
	CHECK_UL(child("flags", rv_arg(CKF_USER_PIN_LOCKED, a), NULL, NULL), 0);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, CH_T_USER_PIN), CKR_PIN_LOCKED);

	/* A named participant: two failures in a child, one here. */
	CHECK_UL(child("fail", "alice", "2", NULL), 0);
	p = info_of(f.h, "alice");
	CHECK_UL(p.failedLogins, 2);
	CHECK_UL(p.locked, CK_FALSE);
	CHECK_RV2(try_login(f.h, CKU_USER, "alice", "parent-wrong-3"), CKR_PIN_INCORRECT,
	          CKR_PIN_LOCKED);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_PIN_LOCKED);
	CHECK_UL(child("login", "alice", PIN_ALICE, rv_arg(CKR_PIN_LOCKED, b)), 0);
	/* bob, in the child, is not locked. */
	CHECK_UL(child("login", "bob", PIN_BOB, rv_arg(CKR_OK, b)), 0);

	/* An unlock here reaches the child. */
	CHECK_RV(unlock(f.h, "adm", PIN_ADM, "alice"), CKR_OK);
	CHECK_RV(unlock(f.h, NULL, CH_T_SO_PIN, "default"), CKR_OK);
	CHECK_UL(child("login", "alice", PIN_ALICE, rv_arg(CKR_OK, b)), 0);
	CHECK_UL(child("login", "-", CH_T_USER_PIN, rv_arg(CKR_OK, b)), 0);
	CHECK_UL(child("flags", "0", NULL, NULL), 0);
out:
	ch_t_env_free(&f.e);
}

static void test_lockout_concurrent_failures_lose_no_count(void)
{
	enum { CHILDREN = 3, EACH = 12, HERE = 5 };
	fixture f;
	pid_t pids[CHILDREN];
	char each[16];
	CH_PARTICIPANT_INFO p;

	snprintf(each, sizeof(each), "%d", EACH);
	/* A limit no one reaches: every failure must be counted. */
	REQUIRE(setup(&f, "[pin]\nmax_failures = 1000\n"));
	for (int i = 0; i < CHILDREN; i++) {
		char *args[] = { "child", "fail", "alice", each, NULL };

		pids[i] = ch_t_spawn_self(args);
		CHECK(pids[i] > 0);
	}
	for (int i = 0; i < HERE; i++)
		CHECK_RV(try_login(f.h, CKU_USER, "alice", "parent-wrong"), CKR_PIN_INCORRECT);
	for (int i = 0; i < CHILDREN; i++)
		if (pids[i] > 0)
			CHECK_UL(ch_t_wait(pids[i]), 0);
	p = info_of(f.h, "alice");
	CHECK_UL(p.failedLogins, CHILDREN * EACH + HERE);
	CHECK_UL(p.locked, CK_FALSE);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_OK);
	p = info_of(f.h, "alice");
	CHECK_UL(p.failedLogins, 0);
out:
	ch_t_env_free(&f.e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_lockout_default_user_flags_then_locked_until_unlock),
	CH_T_CASE(test_lockout_right_pin_resets_the_count),
	CH_T_CASE(test_lockout_default_limit_is_ten),
	CH_T_CASE(test_lockout_so_flags_and_named_admin_unlocks_so),
	CH_T_CASE(test_lockout_of_one_participant_leaves_others_alone),
	CH_T_CASE(test_lockout_unknown_names_and_bad_types_count_nothing),
	CH_T_CASE(test_lockout_wrong_old_pin_in_set_pin_counts),
	CH_T_CASE(test_lockout_failures_in_two_processes_add_up),
	CH_T_CASE(test_lockout_concurrent_failures_lose_no_count),
};

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "child") == 0)
		return child_main(argc, argv);
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
