/*
 * fork() after C_Initialize (PKCS#11 3.0 section 6.7.x, "Multi-threading
 * and forking"): the child must see CKR_CRYPTOKI_NOT_INITIALIZED from every
 * call until it calls C_Initialize itself, after which the module works in
 * the child from scratch (no session or login of the parent's); meanwhile the
 * parent keeps its sessions and its login, whatever the child does.
 *
 * The child also logs in and signs with a key pair the parent made before
 * the fork, as ssh-agent's and ssh-pkcs11-helper's children do: the token's
 * keys are the store's, not the process's.
 *
 * The child reports through its exit status: ch_test_done() of its own
 * checks, 0 when all passed.
 */
#include "module.h"

/* The one object of class cls labelled label, or CK_INVALID_HANDLE. */
static CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, const char *label)
{
	CK_ATTRIBUTE t[] = { CH_T_ULONG(CKA_CLASS, &cls), CH_T_STR(CKA_LABEL, label) };
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	CK_ULONG count = 0;

	if (ch_t_find(h, t, CH_T_ARRAY_LEN(t), &o, 1, &count) != CKR_OK || count != 1)
		return CK_INVALID_HANDLE;
	return o;
}

/* The child signs with the parent's key pair "before-fork-signer" and checks
 * the signature with its public half, and that it does not verify another
 * message. */
static void child_signs(CK_SESSION_HANDLE h)
{
	static const CK_BYTE msg[] = "signed in the child";
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_OBJECT_HANDLE priv, pub;
	CK_BYTE sig[128];
	CK_ULONG slen = sizeof(sig);

	priv = find_one(h, CKO_PRIVATE_KEY, "before-fork-signer");
	pub = find_one(h, CKO_PUBLIC_KEY, "before-fork-signer");
	if (!CHECK(priv != CK_INVALID_HANDLE && pub != CK_INVALID_HANDLE))
		return;
	if (!CHECK_RV(P11->C_SignInit(h, &m, priv), CKR_OK))
		return;
	if (!CHECK_RV(P11->C_Sign(h, (CK_BYTE_PTR)msg, sizeof(msg), sig, &slen), CKR_OK))
		return;
	CHECK_UL(slen, 64);
	CHECK_RV(P11->C_VerifyInit(h, &m, pub), CKR_OK);
	CHECK_RV(P11->C_Verify(h, (CK_BYTE_PTR)msg, sizeof(msg), sig, slen), CKR_OK);
	CHECK_RV(P11->C_VerifyInit(h, &m, pub), CKR_OK);
	CHECK_RV(P11->C_Verify(h, (CK_BYTE_PTR)msg, sizeof(msg) - 1, sig, slen),
	         CKR_SIGNATURE_INVALID);
}

