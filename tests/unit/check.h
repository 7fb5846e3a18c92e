/*
 * check.h: the few helpers every Cipher Hub unit test uses.
 *
 * A test is a program: it runs its checks, each failing check prints where
 * it is, what was called, what was expected and what came back, and main()
 * ends with `return ch_test_done();`.  A test that ran no check at all also
 * fails, so a test that silently skips its body cannot pass.
 *
 *	CHECK(cond)                  cond must be true
 *	CHECK_RV(call, expected)     a PKCS#11 call must return `expected`
 *	CHECK_UL(actual, expected)   two CK_ULONG-sized integers must be equal
 *
 * Everything here is static: each test is its own executable.
 */
#ifndef CH_TESTS_CHECK_H
#define CH_TESTS_CHECK_H

#include <stdio.h>

#include "cipherhub/pkcs11.h"

static unsigned ch_test_passed;
static unsigned ch_test_failed;

/* The CKR_ name of rv, e.g. "CKR_ARGUMENTS_BAD"; for a value with no name, a
 * pointer to a static buffer holding its hex value (overwritten by the next
 * such call). */
static inline const char *ch_test_rv_name(CK_RV rv)
{
	static char unknown[48];

	switch (rv) {
#define CH_RV_NAME_(name)                                                                          \
	case name:                                                                                 \
		return #name;
		CH_RV_NAME_(CKR_OK)
		CH_RV_NAME_(CKR_CANCEL)
		CH_RV_NAME_(CKR_HOST_MEMORY)
		CH_RV_NAME_(CKR_SLOT_ID_INVALID)
		CH_RV_NAME_(CKR_GENERAL_ERROR)
		CH_RV_NAME_(CKR_FUNCTION_FAILED)
		CH_RV_NAME_(CKR_ARGUMENTS_BAD)
		CH_RV_NAME_(CKR_NO_EVENT)
		CH_RV_NAME_(CKR_NEED_TO_CREATE_THREADS)
		CH_RV_NAME_(CKR_CANT_LOCK)
		CH_RV_NAME_(CKR_ATTRIBUTE_READ_ONLY)
		CH_RV_NAME_(CKR_ATTRIBUTE_SENSITIVE)
		CH_RV_NAME_(CKR_ATTRIBUTE_TYPE_INVALID)
		CH_RV_NAME_(CKR_ATTRIBUTE_VALUE_INVALID)
		CH_RV_NAME_(CKR_ACTION_PROHIBITED)
		CH_RV_NAME_(CKR_DATA_INVALID)
		CH_RV_NAME_(CKR_DATA_LEN_RANGE)
		CH_RV_NAME_(CKR_DEVICE_ERROR)
		CH_RV_NAME_(CKR_DEVICE_MEMORY)
		CH_RV_NAME_(CKR_DEVICE_REMOVED)
		CH_RV_NAME_(CKR_ENCRYPTED_DATA_INVALID)
		CH_RV_NAME_(CKR_ENCRYPTED_DATA_LEN_RANGE)
		CH_RV_NAME_(CKR_AEAD_DECRYPT_FAILED)
		CH_RV_NAME_(CKR_FUNCTION_CANCELED)
		CH_RV_NAME_(CKR_FUNCTION_NOT_PARALLEL)
		CH_RV_NAME_(CKR_FUNCTION_NOT_SUPPORTED)
		CH_RV_NAME_(CKR_KEY_HANDLE_INVALID)
		CH_RV_NAME_(CKR_KEY_SIZE_RANGE)
		CH_RV_NAME_(CKR_KEY_TYPE_INCONSISTENT)
		CH_RV_NAME_(CKR_KEY_NOT_NEEDED)
		CH_RV_NAME_(CKR_KEY_CHANGED)
		CH_RV_NAME_(CKR_KEY_NEEDED)
		CH_RV_NAME_(CKR_KEY_INDIGESTIBLE)
		CH_RV_NAME_(CKR_KEY_FUNCTION_NOT_PERMITTED)
		CH_RV_NAME_(CKR_KEY_NOT_WRAPPABLE)
		CH_RV_NAME_(CKR_KEY_UNEXTRACTABLE)
		CH_RV_NAME_(CKR_MECHANISM_INVALID)
		CH_RV_NAME_(CKR_MECHANISM_PARAM_INVALID)
		CH_RV_NAME_(CKR_OBJECT_HANDLE_INVALID)
		CH_RV_NAME_(CKR_OPERATION_ACTIVE)
		CH_RV_NAME_(CKR_OPERATION_NOT_INITIALIZED)
		CH_RV_NAME_(CKR_PIN_INCORRECT)
		CH_RV_NAME_(CKR_PIN_INVALID)
		CH_RV_NAME_(CKR_PIN_LEN_RANGE)
		CH_RV_NAME_(CKR_PIN_EXPIRED)
		CH_RV_NAME_(CKR_PIN_LOCKED)
		CH_RV_NAME_(CKR_SESSION_CLOSED)
		CH_RV_NAME_(CKR_SESSION_COUNT)
		CH_RV_NAME_(CKR_SESSION_HANDLE_INVALID)
		CH_RV_NAME_(CKR_SESSION_PARALLEL_NOT_SUPPORTED)
		CH_RV_NAME_(CKR_SESSION_READ_ONLY)
		CH_RV_NAME_(CKR_SESSION_EXISTS)
		CH_RV_NAME_(CKR_SESSION_READ_ONLY_EXISTS)
		CH_RV_NAME_(CKR_SESSION_READ_WRITE_SO_EXISTS)
		CH_RV_NAME_(CKR_SIGNATURE_INVALID)
		CH_RV_NAME_(CKR_SIGNATURE_LEN_RANGE)
		CH_RV_NAME_(CKR_TEMPLATE_INCOMPLETE)
		CH_RV_NAME_(CKR_TEMPLATE_INCONSISTENT)
		CH_RV_NAME_(CKR_TOKEN_NOT_PRESENT)
		CH_RV_NAME_(CKR_TOKEN_NOT_RECOGNIZED)
		CH_RV_NAME_(CKR_TOKEN_WRITE_PROTECTED)
		CH_RV_NAME_(CKR_UNWRAPPING_KEY_HANDLE_INVALID)
		CH_RV_NAME_(CKR_UNWRAPPING_KEY_SIZE_RANGE)
		CH_RV_NAME_(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT)
		CH_RV_NAME_(CKR_USER_ALREADY_LOGGED_IN)
		CH_RV_NAME_(CKR_USER_NOT_LOGGED_IN)
		CH_RV_NAME_(CKR_USER_PIN_NOT_INITIALIZED)
		CH_RV_NAME_(CKR_USER_TYPE_INVALID)
		CH_RV_NAME_(CKR_USER_ANOTHER_ALREADY_LOGGED_IN)
		CH_RV_NAME_(CKR_USER_TOO_MANY_TYPES)
		CH_RV_NAME_(CKR_WRAPPED_KEY_INVALID)
		CH_RV_NAME_(CKR_WRAPPED_KEY_LEN_RANGE)
		CH_RV_NAME_(CKR_WRAPPING_KEY_HANDLE_INVALID)
		CH_RV_NAME_(CKR_WRAPPING_KEY_SIZE_RANGE)
		CH_RV_NAME_(CKR_WRAPPING_KEY_TYPE_INCONSISTENT)
		CH_RV_NAME_(CKR_RANDOM_SEED_NOT_SUPPORTED)
		CH_RV_NAME_(CKR_RANDOM_NO_RNG)
		CH_RV_NAME_(CKR_DOMAIN_PARAMS_INVALID)
		CH_RV_NAME_(CKR_CURVE_NOT_SUPPORTED)
		CH_RV_NAME_(CKR_BUFFER_TOO_SMALL)
		CH_RV_NAME_(CKR_SAVED_STATE_INVALID)
		CH_RV_NAME_(CKR_INFORMATION_SENSITIVE)
		CH_RV_NAME_(CKR_STATE_UNSAVEABLE)
		CH_RV_NAME_(CKR_CRYPTOKI_NOT_INITIALIZED)
		CH_RV_NAME_(CKR_CRYPTOKI_ALREADY_INITIALIZED)
		CH_RV_NAME_(CKR_MUTEX_BAD)
		CH_RV_NAME_(CKR_MUTEX_NOT_LOCKED)
		CH_RV_NAME_(CKR_NEW_PIN_MODE)
		CH_RV_NAME_(CKR_NEXT_OTP)
		CH_RV_NAME_(CKR_EXCEEDED_MAX_ITERATIONS)
		CH_RV_NAME_(CKR_FIPS_SELF_TEST_FAILED)
		CH_RV_NAME_(CKR_LIBRARY_LOAD_FAILED)
		CH_RV_NAME_(CKR_PIN_TOO_WEAK)
		CH_RV_NAME_(CKR_PUBLIC_KEY_INVALID)
		CH_RV_NAME_(CKR_FUNCTION_REJECTED)
		CH_RV_NAME_(CKR_TOKEN_RESOURCE_EXCEEDED)
		CH_RV_NAME_(CKR_OPERATION_CANCEL_FAILED)
#undef CH_RV_NAME_
	default:
		break;
	}
	if (rv & CKR_VENDOR_DEFINED)
		snprintf(unknown, sizeof(unknown), "CKR_VENDOR_DEFINED+0x%lx",
		         rv & ~CKR_VENDOR_DEFINED);
	else
		snprintf(unknown, sizeof(unknown), "CKR_(unknown 0x%lx)", rv);
	return unknown;
}

