/*
 * The key cache (token/soft_keycache.c) never serves a stale key: once a key
 * has been used (and so cached), changing it or destroying it from another
 * session, or from another process on the same store, takes effect on the
 * very next operation init; logout leaves no key usable.  A stale key here
 * would be a security hole (a key whose CKA_ENCRYPT or CKA_SIGN was cleared,
 * or that was destroyed, still working), so each case first warms the cache.
 *
 * Other processes are this executable started again (see child_main), as in
 * test_multiprocess.c.
 */
#include "module.h"

static const CK_BYTE key_value[32] = "keycache-test-key-0123456789abcd";

/* Encrypts one block with key; the init's and the call's result. */
static CK_RV encrypt_once(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
	CK_MECHANISM m;
	CK_GCM_PARAMS p;
	CK_BYTE iv[12] = { 7 }, out[64];
	CK_ULONG n = sizeof(out);
	CK_RV rv;

	ch_t_gcm(&m, &p, iv, NULL, 0);
	if ((rv = P11->C_EncryptInit(h, &m, key)) != CKR_OK)
		return rv;
	return P11->C_Encrypt(h, (CK_BYTE *)"sixteen bytes!!!", 16, out, &n);
}

/* Signs with key (ECDSA over 32 bytes). */
static CK_RV sign_once(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	CK_BYTE hash[32] = { 1 }, sig[128];
	CK_ULONG n = sizeof(sig);
	CK_RV rv;

	if ((rv = P11->C_SignInit(h, &m, key)) != CKR_OK)
		return rv;
	return P11->C_Sign(h, hash, sizeof(hash), sig, &n);
}

/* ---- the child side ---- */

/* job "destroy" or "no-encrypt" (CKA_ENCRYPT FALSE) on the objects labelled
 * label. */
static int child_job(const char *job, const char *label)
{
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE found[4];
	CK_ATTRIBUTE t[] = { CH_T_STR(CKA_LABEL, label) };
	CK_ATTRIBUTE off[] = { CH_T_BOOL(CKA_ENCRYPT, false) };
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = ch_t_slot_by_label(CH_T_LABEL, &slot)) != CKR_OK ||
	    (rv = ch_t_open(slot, true, &h)) != CKR_OK || (rv = ch_t_login_user(h)) != CKR_OK ||
	    (rv = ch_t_find(h, t, 1, found, 4, &n)) != CKR_OK || n == 0) {
		fprintf(stderr, "child: finding %s: %s (%lu found)\n", label, ch_test_rv_name(rv),
		        (unsigned long)n);
		return 1;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		if (strcmp(job, "destroy") == 0)
			rv = P11->C_DestroyObject(h, found[i]);
		else
			rv = P11->C_SetAttributeValue(h, found[i], off, 1);
		if (rv != CKR_OK) {
			fprintf(stderr, "child: %s %s: %s\n", job, label, ch_test_rv_name(rv));
			return 1;
		}
	}
	return 0;
}

static int child_main(char **argv)
{
	int status;
	CK_RV rv;

	if (!ch_t_load())
		return 2;
	if ((rv = ch_t_initialize()) != CKR_OK) {
		fprintf(stderr, "child: C_Initialize: %s\n", ch_test_rv_name(rv));
		return 2;
	}
	status = child_job(argv[2], argv[3]);
	if (P11->C_Finalize(NULL) != CKR_OK)
		status = 2;
	return status;
}

static int run_child(const char *job, const char *label)
{
	char *args[] = { "child", (char *)job, (char *)label, NULL };
	pid_t pid = ch_t_spawn_self(args);

	return pid < 0 ? -1 : ch_t_wait(pid);
}

/* ---- the tests ---- */

