/*
 * Sessions and logins through the module's function table (PKCS#11 3.0
 * sections 5.5 and 5.6, and the session states of section 5.6.1): which
 * sessions may be opened, which state each is in, who may log in when, that
 * a login belongs to the application and not to one session, PIN setting
 * and changing, and C_InitToken on a token that already exists.
 *
 * Every test works on its own store with a token "t" whose SO and user PINs
 * are CH_T_SO_PIN and CH_T_USER_PIN (module.h).
 */
#include "module.h"

static const char new_user_pin[] = "changed-user-pin-77";
static const char new_so_pin[] = "changed-so-pin-88";

/* The state of a session, or CK_UNAVAILABLE_INFORMATION when
 * C_GetSessionInfo fails. */
static CK_STATE state_of(CK_SESSION_HANDLE h)
{
	CK_SESSION_INFO si;

	if (P11->C_GetSessionInfo(h, &si) != CKR_OK)
		return CK_UNAVAILABLE_INFORMATION;
	return si.state;
}

static CK_FLAGS token_flags(CK_SLOT_ID slot)
{
	CK_TOKEN_INFO ti;

	if (P11->C_GetTokenInfo(slot, &ti) != CKR_OK)
		return 0;
	return ti.flags;
}

static void test_open_session_requires_serial_flag(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;

	REQUIRE(ch_t_setup(&e));
	CHECK_RV(P11->C_OpenSession(e.slot, 0, NULL, NULL, &h), CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	CHECK_RV(P11->C_OpenSession(e.slot, CKF_RW_SESSION, NULL, NULL, &h),
	         CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	CHECK_RV(P11->C_OpenSession(e.slot, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
	CHECK(h != CK_INVALID_HANDLE);
out:
	ch_t_env_free(&e);
}

static void test_session_info_states_follow_user_login(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE ro, rw;
	CK_SESSION_INFO si;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_open(e.slot, false, &ro), CKR_OK);
	REQUIRE_RV(ch_t_open(e.slot, true, &rw), CKR_OK);
	CHECK(ro != rw);

	REQUIRE_RV(P11->C_GetSessionInfo(ro, &si), CKR_OK);
	CHECK_UL(si.slotID, e.slot);
	CHECK_UL(si.state, CKS_RO_PUBLIC_SESSION);
	CHECK_UL(si.flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION), CKF_SERIAL_SESSION);
	REQUIRE_RV(P11->C_GetSessionInfo(rw, &si), CKR_OK);
	CHECK_UL(si.state, CKS_RW_PUBLIC_SESSION);
	CHECK_UL(si.flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION),
	         CKF_SERIAL_SESSION | CKF_RW_SESSION);

	/* A login through one session changes the state of both. */
	REQUIRE_RV(ch_t_login_user(ro), CKR_OK);
	CHECK_UL(state_of(ro), CKS_RO_USER_FUNCTIONS);
	CHECK_UL(state_of(rw), CKS_RW_USER_FUNCTIONS);

	/* And a logout through the other changes them back. */
	CHECK_RV(P11->C_Logout(rw), CKR_OK);
	CHECK_UL(state_of(ro), CKS_RO_PUBLIC_SESSION);
	CHECK_UL(state_of(rw), CKS_RW_PUBLIC_SESSION);
out:
	ch_t_env_free(&e);
}

static void test_so_login_needs_only_rw_sessions(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE ro, rw, other = CK_INVALID_HANDLE;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_open(e.slot, false, &ro), CKR_OK);
	REQUIRE_RV(ch_t_open(e.slot, true, &rw), CKR_OK);
	CHECK_RV(ch_t_login(rw, CKU_SO, CH_T_SO_PIN), CKR_SESSION_READ_ONLY_EXISTS);
	CHECK_UL(state_of(rw), CKS_RW_PUBLIC_SESSION);

	CHECK_RV(P11->C_CloseSession(ro), CKR_OK);
	REQUIRE_RV(ch_t_login(rw, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_UL(state_of(rw), CKS_RW_SO_FUNCTIONS);

	/* While the SO is logged in no read-only session may be opened; a
	 * read-write one joins the SO state. */
	CHECK_RV(ch_t_open(e.slot, false, &other), CKR_SESSION_READ_WRITE_SO_EXISTS);
	REQUIRE_RV(ch_t_open(e.slot, true, &other), CKR_OK);
	CHECK_UL(state_of(other), CKS_RW_SO_FUNCTIONS);

	CHECK_RV(ch_t_login(other, CKU_SO, CH_T_SO_PIN), CKR_USER_ALREADY_LOGGED_IN);
	CHECK_RV(ch_t_login_user(other), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
	CHECK_RV(P11->C_Logout(other), CKR_OK);
	CHECK_UL(state_of(rw), CKS_RW_PUBLIC_SESSION);
	CHECK_RV(ch_t_open(e.slot, false, &ro), CKR_OK);
out:
	ch_t_env_free(&e);
}

static void test_user_login_rules(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	CHECK_RV(P11->C_Logout(h), CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(ch_t_login(h, CKU_USER, "wrong-user-pin"), CKR_PIN_INCORRECT);
	CHECK_RV(ch_t_login(h, CKU_SO, "wrong-so-pin"), CKR_PIN_INCORRECT);
	/* The user PIN is not the SO PIN and the other way round. */
	CHECK_RV(ch_t_login(h, CKU_USER, CH_T_SO_PIN), CKR_PIN_INCORRECT);
	CHECK_RV(ch_t_login(h, CKU_SO, CH_T_USER_PIN), CKR_PIN_INCORRECT);
	/* A PIN that is a prefix of the right one is wrong. */
	CHECK_RV(P11->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)CH_T_USER_PIN,
	                      strlen(CH_T_USER_PIN) - 1),
	         CKR_PIN_INCORRECT);
	/* C_Login does not list CKR_PIN_LEN_RANGE, but a module may use it. */
	CHECK_RV2(ch_t_login(h, CKU_USER, "abc"), CKR_PIN_INCORRECT, CKR_PIN_LEN_RANGE);
	CHECK_RV(ch_t_login(h, 7, CH_T_USER_PIN), CKR_USER_TYPE_INVALID);
	CHECK_UL(state_of(h), CKS_RW_PUBLIC_SESSION);

	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK_RV(ch_t_login_user(h), CKR_USER_ALREADY_LOGGED_IN);
	CHECK_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
	CHECK_RV(P11->C_Logout(h), CKR_OK);
	CHECK_RV(P11->C_Logout(h), CKR_USER_NOT_LOGGED_IN);
out:
	ch_t_env_free(&e);
}

static void test_user_pin_not_initialized_until_init_pin(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_SLOT_ID slot;

	REQUIRE(ch_t_load() && ch_t_env_new(&e));
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_make_token("no-user", false, &slot), CKR_OK);
	CHECK(!(token_flags(slot) & CKF_USER_PIN_INITIALIZED));
	REQUIRE_RV(ch_t_open(slot, true, &h), CKR_OK);
	CHECK_RV(ch_t_login_user(h), CKR_USER_PIN_NOT_INITIALIZED);

	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(P11->C_InitPIN(h, (CK_UTF8CHAR_PTR)CH_T_USER_PIN, strlen(CH_T_USER_PIN)), CKR_OK);
	CHECK(token_flags(slot) & CKF_USER_PIN_INITIALIZED);
	CHECK_RV(P11->C_Logout(h), CKR_OK);
	CHECK_RV(ch_t_login_user(h), CKR_OK);
	CHECK_UL(state_of(h), CKS_RW_USER_FUNCTIONS);
out:
	ch_t_env_free(&e);
}

static void test_login_is_shared_by_every_session_of_the_slot(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE a, b;
	CK_OBJECT_HANDLE o;
	CK_BYTE buf[32];
	CK_ULONG len = sizeof(buf);

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_open(e.slot, true, &a), CKR_OK);
	REQUIRE_RV(ch_t_login_user(a), CKR_OK);
	REQUIRE_RV(ch_t_create_data(a, false, true, "shared", "secret-42", 9, &o), CKR_OK);

	/* A session opened after the login is logged in too, and sees the
	 * private session object of the other session. */
	REQUIRE_RV(ch_t_open(e.slot, false, &b), CKR_OK);
	CHECK_UL(state_of(b), CKS_RO_USER_FUNCTIONS);
	CHECK_RV(ch_t_get(b, o, CKA_VALUE, buf, &len), CKR_OK);
	CHECK(len == 9 && memcmp(buf, "secret-42", 9) == 0);
	CHECK_RV(ch_t_login_user(b), CKR_USER_ALREADY_LOGGED_IN);

	/* Closing the session that logged in keeps the login for the other. */
	CHECK_RV(P11->C_CloseSession(a), CKR_OK);
	CHECK_UL(state_of(b), CKS_RO_USER_FUNCTIONS);
out:
	ch_t_env_free(&e);
}

