/*
 * test_interfaces: the built module, loaded the way applications load it
 * (dlopen of $CH_TEST_MODULE), shows exactly the entry points and function
 * tables that src/entry.c promises:
 *
 *  - only C_GetFunctionList, C_GetInterfaceList and C_GetInterface are
 *    exported (nm -D, and dlsym of internal names failing);
 *  - C_GetFunctionList gives the 2.40 table, C_GetInterface the 3.0 one by
 *    default, and every pointer in every table is set;
 *  - interface lookup by name, version and flags, and the two-call
 *    convention of C_GetInterfaceList, including the bad-argument answers;
 *  - the stubs of src/unsupported.c answer CKR_FUNCTION_NOT_SUPPORTED (and
 *    CKR_FUNCTION_NOT_PARALLEL for the two legacy functions);
 *  - none of this needs C_Initialize;
 *  - a caller that asks for the interface first (also with
 *    CKF_INTERFACE_FORK_SAFE, which is not offered) initializes through it
 *    with NULL, CKF_OS_LOCKING_OK and CKF_LIBRARY_CANT_CREATE_OS_THREADS.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cipherhub/pkcs11.h"
#include "cipherhub/vendor.h"

static const char *const exported[] = { "C_GetFunctionList", "C_GetInterfaceList",
	                                "C_GetInterface" };
#define N_EXPORTED (sizeof(exported) / sizeof(exported[0]))

static int is_exported_name(const char *name)
{
	size_t i;

	for (i = 0; i < N_EXPORTED; i++)
		if (strcmp(name, exported[i]) == 0)
			return 1;
	return 0;
}

/* The dynamic symbol table lists the three entry points and nothing else. */
static void test_exports_exactly_the_three_entry_points(void *mod, const char *path)
{
	static const char *const hidden[] = { "C_Initialize",    "C_WrapKey",
		                              "C_LoginUser",     "CH_GetRegistrationInfo",
		                              "ch_module_check", "ch_session_get" };
	char cmd[4096], line[512];
	unsigned seen = 0, others = 0;
	FILE *p;
	size_t i;

	for (i = 0; i < N_EXPORTED; i++)
		if (!CHECK(dlsym(mod, exported[i]) != NULL))
			fprintf(stderr, "\t%s not exported\n", exported[i]);
	for (i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
		if (!CHECK(dlsym(mod, hidden[i]) == NULL))
			fprintf(stderr, "\t%s is exported\n", hidden[i]);

	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	if (!CHECK(p != NULL))
		return;
	while (fgets(line, sizeof(line), p) != NULL) {
		char addr[64], type[8], name[256];

		if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3)
			continue;
		if (is_exported_name(name)) {
			seen++;
		} else {
			others++;
			fprintf(stderr, "\tunexpected export: %s", line);
		}
	}
	CHECK(pclose(p) == 0);
	CHECK_UL(seen, N_EXPORTED);
	CHECK_UL(others, 0);
}

