/*
 * Named participants (issue 3, items 1 and 8), through the built module:
 * adding, listing, removing and re-roling them with the vendor interface,
 * logging in as one with C_LoginUser and with the 2.40 form "name:pin",
 * every participant keeping its own PIN (C_SetPIN, removal), and every bad
 * argument of the vendor calls refused with the documented code and no
 * change to the participant list.
 *
 * Run as `test_participants --setup-for-shell DIR`, it instead leaves a
 * store in DIR/store.db (token "t", the usual SO and user PINs, participant
 * alice with operator|user and PIN "alice-pin-1", carl with auditor and PIN
 * "carl-pin-22") for tests/integration/test_participant_login.sh, which has
 * no other way to add participants yet.
 */
#include "module.h"

#define PIN_ALICE "alice-pin-1"
#define PIN_BOB   "bob-pin-22"
#define PIN_ADM   "adm-pin-333"

typedef struct fixture {
	ch_t_env e;
	CK_SESSION_HANDLE h; /* R/W, nobody logged in after setup */
} fixture;

/* Token "t" with alice (operator|user), bob (auditor) and adm (admin), added
 * by the SO, who is logged out again. */
static bool setup(fixture *f)
{
	memset(f, 0, sizeof(*f));
	if (!ch_t_setup(&f->e) || ch_t_vendor() == NULL)
		return false;
	REQUIRE_RV(ch_t_open(f->e.slot, true, &f->h), CKR_OK);
	REQUIRE_RV(ch_t_login(f->h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(ch_t_participant_add(f->h, "alice", CH_ROLE_OPERATOR | CH_ROLE_USER, PIN_ALICE),
	           CKR_OK);
	REQUIRE_RV(ch_t_participant_add(f->h, "bob", CH_ROLE_AUDITOR, PIN_BOB), CKR_OK);
	REQUIRE_RV(ch_t_participant_add(f->h, "adm", CH_ROLE_ADMIN, PIN_ADM), CKR_OK);
	REQUIRE_RV(P11->C_Logout(f->h), CKR_OK);
	return true;
out:
	return false;
}

static CK_STATE state_of(CK_SESSION_HANDLE h)
{
	CK_SESSION_INFO si;

	if (P11->C_GetSessionInfo(h, &si) != CKR_OK)
		return CK_UNAVAILABLE_INFORMATION;
	return si.state;
}

/* C_Login with the 2.40 form "name:pin". */
static CK_RV login_colon(CK_SESSION_HANDLE h, CK_USER_TYPE who, const char *name, const char *pin)
{
	char both[400];

	snprintf(both, sizeof(both), "%s:%s", name, pin);
	return ch_t_login(h, who, both);
}

/* Logs in as name with pin and out again; the login's return value. */
static CK_RV try_login(CK_SESSION_HANDLE h, CK_USER_TYPE who, const char *name, const char *pin)
{
	CK_RV rv = ch_t_login_as(h, who, name, pin);

	if (rv == CKR_OK)
		(void)P11->C_Logout(h);
	return rv;
}

/* The participant list as the SO sees it, for before/after comparisons. */
typedef struct snapshot {
	CH_PARTICIPANT_INFO list[16];
	CK_ULONG n;
	CK_RV rv;
} snapshot;

static void snap(CK_SESSION_HANDLE h, snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->rv = ch_t_participants(h, s->list, CH_T_ARRAY_LEN(s->list), &s->n);
}

static bool snap_equal(const snapshot *a, const snapshot *b)
{
	return a->rv == CKR_OK && b->rv == CKR_OK && a->n == b->n &&
	       memcmp(a->list, b->list, a->n * sizeof(a->list[0])) == 0;
}

/* ---- listing and adding ---- */

static void test_participants_listed_with_roles_and_counts(void)
{
	fixture f;
	CH_PARTICIPANT_INFO list[8], one;
	CK_ULONG n = 0;
	static const struct {
		const char *name;
		CK_FLAGS roles;
	} want[] = {
		{ "so", CH_ROLE_ADMIN },
		{ "default", CH_ROLE_OPERATOR | CH_ROLE_USER },
		{ "alice", CH_ROLE_OPERATOR | CH_ROLE_USER },
		{ "bob", CH_ROLE_AUDITOR },
		{ "adm", CH_ROLE_ADMIN },
	};

	REQUIRE(setup(&f));
	REQUIRE_RV(ch_t_login(f.h, CKU_SO, CH_T_SO_PIN), CKR_OK);

	/* Two-call convention: the count first, then a short buffer. */
	CHECK_RV(ch_t_vendor()->CH_ParticipantList(f.h, NULL, &n), CKR_OK);
	CHECK_UL(n, CH_T_ARRAY_LEN(want));
	n = 2;
	CHECK_RV(ch_t_vendor()->CH_ParticipantList(f.h, list, &n), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(n, CH_T_ARRAY_LEN(want));
	CHECK_RV(ch_t_vendor()->CH_ParticipantList(f.h, list, NULL), CKR_ARGUMENTS_BAD);

	REQUIRE_RV(ch_t_participants(f.h, list, CH_T_ARRAY_LEN(list), &n), CKR_OK);
	CHECK_UL(n, CH_T_ARRAY_LEN(want));
	for (size_t i = 0; i < CH_T_ARRAY_LEN(want); i++) {
		if (!CHECK_RV(ch_t_participant_get(f.h, want[i].name, &one), CKR_OK)) {
			fprintf(stderr, "\tparticipant %s is not listed\n", want[i].name);
			continue;
		}
		CHECK_UL(one.roles, want[i].roles);
		CHECK_UL(one.failedLogins, 0);
		CHECK_UL(one.locked, CK_FALSE);
	}
out:
	ch_t_env_free(&f.e);
}

static void test_participant_logs_in_with_login_user_and_name_colon_pin(void)
{
	fixture f;
	CK_SESSION_HANDLE ro = CK_INVALID_HANDLE;

	REQUIRE(setup(&f));
	REQUIRE_RV(ch_t_open(f.e.slot, false, &ro), CKR_OK);

	CHECK_RV(ch_t_login_as(f.h, CKU_USER, "alice", PIN_ALICE), CKR_OK);
	CHECK_UL(state_of(f.h), CKS_RW_USER_FUNCTIONS);
	CHECK_UL(state_of(ro), CKS_RO_USER_FUNCTIONS);
	CHECK_RV(ch_t_login_as(f.h, CKU_USER, "alice", PIN_ALICE), CKR_USER_ALREADY_LOGGED_IN);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);

	CHECK_RV(login_colon(ro, CKU_USER, "alice", PIN_ALICE), CKR_OK);
	CHECK_UL(state_of(ro), CKS_RO_USER_FUNCTIONS);
	CHECK_RV(P11->C_Logout(ro), CKR_OK);

	/* The auditor logs in as a user too. */
	CHECK_RV(try_login(f.h, CKU_USER, "bob", PIN_BOB), CKR_OK);
	CHECK_RV(login_colon(f.h, CKU_USER, "bob", PIN_BOB), CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);

	/* A bare PIN is the default participant; "default" names it too. */
	CHECK_RV(try_login(f.h, CKU_USER, NULL, CH_T_USER_PIN), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "default", CH_T_USER_PIN), CKR_OK);
	CHECK_RV(login_colon(f.h, CKU_USER, "default", CH_T_USER_PIN), CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);

	/* A named admin logs in as the SO (no read-only session may exist). */
	CHECK_RV(P11->C_CloseSession(ro), CKR_OK);
	ro = CK_INVALID_HANDLE;
	CHECK_RV(ch_t_login_as(f.h, CKU_SO, "adm", PIN_ADM), CKR_OK);
	CHECK_UL(state_of(f.h), CKS_RW_SO_FUNCTIONS);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	CHECK_RV(login_colon(f.h, CKU_SO, "adm", PIN_ADM), CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_SO, "so", CH_T_SO_PIN), CKR_OK);
	CHECK_RV(login_colon(f.h, CKU_SO, "so", CH_T_SO_PIN), CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
out:
	ch_t_env_free(&f.e);
}

static void test_participant_wrong_or_unknown_login_refused(void)
{
	fixture f;

	REQUIRE(setup(&f));
	/* Another participant's PIN is a wrong PIN. */
	CHECK_RV(ch_t_login_as(f.h, CKU_USER, "alice", PIN_BOB), CKR_PIN_INCORRECT);
	CHECK_RV(ch_t_login_as(f.h, CKU_USER, "alice", CH_T_USER_PIN), CKR_PIN_INCORRECT);
	CHECK_RV(login_colon(f.h, CKU_USER, "alice", "nope"), CKR_PIN_INCORRECT);
	/* A prefix of the right PIN is wrong. */
	CHECK_RV(P11->C_LoginUser(f.h, CKU_USER, (CK_UTF8CHAR_PTR)PIN_ALICE, strlen(PIN_ALICE) - 1,
	                          (CK_UTF8CHAR_PTR) "alice", 5),
	         CKR_PIN_INCORRECT);
	/* Unknown names look like wrong PINs. */
	CHECK_RV(ch_t_login_as(f.h, CKU_USER, "mallory", PIN_ALICE), CKR_PIN_INCORRECT);
	CHECK_RV(login_colon(f.h, CKU_USER, "mallory", PIN_ALICE), CKR_PIN_INCORRECT);
	CHECK_RV(ch_t_login_as(f.h, CKU_SO, "mallory", CH_T_SO_PIN), CKR_PIN_INCORRECT);
	/* Names differ by case. */
	CHECK_RV(ch_t_login_as(f.h, CKU_USER, "Alice", PIN_ALICE), CKR_PIN_INCORRECT);
	/* A name the module could never store. */
	CHECK_RV2(ch_t_login_as(f.h, CKU_USER, "bad name", PIN_ALICE), CKR_ARGUMENTS_BAD,
	          CKR_PIN_INCORRECT);
	/* "name:pin" with a malformed name is a bare (wrong) PIN of the default user. */
	CHECK_RV(login_colon(f.h, CKU_USER, "-alice", PIN_ALICE), CKR_PIN_INCORRECT);
	CHECK_UL(state_of(f.h), CKS_RW_PUBLIC_SESSION);
out:
	ch_t_env_free(&f.e);
}

static void test_participant_roles_decide_login_type_after_pin(void)
{
	fixture f;

	REQUIRE(setup(&f));
	/* The PIN is checked first: a wrong one says only that. */
	CHECK_RV(ch_t_login_as(f.h, CKU_SO, "alice", "wrong-pin"), CKR_PIN_INCORRECT);
	CHECK_RV(ch_t_login_as(f.h, CKU_USER, "adm", "wrong-pin"), CKR_PIN_INCORRECT);
	/* The right PIN with a login type the roles do not allow. */
	CHECK_RV(ch_t_login_as(f.h, CKU_SO, "alice", PIN_ALICE), CKR_USER_TYPE_INVALID);
	CHECK_RV(ch_t_login_as(f.h, CKU_SO, "bob", PIN_BOB), CKR_USER_TYPE_INVALID);
	CHECK_RV(ch_t_login_as(f.h, CKU_USER, "adm", PIN_ADM), CKR_USER_TYPE_INVALID);
	CHECK_RV(login_colon(f.h, CKU_USER, "adm", PIN_ADM), CKR_USER_TYPE_INVALID);
	CHECK_RV(ch_t_login_as(f.h, CKU_USER, "so", CH_T_SO_PIN), CKR_USER_TYPE_INVALID);
	CHECK_RV(ch_t_login_as(f.h, CKU_SO, "default", CH_T_USER_PIN), CKR_USER_TYPE_INVALID);
	CHECK_UL(state_of(f.h), CKS_RW_PUBLIC_SESSION);
	/* Refused logins left nothing behind: the right ones work. */
	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_SO, "adm", PIN_ADM), CKR_OK);