static void test_closing_every_session_logs_out(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE a, b, c;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_open(e.slot, true, &a), CKR_OK);
	REQUIRE_RV(ch_t_open(e.slot, false, &b), CKR_OK);
	REQUIRE_RV(ch_t_login_user(a), CKR_OK);
	CHECK_RV(P11->C_CloseAllSessions(e.slot), CKR_OK);
	CHECK_RV(P11->C_GetSessionInfo(a, &(CK_SESSION_INFO){ 0 }), CKR_SESSION_HANDLE_INVALID);
	CHECK_RV(P11->C_GetSessionInfo(b, &(CK_SESSION_INFO){ 0 }), CKR_SESSION_HANDLE_INVALID);
	REQUIRE_RV(ch_t_open(e.slot, false, &c), CKR_OK);
	CHECK_UL(state_of(c), CKS_RO_PUBLIC_SESSION);

	/* Closing the last session one by one logs out as well. */
	REQUIRE_RV(ch_t_login_user(c), CKR_OK);
	CHECK_RV(P11->C_CloseSession(c), CKR_OK);
	REQUIRE_RV(ch_t_open(e.slot, true, &a), CKR_OK);
	CHECK_UL(state_of(a), CKS_RW_PUBLIC_SESSION);
	CHECK_RV(P11->C_Logout(a), CKR_USER_NOT_LOGGED_IN);