/* Counts one check; prints the failure (the caller's location and text). */
static inline int ch_test_result(int ok, const char *file, int line, const char *what)
{
	if (ok) {
		ch_test_passed++;
		return 1;
	}
	ch_test_failed++;
	fprintf(stderr, "%s:%d: FAIL: %s\n", file, line, what);
	return 0;
}

/* Prints the totals; returns the exit status for main(): 0 when every check
 * passed and at least one ran, else 1. */
static inline int ch_test_done(void)
{
	printf("%u passed, %u failed\n", ch_test_passed, ch_test_failed);
	if (ch_test_passed + ch_test_failed == 0) {
		fprintf(stderr, "FAIL: no check ran\n");
		return 1;
	}
	return ch_test_failed == 0 ? 0 : 1;
}

/* cond must be true.  Evaluates to 1 (passed) or 0, so a test can stop
 * early: if (!CHECK(p != NULL)) goto out; */
#define CHECK(cond) ch_test_result(!!(cond), __FILE__, __LINE__, "CHECK(" #cond ")")

/* call must return expected; call is evaluated once.  Prints the call text
 * and both return values by name.  Evaluates to 1 (passed) or 0. */
#define CHECK_RV(call, expected)                                                                   \
	({                                                                                         \
		CK_RV check_rv_actual_ = (call);                                                   \
		CK_RV check_rv_expected_ = (expected);                                             \
		int check_rv_ok_ = check_rv_actual_ == check_rv_expected_;                         \
		if (!ch_test_result(check_rv_ok_, __FILE__, __LINE__, #call))                      \
			fprintf(stderr, "\texpected %s, got %s\n",                                 \
			        ch_test_rv_name(check_rv_expected_),                               \
			        ch_test_rv_name(check_rv_actual_));                                \
		check_rv_ok_;                                                                      \
	})

/* actual must equal expected (both converted to unsigned long); prints both.
 * Evaluates to 1 (passed) or 0. */
#define CHECK_UL(actual, expected)                                                                 \
	({                                                                                         \
		unsigned long check_ul_actual_ = (unsigned long)(actual);                          \
		unsigned long check_ul_expected_ = (unsigned long)(expected);                      \
		int check_ul_ok_ = check_ul_actual_ == check_ul_expected_;                         \
		if (!ch_test_result(check_ul_ok_, __FILE__, __LINE__, #actual " == " #expected))   \
			fprintf(stderr, "\texpected %lu (0x%lx), got %lu (0x%lx)\n",               \
			        check_ul_expected_, check_ul_expected_, check_ul_actual_,          \
			        check_ul_actual_);                                                 \
		check_ul_ok_;                                                                      \
	})

#endif /* CH_TESTS_CHECK_H */