static void test_keycache_key_destroyed_by_another_process_is_not_used(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE aes, pub, priv;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_aes(h, true, true, true, false, "kc-aes", key_value, 32, &aes),
	           CKR_OK);
	REQUIRE_RV(ch_t_gen_ec(h, true, "kc-ec", &pub, &priv), CKR_OK);
	/* Warm the cache: twice each, so the second init is served from it. */
	CHECK_RV(encrypt_once(h, aes), CKR_OK);
	CHECK_RV(encrypt_once(h, aes), CKR_OK);
	CHECK_RV(sign_once(h, priv), CKR_OK);
	CHECK_RV(sign_once(h, priv), CKR_OK);

	CHECK_UL(run_child("destroy", "kc-aes"), 0);
	CHECK_UL(run_child("destroy", "kc-ec"), 0);
	CHECK_RV(encrypt_once(h, aes), CKR_KEY_HANDLE_INVALID);
	CHECK_RV(sign_once(h, priv), CKR_KEY_HANDLE_INVALID);
	/* And again, now that the stale entries are gone. */
	CHECK_RV(encrypt_once(h, aes), CKR_KEY_HANDLE_INVALID);
out:
	ch_t_env_free(&e);
}

static void test_keycache_key_changed_by_another_process_is_not_used_stale(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE aes;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_aes(h, true, true, true, false, "kc-flag", key_value, 32, &aes),
	           CKR_OK);
	CHECK_RV(encrypt_once(h, aes), CKR_OK);
	CHECK_RV(encrypt_once(h, aes), CKR_OK);
	CHECK_UL(run_child("no-encrypt", "kc-flag"), 0);
	CHECK_RV(encrypt_once(h, aes), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK(ch_t_get_bool(h, aes, CKA_ENCRYPT) == 0);
out:
	ch_t_env_free(&e);
}

static void test_keycache_key_changed_or_destroyed_by_another_session_is_not_used(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h, other;
	CK_OBJECT_HANDLE aes;
	CK_ATTRIBUTE off[] = { CH_T_BOOL(CKA_ENCRYPT, false) };
	CK_ATTRIBUTE on[] = { CH_T_BOOL(CKA_ENCRYPT, true) };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_open(e.slot, true, &other), CKR_OK);
	REQUIRE_RV(ch_t_create_aes(h, true, true, true, false, "kc-sess", key_value, 32, &aes),
	           CKR_OK);
	CHECK_RV(encrypt_once(h, aes), CKR_OK);
	CHECK_RV(encrypt_once(h, aes), CKR_OK);
	CHECK_RV(P11->C_SetAttributeValue(other, aes, off, 1), CKR_OK);
	CHECK_RV(encrypt_once(h, aes), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV(P11->C_SetAttributeValue(other, aes, on, 1), CKR_OK);
	CHECK_RV(encrypt_once(h, aes), CKR_OK);
	CHECK_RV(P11->C_DestroyObject(other, aes), CKR_OK);
	CHECK_RV(encrypt_once(h, aes), CKR_KEY_HANDLE_INVALID);
out:
	ch_t_env_free(&e);
}

static void test_keycache_no_key_usable_after_logout(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE aes;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_aes(h, true, true, true, false, "kc-logout", key_value, 32, &aes),
	           CKR_OK);
	CHECK_RV(encrypt_once(h, aes), CKR_OK);
	CHECK_RV(encrypt_once(h, aes), CKR_OK);
	CHECK_RV(P11->C_Logout(h), CKR_OK);
	CHECK_RV(encrypt_once(h, aes), CKR_USER_NOT_LOGGED_IN);
	/* A new login opens the key again from the store. */
	CHECK_RV(ch_t_login_user(h), CKR_OK);
	CHECK_RV(encrypt_once(h, aes), CKR_OK);
out:
	ch_t_env_free(&e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_keycache_key_destroyed_by_another_process_is_not_used),
	CH_T_CASE(test_keycache_key_changed_by_another_process_is_not_used_stale),
	CH_T_CASE(test_keycache_key_changed_or_destroyed_by_another_session_is_not_used),
	CH_T_CASE(test_keycache_no_key_usable_after_logout),
};

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "child") == 0)
		return child_main(argv);
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
