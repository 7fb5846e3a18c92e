/*
 * tools/cipherhub_module.c: the admin tool's side of the PKCS#11 boundary.
 *
 * The tool reaches Cipher Hub only the way any application does: it loads
 * the module with dlopen, asks C_GetInterface for the "PKCS 11" 3.0 table
 * and the "Cipher Hub" vendor table (cipherhub/vendor.h), initializes it,
 * picks a registration (a slot), opens a session and logs in.  This file
 * does those steps and nothing else, and it is where a CK_RV becomes a
 * message and an exit code, so every command reports failures the same way:
 * the call, the CKR_ name, and what it means for the user when we know.
 *
 * Which module: --module, else $CIPHERHUB_MODULE, else cipherhub-pkcs11.so
 * next to the tool binary (the build directory; one directory up is also
 * tried, for a tool built in <build>/tools), else the copy installed in
 * p11-kit's module directory.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cipherhub.h"

#ifndef CH_P11_MODULE_DIR
#define CH_P11_MODULE_DIR "/usr/lib/x86_64-linux-gnu/pkcs11"
#endif

#define MODULE_FILE "cipherhub-pkcs11.so"

/* ---- CK_RV names -------------------------------------------------------- */

#define CH_CLI_RV_NAMES(X)                                                                         \
	X(CKR_OK)                                                                                  \
	X(CKR_CANCEL)                                                                              \
	X(CKR_HOST_MEMORY)                                                                         \
	X(CKR_SLOT_ID_INVALID)                                                                     \
	X(CKR_GENERAL_ERROR)                                                                       \
	X(CKR_FUNCTION_FAILED)                                                                     \
	X(CKR_ARGUMENTS_BAD)                                                                       \
	X(CKR_NO_EVENT)                                                                            \
	X(CKR_NEED_TO_CREATE_THREADS)                                                              \
	X(CKR_CANT_LOCK)                                                                           \
	X(CKR_ATTRIBUTE_READ_ONLY)                                                                 \
	X(CKR_ATTRIBUTE_SENSITIVE)                                                                 \
	X(CKR_ATTRIBUTE_TYPE_INVALID)                                                              \
	X(CKR_ATTRIBUTE_VALUE_INVALID)                                                             \
	X(CKR_ACTION_PROHIBITED)                                                                   \
	X(CKR_DATA_INVALID)                                                                        \
	X(CKR_DATA_LEN_RANGE)                                                                      \
	X(CKR_DEVICE_ERROR)                                                                        \
	X(CKR_DEVICE_MEMORY)                                                                       \
	X(CKR_DEVICE_REMOVED)                                                                      \
	X(CKR_ENCRYPTED_DATA_INVALID)                                                              \
	X(CKR_ENCRYPTED_DATA_LEN_RANGE)                                                            \
	X(CKR_AEAD_DECRYPT_FAILED)                                                                 \
	X(CKR_FUNCTION_CANCELED)                                                                   \
	X(CKR_FUNCTION_NOT_PARALLEL)                                                               \
	X(CKR_FUNCTION_NOT_SUPPORTED)                                                              \
	X(CKR_KEY_HANDLE_INVALID)                                                                  \
	X(CKR_KEY_SIZE_RANGE)                                                                      \
	X(CKR_KEY_TYPE_INCONSISTENT)                                                               \
	X(CKR_KEY_NOT_NEEDED)                                                                      \
	X(CKR_KEY_CHANGED)                                                                         \
	X(CKR_KEY_NEEDED)                                                                          \
	X(CKR_KEY_INDIGESTIBLE)                                                                    \
	X(CKR_KEY_FUNCTION_NOT_PERMITTED)                                                          \
	X(CKR_KEY_NOT_WRAPPABLE)                                                                   \
	X(CKR_KEY_UNEXTRACTABLE)                                                                   \
	X(CKR_MECHANISM_INVALID)                                                                   \
	X(CKR_MECHANISM_PARAM_INVALID)                                                             \
	X(CKR_OBJECT_HANDLE_INVALID)                                                               \
	X(CKR_OPERATION_ACTIVE)                                                                    \
	X(CKR_OPERATION_NOT_INITIALIZED)                                                           \
	X(CKR_PIN_INCORRECT)                                                                       \
	X(CKR_PIN_INVALID)                                                                         \
	X(CKR_PIN_LEN_RANGE)                                                                       \
	X(CKR_PIN_EXPIRED)                                                                         \
	X(CKR_PIN_LOCKED)                                                                          \
	X(CKR_SESSION_CLOSED)                                                                      \
	X(CKR_SESSION_COUNT)                                                                       \
	X(CKR_SESSION_HANDLE_INVALID)                                                              \
	X(CKR_SESSION_PARALLEL_NOT_SUPPORTED)                                                      \
	X(CKR_SESSION_READ_ONLY)                                                                   \
	X(CKR_SESSION_EXISTS)                                                                      \
	X(CKR_SESSION_READ_ONLY_EXISTS)                                                            \
	X(CKR_SESSION_READ_WRITE_SO_EXISTS)                                                        \
	X(CKR_SIGNATURE_INVALID)                                                                   \
	X(CKR_SIGNATURE_LEN_RANGE)                                                                 \
	X(CKR_TEMPLATE_INCOMPLETE)                                                                 \
	X(CKR_TEMPLATE_INCONSISTENT)                                                               \
	X(CKR_TOKEN_NOT_PRESENT)                                                                   \
	X(CKR_TOKEN_NOT_RECOGNIZED)                                                                \
	X(CKR_TOKEN_WRITE_PROTECTED)                                                               \
	X(CKR_UNWRAPPING_KEY_HANDLE_INVALID)                                                       \
	X(CKR_UNWRAPPING_KEY_SIZE_RANGE)                                                           \
	X(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT)                                                    \
	X(CKR_USER_ALREADY_LOGGED_IN)                                                              \
	X(CKR_USER_NOT_LOGGED_IN)                                                                  \
	X(CKR_USER_PIN_NOT_INITIALIZED)                                                            \
	X(CKR_USER_TYPE_INVALID)                                                                   \
	X(CKR_USER_ANOTHER_ALREADY_LOGGED_IN)                                                      \
	X(CKR_USER_TOO_MANY_TYPES)                                                                 \
	X(CKR_WRAPPED_KEY_INVALID)                                                                 \
	X(CKR_WRAPPED_KEY_LEN_RANGE)                                                               \
	X(CKR_WRAPPING_KEY_HANDLE_INVALID)                                                         \
	X(CKR_WRAPPING_KEY_SIZE_RANGE)                                                             \
	X(CKR_WRAPPING_KEY_TYPE_INCONSISTENT)                                                      \
	X(CKR_RANDOM_SEED_NOT_SUPPORTED)                                                           \
	X(CKR_RANDOM_NO_RNG)                                                                       \
	X(CKR_DOMAIN_PARAMS_INVALID)                                                               \
	X(CKR_CURVE_NOT_SUPPORTED)                                                                 \
	X(CKR_BUFFER_TOO_SMALL)                                                                    \
	X(CKR_SAVED_STATE_INVALID)                                                                 \
	X(CKR_INFORMATION_SENSITIVE)                                                               \
	X(CKR_STATE_UNSAVEABLE)                                                                    \
	X(CKR_CRYPTOKI_NOT_INITIALIZED)                                                            \
	X(CKR_CRYPTOKI_ALREADY_INITIALIZED)                                                        \
	X(CKR_MUTEX_BAD)                                                                           \
	X(CKR_MUTEX_NOT_LOCKED)                                                                    \
	X(CKR_NEW_PIN_MODE)                                                                        \
	X(CKR_NEXT_OTP)                                                                            \
	X(CKR_EXCEEDED_MAX_ITERATIONS)                                                             \
	X(CKR_FIPS_SELF_TEST_FAILED)                                                               \
	X(CKR_LIBRARY_LOAD_FAILED)                                                                 \
	X(CKR_PIN_TOO_WEAK)                                                                        \
	X(CKR_PUBLIC_KEY_INVALID)                                                                  \
	X(CKR_FUNCTION_REJECTED)                                                                   \
	X(CKR_TOKEN_RESOURCE_EXCEEDED)                                                             \
	X(CKR_OPERATION_CANCEL_FAILED)

