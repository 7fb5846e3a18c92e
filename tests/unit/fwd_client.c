/*
 * tests/unit/fwd_client.c: a scripted PKCS#11 client for the forwarding tests
 * (tests/integration/test_forward*.sh).
 *
 * pkcs11-tool makes one call sequence per process; the forwarding tests need
 * one process that keeps its sessions while the test changes the world around
 * it (the backend's token directory removed and put back), and need the bare
 * CK_RV of C_GetTokenInfo and C_OpenSession, which pkcs11-tool does not print.
 * So this program loads a module and runs the steps given on its command line,
 * printing one line "STEP: CKR_NAME" per PKCS#11 step, flushed at once:
 *
 *	fwd_client MODULE STEP...
 *	  slots              C_GetSlotList(CK_TRUE): "slots: ID ID ..."
 *	  info SLOT          C_GetTokenInfo
 *	  open SLOT          C_OpenSession (R/W); the new session becomes the current one
 *	  login PIN          C_Login(CKU_USER) on the current session
 *	  keygen LABEL       C_GenerateKeyPair, P-256, token objects; the private key
 *	                     becomes the current key
 *	  find LABEL         C_FindObjects* for the private key LABEL: the current key
 *	  sign               C_SignInit(CKM_ECDSA, current key) and C_Sign of 32 bytes
 *	  create LABEL       C_CreateObject of a token data object LABEL
 *	  random             C_GenerateRandom of 16 bytes
 *	  close              C_CloseSession of the current session
 *	  closeall SLOT      C_CloseAllSessions of SLOT
 *	  reinit             C_Finalize and C_Initialize (to try a module on its own)
 *	  touch FILE         creates FILE (tells the test script a point was reached)
 *	  wait FILE          waits until FILE exists (at most 60 s, else exits 3)
 *
 * Exit status: 0 when every step ran (whatever the CK_RVs), 1 for a bad
 * command line, 2 when the module cannot be loaded or initialised, 3 on a
 * wait that timed out.  Never reads standard input.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cipherhub/pkcs11.h"

static CK_FUNCTION_LIST_PTR p11;
static CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
static CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;

static const struct {
	CK_RV rv;
	const char *name;
} rv_names[] = {
#define N(x) { x, #x }
	N(CKR_OK),
	N(CKR_HOST_MEMORY),
	N(CKR_SLOT_ID_INVALID),
	N(CKR_GENERAL_ERROR),
	N(CKR_FUNCTION_FAILED),
	N(CKR_ARGUMENTS_BAD),
	N(CKR_ATTRIBUTE_VALUE_INVALID),
	N(CKR_DATA_INVALID),
	N(CKR_DEVICE_ERROR),
	N(CKR_DEVICE_MEMORY),
	N(CKR_DEVICE_REMOVED),
	N(CKR_FUNCTION_CANCELED),
	N(CKR_FUNCTION_NOT_SUPPORTED),
	N(CKR_KEY_HANDLE_INVALID),
	N(CKR_KEY_FUNCTION_NOT_PERMITTED),
	N(CKR_MECHANISM_INVALID),
	N(CKR_OBJECT_HANDLE_INVALID),
	N(CKR_OPERATION_ACTIVE),
	N(CKR_OPERATION_NOT_INITIALIZED),
	N(CKR_PIN_INCORRECT),
	N(CKR_PIN_LOCKED),
	N(CKR_SESSION_CLOSED),
	N(CKR_SESSION_HANDLE_INVALID),
	N(CKR_SESSION_READ_ONLY),
	N(CKR_TEMPLATE_INCOMPLETE),
	N(CKR_TEMPLATE_INCONSISTENT),
	N(CKR_TOKEN_NOT_PRESENT),
	N(CKR_TOKEN_NOT_RECOGNIZED),
	N(CKR_TOKEN_WRITE_PROTECTED),
	N(CKR_USER_ALREADY_LOGGED_IN),
	N(CKR_USER_NOT_LOGGED_IN),
	N(CKR_USER_PIN_NOT_INITIALIZED),
	N(CKR_USER_TYPE_INVALID),
	N(CKR_CRYPTOKI_NOT_INITIALIZED),
	N(CKR_CRYPTOKI_ALREADY_INITIALIZED),
	N(CKR_ACTION_PROHIBITED),
#undef N
};

static void say(const char *step, const char *arg, CK_RV rv)
{
	size_t i;

	printf("%s%s%s: ", step, arg ? " " : "", arg ? arg : "");
	for (i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++) {
		if (rv_names[i].rv == rv) {
			printf("%s\n", rv_names[i].name);
			return;
		}
	}
	printf("0x%08lx\n", rv);
}

static int usage(const char *why)
{
	fprintf(stderr, "fwd_client: %s\nusage: fwd_client MODULE STEP... (see the source)\n", why);
	return 1;
}

static CK_RV do_keygen(const char *label)
{
	static CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	CK_BBOOL yes = CK_TRUE;
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pub[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_EC_PARAMS, p256, sizeof(p256) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_ATTRIBUTE priv[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE hpub, hpriv;
	CK_RV rv = p11->C_GenerateKeyPair(session, &mech, pub, 4, priv, 5, &hpub, &hpriv);

	if (rv == CKR_OK)
		key = hpriv;
	return rv;
}

static CK_RV do_find(const char *label, CK_ULONG *found)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_RV rv;

	*found = 0;
	if ((rv = p11->C_FindObjectsInit(session, t, 2)) != CKR_OK)
		return rv;
	rv = p11->C_FindObjects(session, &h, 1, found);
	(void)p11->C_FindObjectsFinal(session);
	if (rv == CKR_OK && *found == 1)
		key = h;
	return rv;
}

static CK_RV do_sign(void)
{
	CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
	CK_BYTE hash[32], sig[256];
	CK_ULONG n = sizeof(sig);
	CK_RV rv;

	memset(hash, 0x5a, sizeof(hash));
	if ((rv = p11->C_SignInit(session, &mech, key)) != CKR_OK)
		return rv;
	return p11->C_Sign(session, hash, sizeof(hash), sig, &n);
}

static CK_RV do_create(const char *label)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	static CK_BYTE value[] = "forwarded data object";
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_VALUE, value, sizeof(value) - 1 },
	};
	CK_OBJECT_HANDLE h;

	return p11->C_CreateObject(session, t, 4, &h);
}

static int do_wait(const char *file)
{
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	int i;

	for (i = 0; i < 60 * 20; i++) {
		if (access(file, F_OK) == 0)
			return 0;
		nanosleep(&pause, NULL);
	}
	printf("wait %s: timeout\n", file);
	return 3;
}

int main(int argc, char **argv)
{
	CK_C_GetFunctionList get_list;
	CK_C_INITIALIZE_ARGS init = { .flags = CKF_OS_LOCKING_OK };
	void *dl;
	int i, ex = 0;
	CK_RV rv;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return usage("no module");
	if ((dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "fwd_client: %s\n", dlerror());
		return 2;
	}
	get_list = (CK_C_GetFunctionList)(uintptr_t)dlsym(dl, "C_GetFunctionList");
	if (get_list == NULL || get_list(&p11) != CKR_OK)
		return 2;
	rv = p11->C_Initialize(&init);
	say("initialize", NULL, rv);
	if (rv != CKR_OK)
		return 2;
	for (i = 2; i < argc && ex == 0; i++) {
		const char *step = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(step, "slots") == 0) {
			CK_SLOT_ID ids[64];
			CK_ULONG n = 64, j;

			rv = p11->C_GetSlotList(CK_TRUE, ids, &n);
			printf("slots:");
			for (j = 0; rv == CKR_OK && j < n; j++)
				printf(" %lu", ids[j]);
			printf(rv == CKR_OK ? "\n" : " (C_GetSlotList failed)\n");
			continue;
		}
		if (strcmp(step, "sign") == 0) {
			say(step, NULL, do_sign());
			continue;
		}
		if (strcmp(step, "random") == 0) {
			CK_BYTE buf[16];

			say(step, NULL, p11->C_GenerateRandom(session, buf, sizeof(buf)));
			continue;
		}
		if (strcmp(step, "reinit") == 0) {
			say("finalize", NULL, p11->C_Finalize(NULL));
			say("initialize", NULL, p11->C_Initialize(&init));
			session = CK_INVALID_HANDLE;
			continue;
		}
		if (strcmp(step, "close") == 0) {
			say(step, NULL, p11->C_CloseSession(session));
			session = CK_INVALID_HANDLE;
			continue;
		}
		/* The steps with an argument. */
		if (arg == NULL)
			return usage("a step lacks its argument");
		i++;
		if (strcmp(step, "info") == 0) {
			CK_TOKEN_INFO ti;

			say(step, arg, p11->C_GetTokenInfo(strtoul(arg, NULL, 0), &ti));
		} else if (strcmp(step, "open") == 0) {
			CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

			rv = p11->C_OpenSession(strtoul(arg, NULL, 0),
			                        CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
			if (rv == CKR_OK)
				session = s;
			say(step, arg, rv);
		} else if (strcmp(step, "closeall") == 0) {
			say(step, arg, p11->C_CloseAllSessions(strtoul(arg, NULL, 0)));
		} else if (strcmp(step, "login") == 0) {
			say(step, NULL,
			    p11->C_Login(session, CKU_USER, (CK_UTF8CHAR_PTR)(uintptr_t)arg,
			                 strlen(arg)));
		} else if (strcmp(step, "keygen") == 0) {
			say(step, arg, do_keygen(arg));
		} else if (strcmp(step, "find") == 0) {
			CK_ULONG found;

			rv = do_find(arg, &found);
			say(step, arg, rv == CKR_OK && found != 1 ? CKR_OBJECT_HANDLE_INVALID : rv);
		} else if (strcmp(step, "create") == 0) {
			say(step, arg, do_create(arg));
		} else if (strcmp(step, "touch") == 0) {
			int fd = open(arg, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

			if (fd < 0) {
				fprintf(stderr, "fwd_client: %s: %s\n", arg, strerror(errno));
				return 1;
			}
			close(fd);
		} else if (strcmp(step, "wait") == 0) {
			ex = do_wait(arg);
		} else {
			return usage("unknown step");
		}
	}
	say("finalize", NULL, p11->C_Finalize(NULL));
	return ex;
}