out:
	ch_t_env_free(&f.e);
}

/* ---- management needs an admin ---- */

static void test_participant_management_needs_admin(void)
{
	fixture f;
	CK_SESSION_HANDLE ro = CK_INVALID_HANDLE;
	CH_FUNCTION_LIST_PTR v;
	CH_PARTICIPANT_INFO list[8];
	CK_ULONG n;
	snapshot before, after;

	REQUIRE(setup(&f));
	v = ch_t_vendor();
	REQUIRE_RV(ch_t_open(f.e.slot, false, &ro), CKR_OK);

	/* Nobody logged in. */
	CHECK_RV(ch_t_participant_add(f.h, "zoe", CH_ROLE_USER, "zoe-pin"), CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(ch_t_participants(f.h, list, 8, &n), CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(v->CH_ParticipantRemove(f.h, (CK_UTF8CHAR_PTR) "bob", 3), CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(v->CH_ParticipantSetRoles(f.h, (CK_UTF8CHAR_PTR) "bob", 3, CH_ROLE_USER),
	         CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(v->CH_ParticipantUnlock(f.h, (CK_UTF8CHAR_PTR) "bob", 3), CKR_USER_NOT_LOGGED_IN);

	/* An operator|user is no admin, in either session. */
	REQUIRE_RV(ch_t_login_as(ro, CKU_USER, "alice", PIN_ALICE), CKR_OK);
	CHECK_RV(ch_t_participant_add(f.h, "zoe", CH_ROLE_USER, "zoe-pin"), CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(ch_t_participant_add(ro, "zoe", CH_ROLE_USER, "zoe-pin"), CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(ch_t_participants(ro, list, 8, &n), CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(v->CH_ParticipantRemove(f.h, (CK_UTF8CHAR_PTR) "bob", 3), CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(v->CH_ParticipantSetRoles(f.h, (CK_UTF8CHAR_PTR) "alice", 5, CH_ROLES_ALL),
	         CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(v->CH_ParticipantUnlock(f.h, (CK_UTF8CHAR_PTR) "alice", 5),
	         CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(P11->C_Logout(ro), CKR_OK);

	/* The default user neither. */
	REQUIRE_RV(ch_t_login_user(f.h), CKR_OK);
	CHECK_RV(ch_t_participant_add(f.h, "zoe", CH_ROLE_USER, "zoe-pin"), CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(ch_t_participants(f.h, list, 8, &n), CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);

	/* The auditor may list (also read-only), and nothing else. */
	REQUIRE_RV(ch_t_login_as(ro, CKU_USER, "bob", PIN_BOB), CKR_OK);
	CHECK_RV(ch_t_participants(ro, list, 8, &n), CKR_OK);
	CHECK_UL(n, 5);
	CHECK_RV(ch_t_participants(f.h, list, 8, &n), CKR_OK);
	CHECK_RV(ch_t_participant_add(f.h, "zoe", CH_ROLE_USER, "zoe-pin"), CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(v->CH_ParticipantRemove(f.h, (CK_UTF8CHAR_PTR) "alice", 5),
	         CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(v->CH_ParticipantSetRoles(f.h, (CK_UTF8CHAR_PTR) "bob", 3, CH_ROLES_ALL),
	         CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(v->CH_ParticipantUnlock(f.h, (CK_UTF8CHAR_PTR) "bob", 3), CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(P11->C_Logout(ro), CKR_OK);

	/* A closed or never-opened session. */
	CHECK_RV(ch_t_participant_add(0xdead, "zoe", CH_ROLE_USER, "zoe-pin"),
	         CKR_SESSION_HANDLE_INVALID);

	/* None of it changed anything: the SO sees the five participants. */
	CHECK_RV(P11->C_CloseSession(ro), CKR_OK);
	ro = CK_INVALID_HANDLE;
	REQUIRE_RV(ch_t_login(f.h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	snap(f.h, &before);
	CHECK_RV(before.rv, CKR_OK);
	CHECK_UL(before.n, 5);
	CHECK_RV(ch_t_participant_get(f.h, "zoe", &list[0]), CKR_ARGUMENTS_BAD);
	CHECK_RV(try_login(f.h, CKU_USER, "zoe", "zoe-pin"), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "zoe", "zoe-pin"), CKR_PIN_INCORRECT);

	/* A named admin manages participants like the SO. */
	REQUIRE_RV(ch_t_login_as(f.h, CKU_SO, "adm", PIN_ADM), CKR_OK);
	CHECK_RV(ch_t_participant_add(f.h, "zoe", CH_ROLE_USER, "zoe-pin"), CKR_OK);
	snap(f.h, &after);
	CHECK_UL(after.n, 6);
	CHECK_RV(v->CH_ParticipantRemove(f.h, (CK_UTF8CHAR_PTR) "zoe", 3), CKR_OK);
	snap(f.h, &after);
	CHECK(snap_equal(&before, &after));
out:
	ch_t_env_free(&f.e);
}

/* ---- bad input ---- */

/* One refused vendor call: what it is, and its expected code. */
typedef enum bad_op { OP_ADD, OP_REMOVE, OP_SET_ROLES, OP_UNLOCK } bad_op;

typedef struct bad_case {
	const char *what;
	bad_op op;
	const char *name; /* NULL: a NULL pointer */
	CK_ULONG name_len;
	CK_FLAGS roles;
	const char *pin; /* NULL: a NULL pointer */
	CK_ULONG pin_len;
	CK_RV want;
} bad_case;

#define LEN(s) (sizeof(s) - 1)
#define NAME33 "abcdefghijklmnopqrstuvwxyz0123456"
#define PIN256                                                                                     \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"                         \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"                         \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"                         \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const bad_case bad_cases[] = {
	/* add: names */
	{ "add, empty name", OP_ADD, "", 0, CH_ROLE_USER, "zoe-pin", 7, CKR_ARGUMENTS_BAD },
	{ "add, NULL name", OP_ADD, NULL, 3, CH_ROLE_USER, "zoe-pin", 7, CKR_ARGUMENTS_BAD },
	{ "add, 33-byte name", OP_ADD, NAME33, LEN(NAME33), CH_ROLE_USER, "zoe-pin", 7,
	  CKR_ARGUMENTS_BAD },
	{ "add, name starting with '-'", OP_ADD, "-zoe", 4, CH_ROLE_USER, "zoe-pin", 7,
	  CKR_ARGUMENTS_BAD },
	{ "add, name starting with '.'", OP_ADD, ".zoe", 4, CH_ROLE_USER, "zoe-pin", 7,
	  CKR_ARGUMENTS_BAD },
	{ "add, name starting with '_'", OP_ADD, "_zoe", 4, CH_ROLE_USER, "zoe-pin", 7,
	  CKR_ARGUMENTS_BAD },
	{ "add, name with a space", OP_ADD, "zo e", 4, CH_ROLE_USER, "zoe-pin", 7,
	  CKR_ARGUMENTS_BAD },
	{ "add, name with a colon", OP_ADD, "zo:e", 4, CH_ROLE_USER, "zoe-pin", 7,
	  CKR_ARGUMENTS_BAD },
	{ "add, name with a slash", OP_ADD, "zo/e", 4, CH_ROLE_USER, "zoe-pin", 7,
	  CKR_ARGUMENTS_BAD },
	{ "add, name with a NUL inside", OP_ADD, "zo\0e", 4, CH_ROLE_USER, "zoe-pin", 7,
	  CKR_ARGUMENTS_BAD },
	{ "add, name with UTF-8 (e acute)", OP_ADD, "zo\xc3\xa9", 4, CH_ROLE_USER, "zoe-pin", 7,
	  CKR_ARGUMENTS_BAD },
	{ "add, reserved name so", OP_ADD, "so", 2, CH_ROLE_USER, "zoe-pin", 7, CKR_ARGUMENTS_BAD },
	{ "add, reserved name default", OP_ADD, "default", 7, CH_ROLE_USER, "zoe-pin", 7,
	  CKR_ARGUMENTS_BAD },
	/* add: roles */
	{ "add, no role", OP_ADD, "zoe", 3, 0, "zoe-pin", 7, CKR_ARGUMENTS_BAD },
	{ "add, unknown role bit 0x10", OP_ADD, "zoe", 3, 0x10, "zoe-pin", 7, CKR_ARGUMENTS_BAD },
	{ "add, known and unknown role bits", OP_ADD, "zoe", 3, CH_ROLE_USER | 0x100, "zoe-pin", 7,
	  CKR_ARGUMENTS_BAD },
	/* add: PINs */
	{ "add, 3-byte PIN", OP_ADD, "zoe", 3, CH_ROLE_USER, "zoe", 3, CKR_PIN_LEN_RANGE },
	{ "add, empty PIN", OP_ADD, "zoe", 3, CH_ROLE_USER, "", 0, CKR_PIN_LEN_RANGE },
	{ "add, 256-byte PIN", OP_ADD, "zoe", 3, CH_ROLE_USER, PIN256, LEN(PIN256),
	  CKR_PIN_LEN_RANGE },
	{ "add, NULL PIN", OP_ADD, "zoe", 3, CH_ROLE_USER, NULL, 7, CKR_ARGUMENTS_BAD },
	/* add: existing names (with another PIN and roles) */
	{ "add, existing alice", OP_ADD, "alice", 5, CH_ROLE_ADMIN, "other-pin", 9,
	  CKR_ACTION_PROHIBITED },
	{ "add, existing adm", OP_ADD, "adm", 3, CH_ROLE_USER, "other-pin", 9,
	  CKR_ACTION_PROHIBITED },
	/* remove */
	{ "remove, unknown name", OP_REMOVE, "zoe", 3, 0, NULL, 0, CKR_ARGUMENTS_BAD },
	{ "remove, malformed name", OP_REMOVE, "a b", 3, 0, NULL, 0, CKR_ARGUMENTS_BAD },
	{ "remove, empty name", OP_REMOVE, "", 0, 0, NULL, 0, CKR_ARGUMENTS_BAD },
	{ "remove, NULL name", OP_REMOVE, NULL, 5, 0, NULL, 0, CKR_ARGUMENTS_BAD },
	{ "remove, so", OP_REMOVE, "so", 2, 0, NULL, 0, CKR_ACTION_PROHIBITED },
	{ "remove, default", OP_REMOVE, "default", 7, 0, NULL, 0, CKR_ACTION_PROHIBITED },
	{ "remove, name differing by case", OP_REMOVE, "ALICE", 5, 0, NULL, 0, CKR_ARGUMENTS_BAD },
	/* set roles */
	{ "set-roles, so", OP_SET_ROLES, "so", 2, CH_ROLE_USER, NULL, 0, CKR_ACTION_PROHIBITED },
	{ "set-roles, so keeping admin", OP_SET_ROLES, "so", 2, CH_ROLES_ALL, NULL, 0,
	  CKR_ACTION_PROHIBITED },
	{ "set-roles, default to admin", OP_SET_ROLES, "default", 7, CH_ROLE_ADMIN, NULL, 0,
	  CKR_ACTION_PROHIBITED },
	{ "set-roles, default to admin|user", OP_SET_ROLES, "default", 7,
	  CH_ROLE_ADMIN | CH_ROLE_USER, NULL, 0, CKR_ACTION_PROHIBITED },
	{ "set-roles, no role", OP_SET_ROLES, "alice", 5, 0, NULL, 0, CKR_ARGUMENTS_BAD },
	{ "set-roles, unknown bit", OP_SET_ROLES, "alice", 5, CH_ROLE_USER | 0x20, NULL, 0,
	  CKR_ARGUMENTS_BAD },
	{ "set-roles, unknown name", OP_SET_ROLES, "zoe", 3, CH_ROLE_USER, NULL, 0,
	  CKR_ARGUMENTS_BAD },
	{ "set-roles, malformed name", OP_SET_ROLES, "al ice", 6, CH_ROLE_USER, NULL, 0,
	  CKR_ARGUMENTS_BAD },
	/* unlock */
	{ "unlock, unknown name", OP_UNLOCK, "zoe", 3, 0, NULL, 0, CKR_ARGUMENTS_BAD },
	{ "unlock, malformed name", OP_UNLOCK, "zoe!", 4, 0, NULL, 0, CKR_ARGUMENTS_BAD },
	{ "unlock, 33-byte name", OP_UNLOCK, NAME33, LEN(NAME33), 0, NULL, 0, CKR_ARGUMENTS_BAD },
};

static CK_RV run_bad(CK_SESSION_HANDLE h, const bad_case *c)
{
	CH_FUNCTION_LIST_PTR v = ch_t_vendor();
	CK_UTF8CHAR_PTR name = (CK_UTF8CHAR_PTR)c->name;

	switch (c->op) {
	case OP_ADD:
		return v->CH_ParticipantAdd(h, name, c->name_len, c->roles, (CK_UTF8CHAR_PTR)c->pin,
		                            c->pin_len);
	case OP_REMOVE:
		return v->CH_ParticipantRemove(h, name, c->name_len);
	case OP_SET_ROLES:
		return v->CH_ParticipantSetRoles(h, name, c->name_len, c->roles);
	case OP_UNLOCK:
		return v->CH_ParticipantUnlock(h, name, c->name_len);
	}
	return CKR_GENERAL_ERROR;
}

static void test_participant_bad_input_refused_and_changes_nothing(void)
{
	fixture f;
	snapshot before, after;

	REQUIRE(setup(&f));
	REQUIRE_RV(ch_t_login(f.h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	snap(f.h, &before);
	REQUIRE_RV(before.rv, CKR_OK);
	for (size_t i = 0; i < CH_T_ARRAY_LEN(bad_cases); i++) {
		const bad_case *c = &bad_cases[i];
		CK_RV rv = run_bad(f.h, c);

		if (!CHECK_UL(rv, c->want))
			fprintf(stderr, "\tcase \"%s\": expected %s, got %s\n", c->what,
			        ch_test_rv_name(c->want), ch_test_rv_name(rv));
		snap(f.h, &after);
		if (!CHECK(snap_equal(&before, &after)))
			fprintf(stderr, "\tcase \"%s\" changed the participant list\n", c->what);
	}
	/* The refused duplicates kept the old PINs and roles. */
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_SO, "alice", "other-pin"), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(f.h, CKU_SO, "adm", PIN_ADM), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "adm", "other-pin"), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(f.h, CKU_SO, NULL, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, CH_T_USER_PIN), CKR_OK);
out:
	ch_t_env_free(&f.e);
}

static void test_participant_name_and_pin_limits_accepted(void)
{
	static const char name32[] = "abcdefghijklmnopqrstuvwxyz012345";
	static const char *const names[] = { "a", "7", "Zed", "a.b_c-d", "x-", "0.0", name32 };
	char pin255[256];
	fixture f;
	snapshot after;

	memset(pin255, 'p', 255);
	pin255[255] = '\0';
	REQUIRE(setup(&f));
	REQUIRE_RV(ch_t_login(f.h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	for (size_t i = 0; i < CH_T_ARRAY_LEN(names); i++)
		if (!CHECK_RV(ch_t_participant_add(f.h, names[i], CH_ROLE_USER, "pin4"), CKR_OK))
			fprintf(stderr, "\tname \"%s\"\n", names[i]);
	CHECK_RV(ch_t_participant_add(f.h, "long-pin", CH_ROLE_USER, pin255), CKR_OK);
	/* Names are case-sensitive: "Alice" is not "alice". */
	CHECK_RV(ch_t_participant_add(f.h, "Alice", CH_ROLE_AUDITOR, "pin-of-Alice"), CKR_OK);
	snap(f.h, &after);
	CHECK_UL(after.n, 5 + CH_T_ARRAY_LEN(names) + 2);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);

	for (size_t i = 0; i < CH_T_ARRAY_LEN(names); i++) {
		if (!CHECK_RV(try_login(f.h, CKU_USER, names[i], "pin4"), CKR_OK))
			fprintf(stderr, "\tname \"%s\" (C_LoginUser)\n", names[i]);
		if (!CHECK_RV(login_colon(f.h, CKU_USER, names[i], "pin4"), CKR_OK))
			fprintf(stderr, "\tname \"%s\" (name:pin)\n", names[i]);
		(void)P11->C_Logout(f.h);
	}
	CHECK_RV(try_login(f.h, CKU_USER, "long-pin", pin255), CKR_OK);
	CHECK_RV(login_colon(f.h, CKU_USER, "long-pin", pin255), CKR_OK);
	(void)P11->C_Logout(f.h);
	CHECK_RV(try_login(f.h, CKU_USER, "Alice", "pin-of-Alice"), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", "pin-of-Alice"), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(f.h, CKU_USER, "Alice", PIN_ALICE), CKR_PIN_INCORRECT);
out:
	ch_t_env_free(&f.e);
}

/*
 * PINs as real clients send them (issue 5): longer than 32 bytes, with
 * spaces, UTF-8 letters, a byte that is not UTF-8 at all (Latin-1 "e acute",
 * as a terminal in a Latin-1 locale types it) and a colon after a word that
 * is no participant name, for the SO (C_InitToken, C_SetPIN), the default
 * user (C_InitPIN, C_Login, C_SetPIN) and a participant (CH_ParticipantAdd,
 * C_LoginUser, "name:pin").  The bytes are the PIN: one byte changed, one
 * dropped or one added is a wrong PIN.
 */
static void test_long_pins_with_spaces_and_non_ascii_bytes(void)
{
	/* 41 bytes; "pass phrase" has a space, so it is not a name. */
	static const char user_pin[] = "pass phrase: caf\xc3\xa9 cr\xc3\xa8me, Gr\xc3\xbc\xc3\x9f"
	                               "e \xe2\x9c\x93 42";
	/* 36 bytes with a lone 0xe9 (not UTF-8) and trailing space. */
	static const char user_pin2[] = "second  pin with caf\xe9 and a tab\tend ";
	static const char so_pin[] = "the SO's own long pass phrase \xc2\xa7 12345";
	static const char alice_pin[] = "\xc3\x9cn\xc3\xaf"
	                                "c\xc3\xb8"
	                                "d\xc3\xa9 pass phrase : 2026 !!!";
	char wrong[128], both[160];
	CK_UTF8CHAR label[32];
	CK_SLOT_ID free_slot, slot;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	fixture f;

	CHECK(strlen(user_pin) > 32 && strlen(user_pin2) > 32 && strlen(so_pin) > 32 &&
	      strlen(alice_pin) > 32);
	REQUIRE(setup(&f));

	/* A registration whose SO PIN is long: C_InitToken, then C_InitPIN. */
	ch_t_pad(label, sizeof(label), "long-pins");
	REQUIRE_RV(ch_t_free_slot(&free_slot), CKR_OK);
	REQUIRE_RV(P11->C_InitToken(free_slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), label),
	           CKR_OK);
	REQUIRE_RV(ch_t_slot_by_label("long-pins", &slot), CKR_OK);
	REQUIRE_RV(ch_t_open(slot, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, so_pin), CKR_OK);
	CHECK_RV(P11->C_InitPIN(h, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin)), CKR_OK);
	CHECK_RV(ch_t_participant_add(h, "alice", CH_ROLE_OPERATOR | CH_ROLE_USER, alice_pin),
	         CKR_OK);
	CHECK_RV(P11->C_Logout(h), CKR_OK);

	/* The default user, with the whole string; the colon does not split it. */
	CHECK_RV(try_login(h, CKU_USER, NULL, user_pin), CKR_OK);
	CHECK_RV(try_login(h, CKU_USER, "default", user_pin), CKR_OK);
	CHECK_RV(login_colon(h, CKU_USER, "default", user_pin), CKR_OK);
	(void)P11->C_Logout(h);
	/* One UTF-8 byte changed (e acute to e grave), the last byte dropped,
	 * a space added. */
	snprintf(wrong, sizeof(wrong), "%s", user_pin);
	wrong[17] = (char)0xa8;
	CHECK_RV(try_login(h, CKU_USER, NULL, wrong), CKR_PIN_INCORRECT);
	snprintf(wrong, sizeof(wrong), "%.*s", (int)strlen(user_pin) - 1, user_pin);
	CHECK_RV(try_login(h, CKU_USER, NULL, wrong), CKR_PIN_INCORRECT);
	snprintf(wrong, sizeof(wrong), "%s ", user_pin);
	CHECK_RV(try_login(h, CKU_USER, NULL, wrong), CKR_PIN_INCORRECT);

	/* C_SetPIN from one such PIN to another, bytes that are not UTF-8 included. */
	REQUIRE_RV(ch_t_login(h, CKU_USER, user_pin), CKR_OK);
	CHECK_RV(P11->C_SetPIN(h, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin),
	                       (CK_UTF8CHAR_PTR)user_pin2, strlen(user_pin2)),
	         CKR_OK);
	CHECK_RV(P11->C_Logout(h), CKR_OK);
	CHECK_RV(try_login(h, CKU_USER, NULL, user_pin), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(h, CKU_USER, NULL, user_pin2), CKR_OK);

	/* The participant, both ways; her PIN's own colon stays in the PIN. */
	CHECK_RV(try_login(h, CKU_USER, "alice", alice_pin), CKR_OK);
	CHECK_RV(login_colon(h, CKU_USER, "alice", alice_pin), CKR_OK);
	(void)P11->C_Logout(h);
	snprintf(both, sizeof(both), "alice:%.*s", (int)strlen(alice_pin) - 1, alice_pin);
	CHECK_RV(ch_t_login(h, CKU_USER, both), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(h, CKU_USER, NULL, alice_pin), CKR_PIN_INCORRECT);

	/* The SO changes its long PIN and logs in with the new one. */
	REQUIRE_RV(ch_t_login(h, CKU_SO, so_pin), CKR_OK);
	CHECK_RV(P11->C_SetPIN(h, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin),
	                       (CK_UTF8CHAR_PTR)user_pin2, strlen(user_pin2)),
	         CKR_OK);
	CHECK_RV(P11->C_Logout(h), CKR_OK);
	CHECK_RV(try_login(h, CKU_SO, NULL, so_pin), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(h, CKU_SO, NULL, user_pin2), CKR_OK);
out:
	if (h != CK_INVALID_HANDLE)
		(void)P11->C_CloseSession(h);
	ch_t_env_free(&f.e);
}

static void test_participant_pin_may_contain_colons(void)
{
	fixture f;

	REQUIRE(setup(&f));
	REQUIRE_RV(ch_t_login(f.h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(ch_t_participant_add(f.h, "carol", CH_ROLE_USER, "c:ol:on"), CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	/* "name:pin" splits at the first colon only. */
	CHECK_RV(ch_t_login(f.h, CKU_USER, "carol:c:ol:on"), CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "carol", "c:ol:on"), CKR_OK);
	CHECK_RV(ch_t_login(f.h, CKU_USER, "carol:c:ol"), CKR_PIN_INCORRECT);
out:
	ch_t_env_free(&f.e);
}

/* ---- removal, roles and PINs stay per participant ---- */

static void test_participant_removal_touches_nobody_else(void)
{
	fixture f;
	CK_OBJECT_HANDLE key;
	snapshot after;
	CH_PARTICIPANT_INFO one;

	REQUIRE(setup(&f));
	/* alice made a token key before she is removed. */
	REQUIRE_RV(ch_t_login_as(f.h, CKU_USER, "alice", PIN_ALICE), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(f.h, true, "alice-key", &key), CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);

	REQUIRE_RV(ch_t_login(f.h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(ch_t_vendor()->CH_ParticipantRemove(f.h, (CK_UTF8CHAR_PTR) "alice", 5), CKR_OK);
	CHECK_RV(ch_t_vendor()->CH_ParticipantRemove(f.h, (CK_UTF8CHAR_PTR) "alice", 5),
	         CKR_ARGUMENTS_BAD);
	snap(f.h, &after);
	CHECK_UL(after.n, 4);
	CHECK_RV(ch_t_participant_get(f.h, "alice", &one), CKR_ARGUMENTS_BAD);
	CHECK_RV(ch_t_participant_get(f.h, "bob", &one), CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);

	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_PIN_INCORRECT);
	CHECK_RV(login_colon(f.h, CKU_USER, "alice", PIN_ALICE), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(f.h, CKU_USER, "bob", PIN_BOB), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_SO, "adm", PIN_ADM), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_SO, NULL, CH_T_SO_PIN), CKR_OK);
	/* The default user (an operator) still reads the registration's keys. */
	REQUIRE_RV(ch_t_login_user(f.h), CKR_OK);
	CHECK_UL(ch_t_count_label(f.h, "alice-key"), 1);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);

	/* A new alice is a new participant with her own PIN. */
	REQUIRE_RV(ch_t_login_as(f.h, CKU_SO, "adm", PIN_ADM), CKR_OK);
	CHECK_RV(ch_t_participant_add(f.h, "alice", CH_ROLE_USER, "new-alice-pin"), CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", "new-alice-pin"), CKR_OK);
out:
	ch_t_env_free(&f.e);
}

static void test_participant_set_pin_changes_only_that_participant(void)
{
	fixture f;

	REQUIRE(setup(&f));
	/* alice changes her PIN while logged in. */
	REQUIRE_RV(ch_t_login_as(f.h, CKU_USER, "alice", PIN_ALICE), CKR_OK);
	CHECK_RV(P11->C_SetPIN(f.h, (CK_UTF8CHAR_PTR) "wrong-old", 9, (CK_UTF8CHAR_PTR) "alice-2",
	                       7),
	         CKR_PIN_INCORRECT);
	CHECK_RV(P11->C_SetPIN(f.h, (CK_UTF8CHAR_PTR)PIN_ALICE, strlen(PIN_ALICE),
	                       (CK_UTF8CHAR_PTR) "ali", 3),
	         CKR_PIN_LEN_RANGE);
	/* The old PIN of another participant is not hers. */
	CHECK_RV(P11->C_SetPIN(f.h, (CK_UTF8CHAR_PTR)CH_T_USER_PIN, strlen(CH_T_USER_PIN),
	                       (CK_UTF8CHAR_PTR) "alice-2", 7),
	         CKR_PIN_INCORRECT);
	CHECK_RV(P11->C_SetPIN(f.h, (CK_UTF8CHAR_PTR)PIN_ALICE, strlen(PIN_ALICE),
	                       (CK_UTF8CHAR_PTR) "alice-2", 7),
	         CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", "alice-2"), CKR_OK);
	CHECK_RV(login_colon(f.h, CKU_USER, "alice", "alice-2"), CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "bob", PIN_BOB), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, CH_T_USER_PIN), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_SO, NULL, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_SO, "adm", PIN_ADM), CKR_OK);

	/* The named admin changes its PIN; the SO's stays. */
	REQUIRE_RV(ch_t_login_as(f.h, CKU_SO, "adm", PIN_ADM), CKR_OK);
	CHECK_RV(P11->C_SetPIN(f.h, (CK_UTF8CHAR_PTR)PIN_ADM, strlen(PIN_ADM),
	                       (CK_UTF8CHAR_PTR) "adm-2-pin", 9),
	         CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_SO, "adm", PIN_ADM), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(f.h, CKU_SO, "adm", "adm-2-pin"), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_SO, NULL, CH_T_SO_PIN), CKR_OK);

	/* The default user changes its PIN; alice keeps her new one. */
	REQUIRE_RV(ch_t_login_user(f.h), CKR_OK);
	CHECK_RV(P11->C_SetPIN(f.h, (CK_UTF8CHAR_PTR)CH_T_USER_PIN, strlen(CH_T_USER_PIN),
	                       (CK_UTF8CHAR_PTR) "default-2", 9),
	         CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, CH_T_USER_PIN), CKR_PIN_INCORRECT);
	CHECK_RV(try_login(f.h, CKU_USER, NULL, "default-2"), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", "alice-2"), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "bob", PIN_BOB), CKR_OK);

	/* The keys alice's new PIN opens are the registration's: she reads
	 * objects the default user wrote with the same registration key. */
	{
		CK_OBJECT_HANDLE o;
		CK_BYTE buf[32];
		CK_ULONG len = sizeof(buf);

		REQUIRE_RV(ch_t_login_as(f.h, CKU_USER, NULL, "default-2"), CKR_OK);
		REQUIRE_RV(ch_t_create_data(f.h, true, true, "shared", "sealed-value", 12, &o),
		           CKR_OK);
		CHECK_RV(P11->C_Logout(f.h), CKR_OK);
		REQUIRE_RV(ch_t_login_as(f.h, CKU_USER, "alice", "alice-2"), CKR_OK);
		CHECK_RV(ch_t_get(f.h, o, CKA_VALUE, buf, &len), CKR_OK);
		CHECK(len == 12 && memcmp(buf, "sealed-value", 12) == 0);
	}
out:
	ch_t_env_free(&f.e);
}

/* A 2.40 client that logged in with "alice:PIN" gives the same string as the
 * old PIN to C_SetPIN (pkcs11-tool --login --pin alice:PIN --change-pin
 * does): it must change alice's PIN, not count a wrong PIN against her. */
static void test_participant_set_pin_accepts_name_colon_old_pin(void)
{
	fixture f;
	CH_PARTICIPANT_INFO one;

	REQUIRE(setup(&f));
	REQUIRE_RV(login_colon(f.h, CKU_USER, "alice", PIN_ALICE), CKR_OK);
	CHECK_RV(P11->C_SetPIN(f.h, (CK_UTF8CHAR_PTR) "alice:" PIN_ALICE,
	                       strlen("alice:" PIN_ALICE), (CK_UTF8CHAR_PTR) "alice-2", 7),
	         CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", "alice-2"), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_PIN_INCORRECT);
	/* Another participant's name in the old PIN changes nothing. */
	REQUIRE_RV(login_colon(f.h, CKU_USER, "alice", "alice-2"), CKR_OK);
	CHECK_RV(P11->C_SetPIN(f.h, (CK_UTF8CHAR_PTR) "bob:" PIN_BOB, strlen("bob:" PIN_BOB),
	                       (CK_UTF8CHAR_PTR) "bob-owned", 9),
	         CKR_PIN_INCORRECT);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "bob", PIN_BOB), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", "bob-owned"), CKR_PIN_INCORRECT);
	REQUIRE_RV(ch_t_login(f.h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(ch_t_participant_get(f.h, "bob", &one), CKR_OK);
	CHECK_UL(one.failedLogins, 0);
out:
	ch_t_env_free(&f.e);
}

static void test_participant_set_roles_applies_at_next_login(void)
{
	fixture f;
	CK_OBJECT_HANDLE k;
	CH_PARTICIPANT_INFO one;
	CH_FUNCTION_LIST_PTR v;

	REQUIRE(setup(&f));
	v = ch_t_vendor();
	REQUIRE_RV(ch_t_login(f.h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	/* bob, an auditor, becomes an operator. */
	CHECK_RV(v->CH_ParticipantSetRoles(f.h, (CK_UTF8CHAR_PTR) "bob", 3, CH_ROLE_OPERATOR),
	         CKR_OK);
	CHECK_RV(ch_t_participant_get(f.h, "bob", &one), CKR_OK);
	CHECK_UL(one.roles, CH_ROLE_OPERATOR);
	/* The default user may lose a role (never gain admin). */
	CHECK_RV(v->CH_ParticipantSetRoles(f.h, (CK_UTF8CHAR_PTR) "default", 7, CH_ROLE_USER),
	         CKR_OK);
	CHECK_RV(ch_t_participant_get(f.h, "default", &one), CKR_OK);
	CHECK_UL(one.roles, CH_ROLE_USER);
	/* alice becomes an admin only. */
	CHECK_RV(v->CH_ParticipantSetRoles(f.h, (CK_UTF8CHAR_PTR) "alice", 5, CH_ROLE_ADMIN),
	         CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);

	REQUIRE_RV(ch_t_login_as(f.h, CKU_USER, "bob", PIN_BOB), CKR_OK);
	CHECK_RV(ch_t_gen_aes(f.h, false, "bob-key", &k), CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);

	REQUIRE_RV(ch_t_login_user(f.h), CKR_OK);
	CHECK_RV(ch_t_gen_aes(f.h, false, "default-key", &k), CKR_ACTION_PROHIBITED);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);

	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_USER_TYPE_INVALID);
	REQUIRE_RV(ch_t_login_as(f.h, CKU_SO, "alice", PIN_ALICE), CKR_OK);
	/* ... and, as an admin, manages participants. */
	CHECK_RV(v->CH_ParticipantSetRoles(f.h, (CK_UTF8CHAR_PTR) "bob", 3, CH_ROLE_AUDITOR),
	         CKR_OK);
	CHECK_RV(ch_t_participant_get(f.h, "bob", &one), CKR_OK);
	CHECK_UL(one.roles, CH_ROLE_AUDITOR);
out:
	ch_t_env_free(&f.e);
}

static void test_participants_persist_across_finalize(void)
{
	fixture f;
	CH_PARTICIPANT_INFO one;

	REQUIRE(setup(&f));
	/* C_Finalize and C_Initialize again: everything comes from the store. */
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_open(f.e.slot, true, &f.h), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "alice", PIN_ALICE), CKR_OK);
	CHECK_RV(try_login(f.h, CKU_USER, "bob", PIN_BOB), CKR_OK);
	REQUIRE_RV(ch_t_login_as(f.h, CKU_SO, "adm", PIN_ADM), CKR_OK);
	CHECK_RV(ch_t_participant_get(f.h, "alice", &one), CKR_OK);
	CHECK_UL(one.roles, CH_ROLE_OPERATOR | CH_ROLE_USER);
out:
	ch_t_env_free(&f.e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_participants_listed_with_roles_and_counts),
	CH_T_CASE(test_participant_logs_in_with_login_user_and_name_colon_pin),
	CH_T_CASE(test_participant_wrong_or_unknown_login_refused),
	CH_T_CASE(test_participant_roles_decide_login_type_after_pin),
	CH_T_CASE(test_participant_management_needs_admin),
	CH_T_CASE(test_participant_bad_input_refused_and_changes_nothing),
	CH_T_CASE(test_participant_name_and_pin_limits_accepted),
	CH_T_CASE(test_participant_pin_may_contain_colons),
	CH_T_CASE(test_participant_removal_touches_nobody_else),
	CH_T_CASE(test_participant_set_pin_changes_only_that_participant),
	CH_T_CASE(test_participant_set_pin_accepts_name_colon_old_pin),
	CH_T_CASE(test_participant_set_roles_applies_at_next_login),
	CH_T_CASE(test_participants_persist_across_finalize),
	CH_T_CASE(test_long_pins_with_spaces_and_non_ascii_bytes),
};

/* --setup-for-shell DIR: a store for the integration test (see the top of
 * this file).  Uses CIPHERHUB_CONF when set (the shell test's cheap KDF),
 * else writes DIR/setup.conf with one.  Exit status 0 on success. */
static int setup_for_shell(const char *dir)
{
	char store[512], conf[512];
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_SLOT_ID slot = 0;
	CK_RV rv;

	if (!ch_t_load() || ch_t_vendor() == NULL)
		return 1;
	snprintf(store, sizeof(store), "%s/store.db", dir);
	setenv("CIPHERHUB_STORE", store, 1);
	if (getenv("CIPHERHUB_CONF") == NULL || getenv("CIPHERHUB_CONF")[0] == '\0') {
		static const char text[] = "[pin]\npbkdf2_iterations = 1000\n";

		snprintf(conf, sizeof(conf), "%s/setup.conf", dir);
		if (!ch_t_write_file(conf, text, strlen(text)))
			return 1;
		setenv("CIPHERHUB_CONF", conf, 1);
	}
	if (!CHECK_RV(ch_t_initialize(), CKR_OK))
		return ch_test_done();
	if (CHECK_RV(ch_t_make_token(CH_T_LABEL, true, &slot), CKR_OK) &&
	    CHECK_RV(ch_t_open(slot, true, &h), CKR_OK) &&
	    CHECK_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK)) {
		CHECK_RV(ch_t_participant_add(h, "alice", CH_ROLE_OPERATOR | CH_ROLE_USER,
		                              "alice-pin-1"),
		         CKR_OK);
		CHECK_RV(ch_t_participant_add(h, "carl", CH_ROLE_AUDITOR, "carl-pin-22"), CKR_OK);
	}
	rv = P11->C_Finalize(NULL);
	CHECK_RV(rv, CKR_OK);
	if (ch_test_failed == 0)
		printf("store %s: token \"%s\" in slot %lu with alice and carl\n", store,
		       CH_T_LABEL, (unsigned long)slot);
	return ch_test_done();
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--setup-for-shell") == 0)
		return setup_for_shell(argv[2]);
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