out:
	ch_t_env_free(&e);
}

static void test_init_pin_only_by_so_in_rw_session(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE ro, rw;
	const CK_UTF8CHAR *pin = (const CK_UTF8CHAR *)new_user_pin;
	CK_UTF8CHAR long_pin[256];

	memset(long_pin, 'x', sizeof(long_pin));
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_open(e.slot, false, &ro), CKR_OK);
	REQUIRE_RV(ch_t_open(e.slot, true, &rw), CKR_OK);
	/* 5.6: C_InitPIN works only in the "R/W SO Functions" state. */
	CHECK_RV(P11->C_InitPIN(rw, (CK_UTF8CHAR_PTR)pin, strlen(new_user_pin)),
	         CKR_USER_NOT_LOGGED_IN);
	CHECK_RV2(P11->C_InitPIN(ro, (CK_UTF8CHAR_PTR)pin, strlen(new_user_pin)),
	          CKR_USER_NOT_LOGGED_IN, CKR_SESSION_READ_ONLY);
	REQUIRE_RV(ch_t_login_user(rw), CKR_OK);
	CHECK_RV(P11->C_InitPIN(rw, (CK_UTF8CHAR_PTR)pin, strlen(new_user_pin)),
	         CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(P11->C_Logout(rw), CKR_OK);
	CHECK_RV(P11->C_CloseSession(ro), CKR_OK);

	REQUIRE_RV(ch_t_login(rw, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(P11->C_InitPIN(rw, (CK_UTF8CHAR_PTR) "abc", 3), CKR_PIN_LEN_RANGE);
	CHECK_RV(P11->C_InitPIN(rw, long_pin, sizeof(long_pin)), CKR_PIN_LEN_RANGE);
	CHECK_RV(P11->C_InitPIN(rw, (CK_UTF8CHAR_PTR)pin, strlen(new_user_pin)), CKR_OK);
	CHECK_RV(P11->C_Logout(rw), CKR_OK);
	/* The SO replaced the user's PIN. */
	CHECK_RV(ch_t_login_user(rw), CKR_PIN_INCORRECT);
	CHECK_RV(ch_t_login(rw, CKU_USER, new_user_pin), CKR_OK);
out:
	ch_t_env_free(&e);
}

/* Reads the CKA_VALUE of the single object labelled label into buf. */
static CK_RV value_by_label(CK_SESSION_HANDLE h, const char *label, CK_BYTE *buf, CK_ULONG *len)
{
	CK_ATTRIBUTE t[] = { CH_T_STR(CKA_LABEL, label) };
	CK_OBJECT_HANDLE o;
	CK_ULONG n;
	CK_RV rv = ch_t_find(h, t, 1, &o, 1, &n);

	if (rv != CKR_OK)
		return rv;
	if (n != 1)
		return CKR_OBJECT_HANDLE_INVALID;
	return ch_t_get(h, o, CKA_VALUE, buf, len);
}

static void test_set_user_pin_keeps_objects(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h, ro;
	CK_OBJECT_HANDLE o;
	CK_BYTE buf[64];
	CK_ULONG len;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, true, "kept", "private value", 13, &o), CKR_OK);

	/* Wrong old PIN: refused, and nothing changes. */
	CHECK_RV(P11->C_SetPIN(h, (CK_UTF8CHAR_PTR) "not-the-pin", 11,
	                       (CK_UTF8CHAR_PTR)new_user_pin, strlen(new_user_pin)),
	         CKR_PIN_INCORRECT);
	/* A new PIN out of range is refused. */
	CHECK_RV(P11->C_SetPIN(h, (CK_UTF8CHAR_PTR)CH_T_USER_PIN, strlen(CH_T_USER_PIN),
	                       (CK_UTF8CHAR_PTR) "abc", 3),
	         CKR_PIN_LEN_RANGE);
	/* In a read-only session it cannot be set. */
	REQUIRE_RV(ch_t_open(e.slot, false, &ro), CKR_OK);
	CHECK_RV(P11->C_SetPIN(ro, (CK_UTF8CHAR_PTR)CH_T_USER_PIN, strlen(CH_T_USER_PIN),
	                       (CK_UTF8CHAR_PTR)new_user_pin, strlen(new_user_pin)),
	         CKR_SESSION_READ_ONLY);
	CHECK_RV(P11->C_CloseSession(ro), CKR_OK);
	CHECK_RV(P11->C_Logout(h), CKR_OK);
	CHECK_RV(ch_t_login_user(h), CKR_OK);

	CHECK_RV(P11->C_SetPIN(h, (CK_UTF8CHAR_PTR)CH_T_USER_PIN, strlen(CH_T_USER_PIN),
	                       (CK_UTF8CHAR_PTR)new_user_pin, strlen(new_user_pin)),
	         CKR_OK);
	CHECK_RV(P11->C_Logout(h), CKR_OK);
	CHECK_RV(ch_t_login_user(h), CKR_PIN_INCORRECT);
	REQUIRE_RV(ch_t_login(h, CKU_USER, new_user_pin), CKR_OK);
	len = sizeof(buf);
	CHECK_RV(value_by_label(h, "kept", buf, &len), CKR_OK);
	CHECK(len == 13 && memcmp(buf, "private value", 13) == 0);

	/* The new PIN and the object survive a restart of the module. */
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	CHECK_RV(ch_t_login_user(h), CKR_PIN_INCORRECT);
	REQUIRE_RV(ch_t_login(h, CKU_USER, new_user_pin), CKR_OK);
	len = sizeof(buf);
	CHECK_RV(value_by_label(h, "kept", buf, &len), CKR_OK);
	CHECK(len == 13 && memcmp(buf, "private value", 13) == 0);
	CHECK_RV(P11->C_Logout(h), CKR_OK);

	/* In a R/W public session C_SetPIN changes the user's PIN. */
	CHECK_RV(P11->C_SetPIN(h, (CK_UTF8CHAR_PTR)new_user_pin, strlen(new_user_pin),
	                       (CK_UTF8CHAR_PTR)CH_T_USER_PIN, strlen(CH_T_USER_PIN)),
	         CKR_OK);
	CHECK_RV(ch_t_login_user(h), CKR_OK);
out:
	ch_t_env_free(&e);
}