const char *ch_cli_rv_name(CK_RV rv)
{
	switch (rv) {
#define CH_CLI_RV_CASE_(name)                                                                      \
	case name:                                                                                 \
		return #name;
		CH_CLI_RV_NAMES(CH_CLI_RV_CASE_)
		CH_CLI_RV_CASE_(CKR_CH_KEY_NOT_PRIMARY)
		CH_CLI_RV_CASE_(CKR_CH_KEY_VERSION_UNUSABLE)
#undef CH_CLI_RV_CASE_
	default:
		return NULL;
	}
}

int ch_cli_fail_rv(const ch_cli *c, const char *call, CK_RV rv, const char *what)
{
	const char *name = ch_cli_rv_name(rv);
	char hex[48];

	if (name == NULL) {
		snprintf(hex, sizeof(hex), "%s0x%08lx",
		         rv >= CKR_VENDOR_DEFINED ? "CKR_VENDOR_DEFINED+" : "",
		         rv >= CKR_VENDOR_DEFINED ? rv - CKR_VENDOR_DEFINED : rv);
		name = hex;
	}
	if (what != NULL)
		ch_cli_err(c, "%s: %s failed: %s", what, call, name);
	else
		ch_cli_err(c, "%s failed: %s", call, name);
	if (rv == CKR_USER_NOT_LOGGED_IN && c->logged_in)
		ch_cli_err(c, "'%s' is logged in, but its roles do not allow this (see '%s %s')",
		           c->as, c->prog, "COMMAND --help");
	return rv == CKR_FUNCTION_NOT_SUPPORTED ? CH_EXIT_UNSUPPORTED : CH_EXIT_PKCS11;
}

