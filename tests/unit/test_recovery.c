/*
 * The recovery key (issue 8, point 7): CH_RecoverySetup hands out a new key
 * once, CH_Recover gives the "so" participant a new PIN with it; a wrong or
 * outdated key changes nothing.  (The admin tool's Shamir shares of it are
 * tested in tests/integration/test_recovery.sh.)
 */
#include "check.h"
#include "module.h"

#define NEW_SO_PIN "new-so-pin-6604"

static CK_RV setup_key(CK_SESSION_HANDLE h, CK_BYTE key[CH_RECOVERY_KEY_LEN])
{
	CK_ULONG len = CH_RECOVERY_KEY_LEN;
	CK_RV rv = ch_t_vendor()->CH_RecoverySetup(h, key, &len);

	if (rv == CKR_OK && len != CH_RECOVERY_KEY_LEN)
		return CKR_GENERAL_ERROR;
	return rv;
}

static CK_RV recover(CK_SESSION_HANDLE h, CK_BYTE *key, CK_ULONG len, const char *pin)
{
	return ch_t_vendor()->CH_Recover(h, key, len, (CK_UTF8CHAR_PTR)pin, strlen(pin));
}

static void test_the_recovery_key_gives_the_so_a_new_pin(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_BYTE key[CH_RECOVERY_KEY_LEN], zero[CH_RECOVERY_KEY_LEN] = { 0 };
	CK_OBJECT_HANDLE k;
	CH_PARTICIPANT_INFO p;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "kept", &k), CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(setup_key(h, key), CKR_OK);
	CHECK(memcmp(key, zero, sizeof(key)) != 0);
	/* The recovery key is no participant. */
	CHECK_RV(ch_t_participant_get(h, "", &p), CKR_ARGUMENTS_BAD);
	{
		CH_PARTICIPANT_INFO list[8];
		CK_ULONG n;

		CHECK_RV(ch_t_participants(h, list, 8, &n), CKR_OK);
		CHECK(n == 2); /* so and default */
	}
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	/* Every admin PIN lost: the key restores the so participant. */
	CHECK_RV(recover(h, key, sizeof(key), NEW_SO_PIN), CKR_OK);
	CHECK_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_PIN_INCORRECT);
	REQUIRE_RV(ch_t_login(h, CKU_SO, NEW_SO_PIN), CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	/* Nothing else changed: the user and the key are there. */
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK(ch_t_count_label(h, "kept") == 1);
	/* Logged in, recovery is refused. */
	CHECK_RV(recover(h, key, sizeof(key), NEW_SO_PIN), CKR_USER_ALREADY_LOGGED_IN);
out:
	ch_t_env_free(&e);
}

static void test_a_wrong_or_old_recovery_key_changes_nothing(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h, ro;
	CK_BYTE key[CH_RECOVERY_KEY_LEN], old[CH_RECOVERY_KEY_LEN], small[8];
	CK_ULONG len = sizeof(small);

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	/* No recovery key yet. */
	memset(key, 7, sizeof(key));
	CHECK_RV(recover(h, key, sizeof(key), NEW_SO_PIN), CKR_USER_PIN_NOT_INITIALIZED);
	/* Only an admin makes one, on an R/W session, into a big enough buffer. */
	CHECK_RV(setup_key(h, key), CKR_USER_NOT_LOGGED_IN);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK_RV(setup_key(h, key), CKR_USER_NOT_LOGGED_IN);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(ch_t_vendor()->CH_RecoverySetup(h, small, &len), CKR_BUFFER_TOO_SMALL);
	CHECK(len == CH_RECOVERY_KEY_LEN);
	REQUIRE_RV(setup_key(h, old), CKR_OK);
	REQUIRE_RV(setup_key(h, key), CKR_OK);
	CHECK(memcmp(old, key, sizeof(key)) != 0);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	/* The replaced key, a changed byte, a short key: refused, SO PIN unchanged. */
	CHECK_RV(recover(h, old, sizeof(old), NEW_SO_PIN), CKR_PIN_INCORRECT);
	key[31] ^= 1;
	CHECK_RV(recover(h, key, sizeof(key), NEW_SO_PIN), CKR_PIN_INCORRECT);
	key[31] ^= 1;
	CHECK_RV(recover(h, key, 16, NEW_SO_PIN), CKR_PIN_INCORRECT);
	CHECK_RV(recover(h, key, sizeof(key), "ab"), CKR_PIN_LEN_RANGE);
	REQUIRE_RV(ch_t_open(e.slot, false, &ro), CKR_OK);
	CHECK_RV(recover(ro, key, sizeof(key), NEW_SO_PIN), CKR_SESSION_READ_ONLY);
	CHECK_RV(P11->C_CloseSession(ro), CKR_OK);
	CHECK_RV(ch_t_vendor()->CH_Recover(h, NULL, 32, (CK_UTF8CHAR_PTR) "x", 1),
	         CKR_ARGUMENTS_BAD);
	CHECK_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
out:
	ch_t_env_free(&e);
}

static void test_recovery_is_audited(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_BYTE key[CH_RECOVERY_KEY_LEN];
	CH_AUDIT_RECORD rec[64];
	CK_ULONG n = 64;
	int setups = 0, uses = 0;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(setup_key(h, key), CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(recover(h, key, sizeof(key), NEW_SO_PIN), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, NEW_SO_PIN), CKR_OK);
	REQUIRE_RV(ch_t_vendor()->CH_AuditRead(h, 1, rec, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++) {
		setups += ch_t_padded_is(rec[i].operation, sizeof(rec[i].operation),
		                         "recovery.setup");
		uses += ch_t_padded_is(rec[i].operation, sizeof(rec[i].operation), "recovery.use");
	}
	CHECK(setups == 1);
	CHECK(uses == 1);
out:
	ch_t_env_free(&e);
}

int main(void)
{
	static const ch_t_case cases[] = {
		CH_T_CASE(test_the_recovery_key_gives_the_so_a_new_pin),
		CH_T_CASE(test_a_wrong_or_old_recovery_key_changes_nothing),
		CH_T_CASE(test_recovery_is_audited),
	};

	return ch_t_run(cases, CH_T_ARRAY_LEN(cases));
}