static void test_set_so_pin(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(P11->C_SetPIN(h, (CK_UTF8CHAR_PTR) "not-the-so-pin", 14,
	                       (CK_UTF8CHAR_PTR)new_so_pin, strlen(new_so_pin)),
	         CKR_PIN_INCORRECT);
	CHECK_RV(P11->C_Logout(h), CKR_OK);
	CHECK_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);

	CHECK_RV(P11->C_SetPIN(h, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN),
	                       (CK_UTF8CHAR_PTR)new_so_pin, strlen(new_so_pin)),
	         CKR_OK);
	CHECK_RV(P11->C_Logout(h), CKR_OK);
	CHECK_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_PIN_INCORRECT);
	CHECK_RV(ch_t_login(h, CKU_SO, new_so_pin), CKR_OK);
	CHECK_RV(P11->C_Logout(h), CKR_OK);
	/* The user's PIN is not touched by the SO's change. */
	CHECK_RV(ch_t_login_user(h), CKR_OK);
out:
	ch_t_env_free(&e);
}

static void test_init_token_with_session_open_fails(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_UTF8CHAR label[32];

	ch_t_pad(label, sizeof(label), CH_T_LABEL);
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_open(e.slot, false, &h), CKR_OK);
	CHECK_RV(P11->C_InitToken(e.slot, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN), label),
	         CKR_SESSION_EXISTS);
	CHECK_UL(state_of(h), CKS_RO_PUBLIC_SESSION);