void ch_cli_vendor_missing(const ch_cli *c, const char *name)
{
	if (c->vendor == NULL)
		ch_cli_err(c, "%s offers no \"%s\" interface, so %s is not available",
		           c->module_path, CH_INTERFACE_NAME, name);
	else
		ch_cli_err(c,
		           "%s does not implement %s yet (its \"%s\" interface is version %u.%u)",
		           c->module_path, name, CH_INTERFACE_NAME, c->vendor->version.major,
		           c->vendor->version.minor);
}

/* ---- Loading ------------------------------------------------------------ */

/* Sets c->module_path to dir + "/" + file (dir NULL: file alone); a path
 * without '/' gets "./" so that dlopen opens that file instead of searching
 * the library path.  Returns false when the path does not fit. */
static bool set_module_path(ch_cli *c, const char *dir, const char *file)
{
	const char *prefix = "";
	int n;

	if (dir == NULL && strchr(file, '/') == NULL)
		prefix = "./";
	if (dir != NULL)
		n = snprintf(c->module_path, sizeof(c->module_path), "%s/%s", dir, file);
	else
		n = snprintf(c->module_path, sizeof(c->module_path), "%s%s", prefix, file);
	return n > 0 && (size_t)n < sizeof(c->module_path);
}

/* Chooses the module file (see the top of the file).  Returns CH_EXIT_*. */
static int find_module(ch_cli *c)
{
	char exe[PATH_MAX], *slash;
	const char *env = getenv("CIPHERHUB_MODULE");
	ssize_t n;
	int ex = CH_EXIT_USAGE;

	if (c->module_opt != NULL || (env != NULL && *env != '\0')) {
		if (set_module_path(c, NULL, c->module_opt != NULL ? c->module_opt : env))
			ex = CH_EXIT_OK;
		else
			ch_cli_err(c, "the module path is too long");
		goto out;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			if (set_module_path(c, exe, MODULE_FILE) &&
			    access(c->module_path, R_OK) == 0) {
				ex = CH_EXIT_OK;
				goto out;
			}
			if (set_module_path(c, exe, "../" MODULE_FILE) &&
			    access(c->module_path, R_OK) == 0) {
				ex = CH_EXIT_OK;
				goto out;
			}
		}
	}
	if (set_module_path(c, CH_P11_MODULE_DIR, MODULE_FILE) &&
	    access(c->module_path, R_OK) == 0) {
		ex = CH_EXIT_OK;
		goto out;
	}
	ch_cli_err(c, "no module found: give --module PATH or set CIPHERHUB_MODULE (looked next to "
	              "the tool and in " CH_P11_MODULE_DIR ")");