/* What the child checks; returns its exit status. */
static int child_checks(const ch_t_env *e, CK_SESSION_HANDLE parent_session,
                        CK_OBJECT_HANDLE parent_object)
{
	CK_SLOT_ID ids[8];
	CK_ULONG n = 8;
	CK_INFO info;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_SESSION_INFO sinfo;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;
	CK_BYTE buf[8];
	CK_ULONG len = sizeof(buf);

	/* The child counts its own checks only. */
	ch_test_passed = ch_test_failed = 0;

	/* Nothing works before C_Initialize... */
	CHECK_RV(P11->C_GetSlotList(CK_FALSE, ids, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
	CHECK_RV(P11->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
	CHECK_RV(P11->C_GetSlotInfo(e->slot, &si), CKR_CRYPTOKI_NOT_INITIALIZED);
	CHECK_RV(P11->C_GetTokenInfo(e->slot, &ti), CKR_CRYPTOKI_NOT_INITIALIZED);
	CHECK_RV(ch_t_open(e->slot, true, &h), CKR_CRYPTOKI_NOT_INITIALIZED);
	CHECK_RV(P11->C_GetSessionInfo(parent_session, &sinfo), CKR_CRYPTOKI_NOT_INITIALIZED);
	CHECK_RV(ch_t_login_user(parent_session), CKR_CRYPTOKI_NOT_INITIALIZED);
	CHECK_RV(P11->C_FindObjectsInit(parent_session, NULL, 0), CKR_CRYPTOKI_NOT_INITIALIZED);
	CHECK_RV(ch_t_get(parent_session, parent_object, CKA_VALUE, buf, &len),
	         CKR_CRYPTOKI_NOT_INITIALIZED);
	CHECK_RV(P11->C_GenerateRandom(parent_session, buf, sizeof(buf)),
	         CKR_CRYPTOKI_NOT_INITIALIZED);
	CHECK_RV(P11->C_CloseSession(parent_session), CKR_CRYPTOKI_NOT_INITIALIZED);
	CHECK_RV(P11->C_CloseAllSessions(e->slot), CKR_CRYPTOKI_NOT_INITIALIZED);
	CHECK_RV(P11->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);

	/* ...and everything after, from scratch. */
	if (!CHECK_RV(ch_t_initialize(), CKR_OK))
		goto out;
	CHECK_RV(ch_t_initialize(), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	CHECK_RV(P11->C_GetInfo(&info), CKR_OK);
	CHECK(ch_t_slots(ids, 8) == 2);
	CHECK_RV(P11->C_GetSessionInfo(parent_session, &sinfo), CKR_SESSION_HANDLE_INVALID);
	if (!CHECK_RV(ch_t_open(e->slot, true, &h), CKR_OK))
		goto out;
	/* The parent's login is not the child's. */
	CHECK_RV(P11->C_GetSessionInfo(h, &sinfo), CKR_OK);
	CHECK_UL(sinfo.state, CKS_RW_PUBLIC_SESSION);
	CHECK_RV(ch_t_login_user(h), CKR_OK);
	CHECK(ch_t_count_label(h, "before-fork") == 1);
	child_signs(h);
	CHECK_RV(ch_t_create_data(h, true, true, "from-forked-child", "c", 1, &o), CKR_OK);
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
out:
	return ch_test_done();
}

/* Forks; the child runs child_checks (or, when quiet, initializes and
 * finalizes only) and leaves with exit() or _exit().  Returns the child's
 * exit status, or -1. */
static int fork_child(const ch_t_env *e, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, bool quiet,
                      bool use_exit)
{
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int status;

		if (quiet)
			status = ch_t_initialize() == CKR_OK && P11->C_Finalize(NULL) == CKR_OK ? 0
			                                                                        : 1;
		else
			status = child_checks(e, h, o);
		fflush(NULL);
		if (use_exit)
			exit(status);
		_exit(status);
	}
	return ch_t_wait(pid);
}

static void test_child_needs_c_initialize_then_works(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, true, "before-fork", "b", 1, &o), CKR_OK);
	{
		CK_OBJECT_HANDLE pub, priv;

		REQUIRE_RV(ch_t_gen_ec(h, true, "before-fork-signer", &pub, &priv), CKR_OK);
	}
	/* A search in progress in the parent at fork time. */
	REQUIRE_RV(P11->C_FindObjectsInit(h, NULL, 0), CKR_OK);

	CHECK_UL(fork_child(&e, h, o, false, false), 0);

	/* The parent carries on where it was. */
	{
		CK_OBJECT_HANDLE got[8];
		CK_ULONG n;
		CHECK_RV(P11->C_FindObjects(h, got, 8, &n), CKR_OK);
		CHECK_RV(P11->C_FindObjectsFinal(h), CKR_OK);
	}
	{
		CK_SESSION_INFO si;
		CHECK_RV(P11->C_GetSessionInfo(h, &si), CKR_OK);
		CHECK_UL(si.state, CKS_RW_USER_FUNCTIONS);
	}
	CHECK(ch_t_count_label(h, "before-fork") == 1);
	CHECK(ch_t_count_label(h, "from-forked-child") == 1);
	{
		CK_OBJECT_HANDLE pub, priv;
		CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
		CK_BYTE sig[128];
		CK_ULONG slen = sizeof(sig);

		CHECK_RV(ch_t_gen_ec(h, true, "after-fork", &pub, &priv), CKR_OK);
		CHECK_RV(P11->C_SignInit(h, &m, priv), CKR_OK);
		CHECK_RV(P11->C_Sign(h, (CK_BYTE_PTR) "msg", 3, sig, &slen), CKR_OK);
	}
out:
	ch_t_env_free(&e);
}

static void test_parent_unharmed_by_children_that_exit(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;
	CK_BYTE buf[8];
	CK_ULONG len = sizeof(buf);

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, true, "parent-data", "abc", 3, &o), CKR_OK);
	/* A child that initializes, finalizes and exits with exit() (running
	 * destructors), then one that does nothing at all. */
	CHECK_UL(fork_child(&e, h, o, true, true), 0);
	{
		pid_t pid;

		fflush(NULL);
		pid = fork();
		if (pid == 0)
			exit(0);
		CHECK(pid > 0 && ch_t_wait(pid) == 0);
	}
	CHECK_RV(ch_t_get(h, o, CKA_VALUE, buf, &len), CKR_OK);
	CHECK(len == 3 && memcmp(buf, "abc", 3) == 0);
	CHECK_RV(ch_t_create_data(h, true, true, "parent-data", "def", 3, &o), CKR_OK);
	CHECK(ch_t_count_label(h, "parent-data") == 2);
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_user_session(&e, false, &h), CKR_OK);
	CHECK(ch_t_count_label(h, "parent-data") == 2);
out:
	ch_t_env_free(&e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_child_needs_c_initialize_then_works),
	CH_T_CASE(test_parent_unharmed_by_children_that_exit),
};

int main(void)
{
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