out:
	ch_t_env_free(&e);
}

static void test_init_token_wrong_so_pin_keeps_objects(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;
	CK_UTF8CHAR label[32];

	ch_t_pad(label, sizeof(label), "renamed");
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, false, "pub", "p", 1, &o), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, true, "priv", "q", 1, &o), CKR_OK);
	REQUIRE_RV(P11->C_CloseSession(h), CKR_OK);

	CHECK_RV(P11->C_InitToken(e.slot, (CK_UTF8CHAR_PTR) "wrong-so-pin", 12, label),
	         CKR_PIN_INCORRECT);
	CHECK_RV(P11->C_InitToken(e.slot, (CK_UTF8CHAR_PTR)CH_T_USER_PIN, strlen(CH_T_USER_PIN),
	                          label),
	         CKR_PIN_INCORRECT);
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	CHECK(ch_t_count_label(h, "pub") == 1);
	CHECK(ch_t_count_label(h, "priv") == 1);
	{
		CK_TOKEN_INFO ti;
		REQUIRE_RV(P11->C_GetTokenInfo(e.slot, &ti), CKR_OK);
		CHECK(ch_t_padded_is(ti.label, sizeof(ti.label), CH_T_LABEL));
	}
out:
	ch_t_env_free(&e);
}

static void test_init_token_right_so_pin_erases_objects(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;
	CK_UTF8CHAR label[32];
	CK_TOKEN_INFO ti;

	ch_t_pad(label, sizeof(label), "renamed");
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, false, "pub", "p", 1, &o), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, true, "priv", "q", 1, &o), CKR_OK);
	REQUIRE_RV(P11->C_CloseSession(h), CKR_OK);

	CHECK_RV(P11->C_InitToken(e.slot, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN), label),
	         CKR_OK);
	REQUIRE_RV(P11->C_GetTokenInfo(e.slot, &ti), CKR_OK);
	CHECK(ch_t_padded_is(ti.label, sizeof(ti.label), "renamed"));
	CHECK(ti.flags & CKF_TOKEN_INITIALIZED);
	/* The user PIN went with the objects. */
	CHECK(!(ti.flags & CKF_USER_PIN_INITIALIZED));
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	CHECK_RV(ch_t_login_user(h), CKR_USER_PIN_NOT_INITIALIZED);
	CHECK(ch_t_count(h, NULL, 0) == 0);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK(ch_t_count(h, NULL, 0) == 0);
	CHECK_RV(P11->C_InitPIN(h, (CK_UTF8CHAR_PTR)CH_T_USER_PIN, strlen(CH_T_USER_PIN)), CKR_OK);
	CHECK_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK(ch_t_count(h, NULL, 0) == 0);