/* Every member of a function table is a function. */
static void check_table_2_40(const CK_FUNCTION_LIST *fl, const char *which)
{
#define CH_CHECK_SET_(name, params)                                                                \
	if (!CHECK(fl->name != NULL))                                                              \
		fprintf(stderr, "\t%s: %s is NULL\n", which, #name);
	CK_FUNCTIONS_2_40(CH_CHECK_SET_)
#undef CH_CHECK_SET_
}

static void check_table_3_0(const CK_FUNCTION_LIST_3_0 *fl)
{
#define CH_CHECK_SET_(name, params)                                                                \
	if (!CHECK(fl->name != NULL))                                                              \
		fprintf(stderr, "\t3.0 table: %s is NULL\n", #name);
	CK_FUNCTIONS_2_40(CH_CHECK_SET_)
	CK_FUNCTIONS_3_0(CH_CHECK_SET_)
#undef CH_CHECK_SET_
}

/* The 2.40 part of the 3.0 table is the 2.40 table's functions. */
static void check_same_functions(const CK_FUNCTION_LIST_3_0 *f3, const CK_FUNCTION_LIST *f2)
{
#define CH_CHECK_SAME_(name, params)                                                               \
	if (!CHECK(f3->name == f2->name))                                                          \
		fprintf(stderr, "\t%s differs between the 3.0 and 2.40 tables\n", #name);
	CK_FUNCTIONS_2_40(CH_CHECK_SAME_)
#undef CH_CHECK_SAME_
}

static void test_function_list_is_2_40_and_complete(CK_C_GetFunctionList get_list)
{
	CK_FUNCTION_LIST_PTR fl = NULL;

	CHECK_RV(get_list(NULL), CKR_ARGUMENTS_BAD);
	if (!CHECK_RV(get_list(&fl), CKR_OK) || !CHECK(fl != NULL))
		return;
	CHECK_UL(fl->version.major, 2);
	CHECK_UL(fl->version.minor, 40);
	check_table_2_40(fl, "C_GetFunctionList");
}

static void test_interface_list_two_call_convention(CK_C_GetInterfaceList get_ifaces)
{
	CK_INTERFACE list[8];
	CK_ULONG n = 0, i;

	CHECK_RV(get_ifaces(NULL, NULL), CKR_ARGUMENTS_BAD);
	CHECK_RV(get_ifaces(list, NULL), CKR_ARGUMENTS_BAD);

	CHECK_RV(get_ifaces(NULL, &n), CKR_OK);
	CHECK_UL(n, 3);

	n = 1;
	memset(list, 0, sizeof(list));
	CHECK_RV(get_ifaces(list, &n), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(n, 3);
	CHECK(list[0].pInterfaceName == NULL); /* nothing written on a short buffer */

	n = 0;
	CHECK_RV(get_ifaces(list, &n), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(n, 3);

	n = sizeof(list) / sizeof(list[0]);
	if (!CHECK_RV(get_ifaces(list, &n), CKR_OK) || !CHECK_UL(n, 3))
		return;
	for (i = 0; i < n; i++) {
		if (!CHECK(list[i].pInterfaceName != NULL && list[i].pFunctionList != NULL))
			return;
		/* Fork safety is not offered: children must call C_Initialize. */
		CHECK_UL(list[i].flags & CKF_INTERFACE_FORK_SAFE, 0);
	}
	CHECK(strcmp((const char *)list[0].pInterfaceName, "PKCS 11") == 0);
	CHECK_UL(((CK_VERSION *)list[0].pFunctionList)->major, 3);
	CHECK_UL(((CK_VERSION *)list[0].pFunctionList)->minor, 0);
	CHECK(strcmp((const char *)list[1].pInterfaceName, "PKCS 11") == 0);
	CHECK_UL(((CK_VERSION *)list[1].pFunctionList)->major, 2);
	CHECK_UL(((CK_VERSION *)list[1].pFunctionList)->minor, 40);
	CHECK(strcmp((const char *)list[2].pInterfaceName, CH_INTERFACE_NAME) == 0);
	CHECK_UL(((CK_VERSION *)list[2].pFunctionList)->major, CH_INTERFACE_VERSION_MAJOR);
	CHECK_UL(((CK_VERSION *)list[2].pFunctionList)->minor, CH_INTERFACE_VERSION_MINOR);
}

static void test_interface_lookup(CK_C_GetInterface get_iface, CK_C_GetFunctionList get_list)
{
	CK_VERSION v30 = { 3, 0 }, v240 = { 2, 40 }, v31 = { 3, 1 },
	           vch = { CH_INTERFACE_VERSION_MAJOR, CH_INTERFACE_VERSION_MINOR };
	CK_INTERFACE_PTR in = NULL;
	CK_INTERFACE sentinel;
	CK_FUNCTION_LIST_PTR fl = NULL;
	const CK_FUNCTION_LIST_3_0 *f3;
	const CH_FUNCTION_LIST *fv;

	CHECK_RV(get_iface(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
	CHECK_RV(get_iface((CK_UTF8CHAR_PTR) "PKCS 11", NULL, NULL, 0), CKR_ARGUMENTS_BAD);

	/* No name: the default interface, "PKCS 11" 3.0. */
	if (CHECK_RV(get_iface(NULL, NULL, &in, 0), CKR_OK) && CHECK(in != NULL)) {
		f3 = in->pFunctionList;
		CHECK(strcmp((const char *)in->pInterfaceName, "PKCS 11") == 0);
		CHECK_UL(f3->version.major, 3);
		CHECK_UL(f3->version.minor, 0);
		check_table_3_0(f3);
		if (CHECK_RV(get_list(&fl), CKR_OK))
			check_same_functions(f3, fl);
	}

	/* Name without version: the newest of that name. */
	in = NULL;
	if (CHECK_RV(get_iface((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &in, 0), CKR_OK) &&
	    CHECK(in != NULL))
		CHECK_UL(((CK_VERSION *)in->pFunctionList)->major, 3);

	/* Name and version select exactly. */
	in = NULL;
	if (CHECK_RV(get_iface((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &in, 0), CKR_OK) &&
	    CHECK(in != NULL))
		CHECK_UL(((CK_VERSION *)in->pFunctionList)->major, 3);
	in = NULL;
	if (CHECK_RV(get_iface((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &in, 0), CKR_OK) &&
	    CHECK(in != NULL)) {
		CHECK_UL(((CK_VERSION *)in->pFunctionList)->minor, 40);
		CHECK(get_list(&fl) == CKR_OK && in->pFunctionList == (void *)fl);
	}
	in = NULL;
	if (CHECK_RV(get_iface(NULL, &v240, &in, 0), CKR_OK) && CHECK(in != NULL))
		CHECK_UL(((CK_VERSION *)in->pFunctionList)->minor, 40);

	/* Unknown version, unknown name, flags no interface has: *ppInterface
	 * is cleared. */
	in = &sentinel;
	CHECK_RV(get_iface((CK_UTF8CHAR_PTR) "PKCS 11", &v31, &in, 0), CKR_ARGUMENTS_BAD);
	CHECK(in == NULL);
	CHECK_RV(get_iface((CK_UTF8CHAR_PTR) "PKCS 12", NULL, &in, 0), CKR_ARGUMENTS_BAD);
	CHECK_RV(get_iface((CK_UTF8CHAR_PTR) "", NULL, &in, 0), CKR_ARGUMENTS_BAD);
	CHECK_RV(get_iface((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &in, CKF_INTERFACE_FORK_SAFE),
	         CKR_ARGUMENTS_BAD);
	CHECK_RV(get_iface(NULL, NULL, &in, CKF_INTERFACE_FORK_SAFE), CKR_ARGUMENTS_BAD);
	CHECK_RV(get_iface((CK_UTF8CHAR_PTR)CH_INTERFACE_NAME, &v30, &in, 0), CKR_ARGUMENTS_BAD);

	/* The vendor interface. */
	in = NULL;
	if (CHECK_RV(get_iface((CK_UTF8CHAR_PTR)CH_INTERFACE_NAME, &vch, &in, 0), CKR_OK) &&
	    CHECK(in != NULL)) {
		CH_REGISTRATION_INFO info;

		fv = in->pFunctionList;
		CHECK_UL(fv->version.major, CH_INTERFACE_VERSION_MAJOR);
		CHECK_UL(fv->version.minor, CH_INTERFACE_VERSION_MINOR);
		if (CHECK(fv->CH_GetRegistrationInfo != NULL))
			CHECK_RV(fv->CH_GetRegistrationInfo(0, &info),
			         CKR_CRYPTOKI_NOT_INITIALIZED);
	}
}

/* Each stub of src/unsupported.c, called through the 3.0 table with empty
 * arguments (a stub must not look at them). */
static void test_unsupported_functions_say_so(CK_C_GetInterface get_iface)
{
	CK_INTERFACE_PTR in = NULL;
	const CK_FUNCTION_LIST_3_0 *f;
	const CK_RV ns = CKR_FUNCTION_NOT_SUPPORTED;

	if (!CHECK_RV(get_iface(NULL, NULL, &in, 0), CKR_OK) || !CHECK(in != NULL))
		return;
	f = in->pFunctionList;

	CHECK_RV(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, NULL, NULL), ns);
	CHECK_RV(f->C_GetOperationState(1, NULL, NULL), ns);
	CHECK_RV(f->C_SetOperationState(1, NULL, 0, 0, 0), ns);
	CHECK_RV(f->C_SessionCancel(1, 0), ns);
	CHECK_RV(f->C_SignRecoverInit(1, NULL, 0), ns);
	CHECK_RV(f->C_SignRecover(1, NULL, 0, NULL, NULL), ns);
	CHECK_RV(f->C_MessageSignInit(1, NULL, 0), ns);
	CHECK_RV(f->C_SignMessage(1, NULL, 0, NULL, 0, NULL, NULL), ns);
	CHECK_RV(f->C_SignMessageBegin(1, NULL, 0), ns);
	CHECK_RV(f->C_SignMessageNext(1, NULL, 0, NULL, 0, NULL, NULL), ns);
	CHECK_RV(f->C_MessageSignFinal(1), ns);
	CHECK_RV(f->C_VerifyRecoverInit(1, NULL, 0), ns);
	CHECK_RV(f->C_VerifyRecover(1, NULL, 0, NULL, NULL), ns);
	CHECK_RV(f->C_MessageVerifyInit(1, NULL, 0), ns);
	CHECK_RV(f->C_VerifyMessage(1, NULL, 0, NULL, 0, NULL, 0), ns);
	CHECK_RV(f->C_VerifyMessageBegin(1, NULL, 0), ns);
	CHECK_RV(f->C_VerifyMessageNext(1, NULL, 0, NULL, 0, NULL, 0), ns);
	CHECK_RV(f->C_MessageVerifyFinal(1), ns);
	CHECK_RV(f->C_DigestEncryptUpdate(1, NULL, 0, NULL, NULL), ns);
	CHECK_RV(f->C_DecryptDigestUpdate(1, NULL, 0, NULL, NULL), ns);
	CHECK_RV(f->C_SignEncryptUpdate(1, NULL, 0, NULL, NULL), ns);
	CHECK_RV(f->C_DecryptVerifyUpdate(1, NULL, 0, NULL, NULL), ns);
	CHECK_RV(f->C_GetFunctionStatus(1), CKR_FUNCTION_NOT_PARALLEL);
	CHECK_RV(f->C_CancelFunction(1), CKR_FUNCTION_NOT_PARALLEL);
}

/*
 * A caller that asks for the interface first, as NSS does: fork-safe
 * semantics (CKF_INTERFACE_FORK_SAFE) are not offered, so that request finds
 * no interface (CKR_ARGUMENTS_BAD, *ppInterface NULL) and the caller asks
 * again without the flag; it then initializes through the table it got, with
 * each kind of CK_C_INITIALIZE_ARGS real clients pass: NULL (single-threaded
 * callers such as pkcs11-tool), CKF_OS_LOCKING_OK (p11-kit, GnuTLS, NSS), and
 * CKF_LIBRARY_CANT_CREATE_OS_THREADS with and without it (NSS in some
 * configurations: the module starts no threads, so it needs none).  The 2.40
 * table from C_GetInterface initializes the same way.
 */
static void test_ask_first_then_initialize(CK_C_GetInterface get_iface)
{
	static const CK_FLAGS init_flags[] = { CKF_OS_LOCKING_OK,
		                               CKF_LIBRARY_CANT_CREATE_OS_THREADS,
		                               CKF_OS_LOCKING_OK |
		                                       CKF_LIBRARY_CANT_CREATE_OS_THREADS };
	CK_VERSION v240 = { 2, 40 };
	CK_INTERFACE_PTR in = NULL, sentinel = (CK_INTERFACE_PTR)&v240;
	const CK_FUNCTION_LIST_3_0 *f3;
	const CK_FUNCTION_LIST *f2;
	char dir[] = "/tmp/ch-ifaces.XXXXXX", store[64];
	CK_C_INITIALIZE_ARGS args;
	CK_ULONG n;
	CK_INFO info;
	size_t i;

	if (!CHECK(mkdtemp(dir) != NULL))
		return;
	snprintf(store, sizeof(store), "%s/store.db", dir);
	setenv("CIPHERHUB_STORE", store, 1);

	in = sentinel;
	CHECK_RV(get_iface((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &in, CKF_INTERFACE_FORK_SAFE),
	         CKR_ARGUMENTS_BAD);
	CHECK(in == NULL);
	if (!CHECK_RV(get_iface((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &in, 0), CKR_OK) ||
	    !CHECK(in != NULL))
		goto out;
	f3 = in->pFunctionList;
	CHECK_UL(f3->version.major, 3);

	CHECK_RV(f3->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
	CHECK_RV(f3->C_Initialize(NULL), CKR_OK);
	CHECK_RV(f3->C_GetInfo(&info), CKR_OK);
	CHECK_RV(f3->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	CHECK(n >= 1);
	CHECK_RV(f3->C_Finalize(NULL), CKR_OK);
	for (i = 0; i < sizeof(init_flags) / sizeof(init_flags[0]); i++) {
		memset(&args, 0, sizeof(args));
		args.flags = init_flags[i];
		if (!CHECK_RV(f3->C_Initialize(&args), CKR_OK))
			fprintf(stderr, "\tflags 0x%lx\n", (unsigned long)init_flags[i]);
		CHECK_RV(f3->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
		CHECK_RV(f3->C_Finalize(NULL), CKR_OK);
	}

	in = NULL;
	if (!CHECK_RV(get_iface((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &in, 0), CKR_OK) ||
	    !CHECK(in != NULL))
		goto out;
	f2 = in->pFunctionList;
	memset(&args, 0, sizeof(args));
	args.flags = CKF_LIBRARY_CANT_CREATE_OS_THREADS;
	CHECK_RV(f2->C_Initialize(&args), CKR_OK);
	CHECK_RV(f2->C_GetInfo(&info), CKR_OK);
	CHECK_UL(info.cryptokiVersion.major, 3);
	CHECK_RV(f2->C_Finalize(NULL), CKR_OK);
out:
	unsetenv("CIPHERHUB_STORE");
	unlink(store);
	snprintf(store, sizeof(store), "%s/store.db-wal", dir);
	unlink(store);
	snprintf(store, sizeof(store), "%s/store.db-shm", dir);
	unlink(store);
	rmdir(dir);
}

/* The vendor interface's numbers and table layout are ABI: other programs
 * compile them in and stores keep the attribute numbers.  1.2 (issue 8,
 * key versions) appended three functions after 1.1's CH_BackupImport, 1.3
 * (versioned encryption, data keys) two after CH_KeySetMinVersion; neither
 * moved anything. */
static void test_vendor_abi_1_3_is_pinned(CK_C_GetInterface get_iface)
{
	CK_VERSION v13 = { 1, 3 };
	CK_INTERFACE_PTR in = NULL;
	const CH_FUNCTION_LIST *fv;
	size_t p = sizeof(void (*)(void));

	CHECK_UL(CKA_CH_OWNER, 0x83480001UL);
	CHECK_UL(CKA_CH_VERSION, 0x83480003UL);
	CHECK_UL(CKA_CH_STATE, 0x83480004UL);
	CHECK_UL(CKA_CH_PRIMARY, 0x83480005UL);
	CHECK_UL(CKA_CH_ROTATION_PERIOD, 0x83480006UL);
	CHECK_UL(CKA_CH_MIN_DECRYPT_VERSION, 0x83480007UL);
	CHECK_UL(CKA_CH_NEW_VERSION, 0x83480008UL);
	CHECK_UL(CKA_CH_CREATED, 0x83480009UL);
	CHECK_UL(CKA_CH_USAGE, 0x8348000AUL);
	CHECK_UL(CKR_CH_KEY_NOT_PRIMARY, 0xC3480001UL);
	CHECK_UL(CH_KEY_STATE_ACTIVE, 1);
	CHECK_UL(CH_KEY_STATE_DECRYPT_ONLY, 2);
	CHECK_UL(CH_KEY_STATE_DISABLED, 3);
	CHECK_UL(CH_KEY_STATE_DESTROYED, 4);
	CHECK_UL(offsetof(CH_FUNCTION_LIST, CH_RecoverySetup),
	         offsetof(CH_FUNCTION_LIST, CH_GrantList) + p);
	CHECK_UL(offsetof(CH_FUNCTION_LIST, CH_KeyRotate),
	         offsetof(CH_FUNCTION_LIST, CH_BackupImport) + p);
	CHECK_UL(offsetof(CH_FUNCTION_LIST, CH_KeySetState),
	         offsetof(CH_FUNCTION_LIST, CH_KeyRotate) + p);
	CHECK_UL(offsetof(CH_FUNCTION_LIST, CH_KeySetMinVersion),
	         offsetof(CH_FUNCTION_LIST, CH_KeySetState) + p);
	CHECK_UL(offsetof(CH_FUNCTION_LIST, CH_Rewrap),
	         offsetof(CH_FUNCTION_LIST, CH_KeySetMinVersion) + p);
	CHECK_UL(offsetof(CH_FUNCTION_LIST, CH_DataKeyGenerate),
	         offsetof(CH_FUNCTION_LIST, CH_Rewrap) + p);
	CHECK_UL(sizeof(CH_FUNCTION_LIST), offsetof(CH_FUNCTION_LIST, CH_DataKeyGenerate) + p);
	CHECK_UL(CKA_CH_DATAKEY_PLAINTEXT, 0x8348000BUL);
	CHECK_UL(CKM_CH_AES_GCM_VERSIONED, 0xC3480001UL);
	CHECK_UL(CH_VERSIONED_HEADER_LEN, 28);
	CHECK_UL(CH_VERSIONED_TAG_LEN, 16);
	CHECK_UL(CKR_CH_KEY_VERSION_UNUSABLE, 0xC3480002UL);
	if (!CHECK_RV(get_iface((CK_UTF8CHAR_PTR)CH_INTERFACE_NAME, &v13, &in, 0), CKR_OK) ||
	    !CHECK(in != NULL))
		return;
	fv = in->pFunctionList;
	CHECK(fv->CH_KeyRotate != NULL && fv->CH_KeySetState != NULL &&
	      fv->CH_KeySetMinVersion != NULL);
	CHECK(fv->CH_Rewrap != NULL && fv->CH_DataKeyGenerate != NULL);
	CHECK_RV(fv->CH_KeyRotate(1, 1, NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	CHECK_RV(fv->CH_Rewrap(1, NULL, 1, NULL, 0, NULL, NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	CHECK_RV(fv->CH_DataKeyGenerate(1, NULL, 1, 32, NULL, NULL, NULL, NULL),
	         CKR_CRYPTOKI_NOT_INITIALIZED);
}

int main(void)
{
	const char *path = getenv("CH_TEST_MODULE");
	CK_C_GetFunctionList get_list;
	CK_C_GetInterfaceList get_ifaces;
	CK_C_GetInterface get_iface;
	void *mod = NULL;

	if (!CHECK(path != NULL && *path != '\0')) {
		fprintf(stderr, "\tset CH_TEST_MODULE to the built cipherhub-pkcs11.so\n");
		goto out;
	}
	mod = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!CHECK(mod != NULL)) {
		fprintf(stderr, "\tdlopen(%s): %s\n", path, dlerror());
		goto out;
	}
	test_exports_exactly_the_three_entry_points(mod, path);

	*(void **)&get_list = dlsym(mod, "C_GetFunctionList");
	*(void **)&get_ifaces = dlsym(mod, "C_GetInterfaceList");
	*(void **)&get_iface = dlsym(mod, "C_GetInterface");
	if (!CHECK(get_list != NULL && get_ifaces != NULL && get_iface != NULL))
		goto out;

	test_function_list_is_2_40_and_complete(get_list);
	test_interface_list_two_call_convention(get_ifaces);
	test_interface_lookup(get_iface, get_list);
	test_unsupported_functions_say_so(get_iface);
	test_ask_first_then_initialize(get_iface);
	test_vendor_abi_1_3_is_pinned(get_iface);
out:
	if (mod != NULL)
		dlclose(mod);
	return ch_test_done();
}