out:
	return ex;
}

int ch_cli_module_open(ch_cli *c)
{
	CK_C_GetInterface get_interface;
	CK_INTERFACE_PTR iface = NULL;
	CK_VERSION v3 = { 3, 0 };
	CK_RV rv;
	int ex;

	if ((ex = find_module(c)) != CH_EXIT_OK)
		goto out;
	ex = CH_EXIT_PKCS11;
	if ((c->dl = dlopen(c->module_path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		ch_cli_err(c, "cannot load the module: %s", dlerror());
		goto out;
	}
	get_interface = (CK_C_GetInterface)dlsym(c->dl, "C_GetInterface");
	if (get_interface == NULL) {
		ch_cli_err(c, "%s has no C_GetInterface: not a PKCS#11 3.0 module", c->module_path);
		goto out;
	}
	rv = get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v3, &iface, 0);
	if (rv != CKR_OK || iface == NULL || iface->pFunctionList == NULL) {
		ex = ch_cli_fail_rv(c, "C_GetInterface(\"PKCS 11\", 3.0)", rv, c->module_path);
		if (rv == CKR_OK)
			ch_cli_err(c, "C_GetInterface returned no function table");
		goto out;
	}
	c->p11 = iface->pFunctionList;
	/* The vendor table is optional: `registrations` works without it. */
	iface = NULL;
	rv = get_interface((CK_UTF8CHAR_PTR)CH_INTERFACE_NAME, NULL, &iface, 0);
	if (rv == CKR_OK && iface != NULL && iface->pFunctionList != NULL) {
		c->vendor = iface->pFunctionList;
		if (c->vendor->version.major != CH_INTERFACE_VERSION_MAJOR) {
			ch_cli_err(c, "%s: \"%s\" interface %u.%u is not the %d.x this tool speaks",
			           c->module_path, CH_INTERFACE_NAME, c->vendor->version.major,
			           c->vendor->version.minor, CH_INTERFACE_VERSION_MAJOR);
			ex = CH_EXIT_UNSUPPORTED;
			goto out;
		}
	}
	if ((rv = c->p11->C_Initialize(NULL)) != CKR_OK) {
		ex = ch_cli_fail_rv(c, "C_Initialize", rv, c->module_path);
		goto out;
	}
	c->initialized = true;
	ex = CH_EXIT_OK;
out:
	return ex;
}

void ch_cli_module_close(ch_cli *c)
{
	if (c->logged_in)
		(void)c->p11->C_Logout(c->session);
	c->logged_in = false;
	if (c->have_session)
		(void)c->p11->C_CloseSession(c->session);
	c->have_session = false;
	if (c->initialized)
		(void)c->p11->C_Finalize(NULL);
	c->initialized = false;
	/*
	 * The module stays mapped (no dlclose): the process ends right after,
	 * and a sanitizer's leak report can then still name the module's code.
	 */
}

/* ---- Choosing the registration ---------------------------------------- */

/* Reads the token of slot into *ti.  Returns CH_EXIT_*.  A slot without its
 * token (a forwarded slot whose backend module or token is missing) reads as
 * a token that is not initialized: there is no registration to act on. */
static int token_of(ch_cli *c, CK_SLOT_ID slot, CK_TOKEN_INFO *ti)
{
	CK_RV rv = c->p11->C_GetTokenInfo(slot, ti);
	char what[48];

	if (rv == CKR_OK)
		return CH_EXIT_OK;
	if (rv == CKR_TOKEN_NOT_PRESENT) {
		memset(ti, 0, sizeof(*ti));
		return CH_EXIT_OK;
	}
	snprintf(what, sizeof(what), "slot %lu", slot);
	return ch_cli_fail_rv(c, "C_GetTokenInfo", rv, what);
}

static bool initialized(const CK_TOKEN_INFO *ti)
{
	return (ti->flags & CKF_TOKEN_INITIALIZED) != 0;
}

int ch_cli_slot_choose(ch_cli *c)
{
	CK_SLOT_ID *slots = NULL, found = 0;
	CK_ULONG n = 0, i, matches = 0;
	CK_TOKEN_INFO ti;
	char label[33];
	CK_RV rv;
	int ex = CH_EXIT_PKCS11;

	if ((rv = c->p11->C_GetSlotList(CK_FALSE, NULL, &n)) != CKR_OK) {
		ex = ch_cli_fail_rv(c, "C_GetSlotList", rv, NULL);
		goto out;
	}
	if ((slots = calloc(n ? n : 1, sizeof(*slots))) == NULL) {
		ch_cli_err(c, "out of memory");
		goto out;
	}
	if ((rv = c->p11->C_GetSlotList(CK_FALSE, slots, &n)) != CKR_OK) {
		ex = ch_cli_fail_rv(c, "C_GetSlotList", rv, NULL);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (c->have_slot && slots[i] != c->slot_opt)
			continue;
		if ((ex = token_of(c, slots[i], &ti)) != CH_EXIT_OK)
			goto out;
		if (!initialized(&ti))
			continue;
		ch_cli_unpad(ti.label, sizeof(ti.label), label);
		if (c->token_opt != NULL && strcmp(label, c->token_opt) != 0)
			continue;
		if (matches++ == 0) {
			found = slots[i];
			c->token = ti;
			memcpy(c->label, label, sizeof(label));
		}
	}
	ex = CH_EXIT_USAGE;
	if (matches == 1) {
		c->slot = found;
		ex = CH_EXIT_OK;
	} else if (c->have_slot) {
		for (i = 0; i < n && slots[i] != c->slot_opt; i++)
			;
		if (i == n)
			ch_cli_err(c, "there is no slot %lu (see '%s registrations')", c->slot_opt,
			           c->prog);
		else if (matches == 0 && c->token_opt != NULL)
			ch_cli_err(c, "slot %lu does not hold registration '%s'", c->slot_opt,
			           c->token_opt);
		else
			ch_cli_err(c,
			           "slot %lu holds no registration yet (C_InitToken on it creates "
			           "one, e.g. pkcs11-tool --init-token)",
			           c->slot_opt);
	} else if (c->token_opt != NULL && matches == 0) {
		ch_cli_err(c, "no registration is labelled '%s' (see '%s registrations')",
		           c->token_opt, c->prog);
	} else if (c->token_opt != NULL) {
		ch_cli_err(c, "%lu registrations are labelled '%s': choose one with --slot ID",
		           matches, c->token_opt);
	} else if (matches == 0) {
		ch_cli_err(c, "there is no registration yet (C_InitToken on the free slot creates "
		              "one, e.g. pkcs11-tool --init-token)");
	} else {
		ch_cli_err(c,
		           "there are %lu registrations: choose one with --slot ID or --token "
		           "LABEL (see '%s registrations')",
		           matches, c->prog);
	}
out:
	free(slots);
	return ex;
}

/* ---- Session and login -------------------------------------------------- */

/* Prints what a failed login means and returns its exit code. */
static int login_failed(const ch_cli *c, const char *call, CK_USER_TYPE type, CK_RV rv)
{
	const char *as = c->as;

	switch (rv) {
	case CKR_PIN_INCORRECT:
		ch_cli_err(c,
		           "login as '%s' on '%s' failed: wrong PIN or no such participant (%s: "
		           "CKR_PIN_INCORRECT)",
		           as, c->label, call);
		return CH_EXIT_LOGIN;
	case CKR_PIN_LOCKED:
		ch_cli_err(c,
		           "login as '%s' on '%s' failed: the participant is locked after too many "
		           "wrong PINs; an admin can run '%s participant unlock %s' (%s: "
		           "CKR_PIN_LOCKED)",
		           as, c->label, c->prog, as, call);
		return CH_EXIT_LOGIN;
	case CKR_PIN_LEN_RANGE:
		ch_cli_err(
		        c,
		        "login as '%s' on '%s' failed: the PIN must be %lu to %lu characters (%s: "
		        "CKR_PIN_LEN_RANGE)",
		        as, c->label, c->token.ulMinPinLen, c->token.ulMaxPinLen, call);
		return CH_EXIT_LOGIN;
	case CKR_PIN_INVALID:
	case CKR_PIN_EXPIRED:
	case CKR_USER_PIN_NOT_INITIALIZED:
		ch_cli_err(c, "login as '%s' on '%s' failed (%s: %s)", as, c->label, call,
		           ch_cli_rv_name(rv));
		return CH_EXIT_LOGIN;
	case CKR_USER_TYPE_INVALID:
		ch_cli_err(c,
		           "login as '%s' on '%s' failed: '%s' has no role that may do this (%s: "
		           "CKR_USER_TYPE_INVALID as %s)",
		           as, c->label, as, call, type == CKU_SO ? "CKU_SO" : "CKU_USER");
		return CH_EXIT_LOGIN;
	default:
		return ch_cli_fail_rv(c, call, rv, NULL);
	}
}

/*
 * One login attempt as type: a bare PIN for name NULL, else the named
 * participant.  A bare PIN goes through C_Login, unless it holds a ':'
 * (C_Login would read "x:..." as the 2.40 "name:pin" form): then through
 * C_LoginUser without a name, which means the same and cannot be misread.
 */
static CK_RV login_once(ch_cli *c, CK_USER_TYPE type, const char *name, ch_cli_pin *pin,
                        const char **call)
{
	CK_UTF8CHAR_PTR p = (CK_UTF8CHAR_PTR)pin->buf;

	if (name == NULL && memchr(pin->buf, ':', pin->len) == NULL) {
		*call = "C_Login";
		return c->p11->C_Login(c->session, type, p, pin->len);
	}
	*call = "C_LoginUser";
	return c->p11->C_LoginUser(c->session, type, p, pin->len, (CK_UTF8CHAR_PTR)name,
	                           name != NULL ? strlen(name) : 0);
}

int ch_cli_session_open(ch_cli *c, ch_cli_login how)
{
	ch_cli_pin pin = { { 0 }, 0 };
	const char *name = NULL, *call = "C_Login";
	CK_USER_TYPE type;
	CK_RV rv;
	int ex = CH_EXIT_PKCS11;

	rv = c->p11->C_OpenSession(c->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
	                           &c->session);
	if (rv != CKR_OK) {
		ex = ch_cli_fail_rv(c, "C_OpenSession", rv, c->label);
		goto out;
	}
	c->have_session = true;
	if (how == CH_CLI_LOGIN_NONE) {
		ex = CH_EXIT_OK;
		goto out;
	}
	/* Who logs in, and as which user type. */
	if (how == CH_CLI_LOGIN_OPERATOR && strcmp(c->as, "so") == 0) {
		ch_cli_err(c, "keys are managed by an operator, not by 'so': use --as NAME of an "
		              "operator (or --as default)");
		ex = CH_EXIT_USAGE;
		goto out;
	}
	if (strcmp(c->as, "so") == 0) {
		type = CKU_SO;
	} else if (strcmp(c->as, "default") == 0) {
		if (how == CH_CLI_LOGIN_ADMIN) {
			ch_cli_err(c, "'default' logs in as a user and cannot manage participants: "
			              "use --as so or --as NAME of an admin");
			ex = CH_EXIT_USAGE;
			goto out;
		}
		type = CKU_USER;
	} else {
		name = c->as;
		type = how == CH_CLI_LOGIN_ADMIN ? CKU_SO : CKU_USER;
	}
	if ((ex = ch_cli_pin_acting(c, &pin)) != CH_EXIT_OK)
		goto out;
	rv = login_once(c, type, name, &pin, &call);
	/* A reader with the admin role (and no user-type role) logs in as SO;
	 * the module says so only after the PIN proved right, so no failed
	 * login is counted for this second try. */
	if (rv == CKR_USER_TYPE_INVALID && how == CH_CLI_LOGIN_READER && name != NULL) {
		type = CKU_SO;
		rv = login_once(c, type, name, &pin, &call);
	}
	if (rv != CKR_OK) {
		ex = login_failed(c, call, type, rv);
		goto out;
	}
	c->logged_in = true;
	ex = CH_EXIT_OK;
out:
	ch_cli_pin_wipe(&pin);
	return ex;
}