out:
	ch_t_env_free(&e);
}

static void test_pin_length_limits(void)
{
	ch_t_env e;
	CK_SLOT_ID free_slot;
	CK_UTF8CHAR label[32], pin[256];
	CK_TOKEN_INFO ti;

	memset(pin, '7', sizeof(pin));
	ch_t_pad(label, sizeof(label), "short");
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(P11->C_GetTokenInfo(e.slot, &ti), CKR_OK);
	CHECK_UL(ti.ulMinPinLen, 4);
	CHECK_UL(ti.ulMaxPinLen, 255);
	REQUIRE_RV(ch_t_free_slot(&free_slot), CKR_OK);
	CHECK_RV(P11->C_InitToken(free_slot, pin, 3, label), CKR_PIN_LEN_RANGE);
	CHECK_RV(P11->C_InitToken(free_slot, pin, 256, label), CKR_PIN_LEN_RANGE);
	/* Nothing was created by the refused calls. */
	REQUIRE_RV(P11->C_GetTokenInfo(free_slot, &ti), CKR_OK);
	CHECK(!(ti.flags & CKF_TOKEN_INITIALIZED));
	/* The limits themselves are fine. */
	CHECK_RV(P11->C_InitToken(free_slot, pin, 255, label), CKR_OK);
	REQUIRE_RV(ch_t_free_slot(&free_slot), CKR_OK);
	CHECK_RV(P11->C_InitToken(free_slot, pin, 4, label), CKR_OK);
out:
	ch_t_env_free(&e);
}

static void test_token_info_flags_and_session_counts(void)
{
	ch_t_env e;
	CK_SLOT_ID ids[8], free_slot;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE a, b;
	long n;

	REQUIRE(ch_t_setup(&e));
	n = ch_t_slots(ids, 8);
	/* The registration and one free slot. */
	REQUIRE(n == 2);
	CHECK(ids[0] != ids[1]);
	for (long i = 0; i < n; i++) {
		REQUIRE_RV(P11->C_GetSlotInfo(ids[i], &si), CKR_OK);
		CHECK(si.flags & CKF_TOKEN_PRESENT);
	}
	REQUIRE_RV(ch_t_free_slot(&free_slot), CKR_OK);
	CHECK(free_slot != e.slot);
	REQUIRE_RV(P11->C_GetTokenInfo(free_slot, &ti), CKR_OK);
	CHECK(!(ti.flags & CKF_TOKEN_INITIALIZED));
	CHECK(!(ti.flags & CKF_USER_PIN_INITIALIZED));

	REQUIRE_RV(P11->C_GetTokenInfo(e.slot, &ti), CKR_OK);
	CHECK(ti.flags & CKF_TOKEN_INITIALIZED);
	CHECK(ti.flags & CKF_LOGIN_REQUIRED);
	CHECK(ti.flags & CKF_USER_PIN_INITIALIZED);
	CHECK(ti.flags & CKF_RNG);
	CHECK(!(ti.flags & CKF_WRITE_PROTECTED));
	CHECK(!(ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH));
	CHECK(ch_t_padded_is(ti.label, sizeof(ti.label), CH_T_LABEL));
	CHECK(!ch_t_padded_is(ti.serialNumber, sizeof(ti.serialNumber), ""));
	CHECK_UL(ti.ulSessionCount, 0);
	CHECK_UL(ti.ulRwSessionCount, 0);

	REQUIRE_RV(ch_t_open(e.slot, false, &a), CKR_OK);
	REQUIRE_RV(ch_t_open(e.slot, true, &b), CKR_OK);
	REQUIRE_RV(P11->C_GetTokenInfo(e.slot, &ti), CKR_OK);
	CHECK_UL(ti.ulSessionCount, 2);
	CHECK_UL(ti.ulRwSessionCount, 1);
	CHECK_RV(P11->C_CloseSession(b), CKR_OK);
	REQUIRE_RV(P11->C_GetTokenInfo(e.slot, &ti), CKR_OK);
	CHECK_UL(ti.ulSessionCount, 1);
	CHECK_UL(ti.ulRwSessionCount, 0);
out:
	ch_t_env_free(&e);
}

static void test_slot_ids_and_serials_survive_reinitialize(void)
{
	ch_t_env e;
	CK_SLOT_ID before[8], after[8], second;
	CK_TOKEN_INFO ti;
	CK_CHAR serial[2][16];
	long n1, n2;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_make_token("second", true, &second), CKR_OK);
	REQUIRE_RV(P11->C_GetTokenInfo(e.slot, &ti), CKR_OK);
	memcpy(serial[0], ti.serialNumber, 16);
	REQUIRE_RV(P11->C_GetTokenInfo(second, &ti), CKR_OK);
	memcpy(serial[1], ti.serialNumber, 16);
	CHECK(memcmp(serial[0], serial[1], 16) != 0);
	n1 = ch_t_slots(before, 8);
	CHECK(n1 == 3);

	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	n2 = ch_t_slots(after, 8);
	REQUIRE(n1 == n2 && n1 > 0);
	CHECK(memcmp(before, after, (size_t)n1 * sizeof(CK_SLOT_ID)) == 0);
	{
		CK_SLOT_ID s;
		REQUIRE_RV(ch_t_slot_by_label(CH_T_LABEL, &s), CKR_OK);
		CHECK_UL(s, e.slot);
		REQUIRE_RV(ch_t_slot_by_label("second", &s), CKR_OK);
		CHECK_UL(s, second);
	}
	REQUIRE_RV(P11->C_GetTokenInfo(e.slot, &ti), CKR_OK);
	CHECK(memcmp(ti.serialNumber, serial[0], 16) == 0);
	REQUIRE_RV(P11->C_GetTokenInfo(second, &ti), CKR_OK);
	CHECK(memcmp(ti.serialNumber, serial[1], 16) == 0);
out:
	ch_t_env_free(&e);
}

static void test_empty_store_has_one_free_slot(void)
{
	ch_t_env e;
	CK_SLOT_ID ids[4];
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE h;
	CK_ULONG n = 0;

	REQUIRE(ch_t_load() && ch_t_env_new(&e));
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	/* The two-call form: count first, then the IDs. */
	REQUIRE_RV(P11->C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
	CHECK_UL(n, 1);
	REQUIRE(ch_t_slots(ids, 4) == 1);
	REQUIRE_RV(P11->C_GetTokenInfo(ids[0], &ti), CKR_OK);
	CHECK(!(ti.flags & CKF_TOKEN_INITIALIZED));
	/* Nobody can log in to a token that does not exist yet. */
	REQUIRE_RV(ch_t_open(ids[0], true, &h), CKR_OK);
	CHECK(ch_t_login(h, CKU_SO, CH_T_SO_PIN) != CKR_OK);
	CHECK(ch_t_login_user(h) != CKR_OK);
out:
	ch_t_env_free(&e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_open_session_requires_serial_flag),
	CH_T_CASE(test_session_info_states_follow_user_login),
	CH_T_CASE(test_so_login_needs_only_rw_sessions),
	CH_T_CASE(test_user_login_rules),
	CH_T_CASE(test_user_pin_not_initialized_until_init_pin),
	CH_T_CASE(test_login_is_shared_by_every_session_of_the_slot),
	CH_T_CASE(test_closing_every_session_logs_out),
	CH_T_CASE(test_init_pin_only_by_so_in_rw_session),
	CH_T_CASE(test_set_user_pin_keeps_objects),
	CH_T_CASE(test_set_so_pin),
	CH_T_CASE(test_init_token_with_session_open_fails),
	CH_T_CASE(test_init_token_wrong_so_pin_keeps_objects),
	CH_T_CASE(test_init_token_right_so_pin_erases_objects),
	CH_T_CASE(test_pin_length_limits),
	CH_T_CASE(test_token_info_flags_and_session_counts),
	CH_T_CASE(test_slot_ids_and_serials_survive_reinitialize),
	CH_T_CASE(test_empty_store_has_one_free_slot),
};

int main(void)
{
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
