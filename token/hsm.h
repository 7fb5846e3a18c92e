/*
 * Connections to other PKCS#11 modules (HSMs): the forwarding backend
 * (fwd.c) passes a registration's calls to one, and a software registration
 * may keep its root key in one (soft_root.c).
 *
 * A connection names a module file, one of its tokens (an RFC 7512 URI
 * matched against the token information) and where the token's user PIN
 * comes from: a file, an environment variable or an inherited file
 * descriptor, never the configuration file itself.  A module used by several
 * connections is loaded and initialized once; one this process's
 * application initialized itself is never finalized by us.
 */
#ifndef CH_TOKEN_HSM_H
#define CH_TOKEN_HSM_H

#include <stdbool.h>

#include "cipherhub/pkcs11.h"

/* A [forward:NAME] or [root:NAME] section of the configuration. */
typedef struct ch_hsm_conf {
	char *name;     /* the registration it serves */
	char *module;   /* path of the PKCS#11 module */
	char *token;    /* PKCS#11 URI of the token; NULL: the first token present */
	char *pin_file; /* exactly one of pin_file, pin_env, pin_fd >= 0 */
	char *pin_env;
	int pin_fd;
	char *key; /* [root:] only: CKA_LABEL of the HSM's root key */
} ch_hsm_conf;

void ch_hsm_conf_free(ch_hsm_conf *c);

/* True when uri parses as a PKCS#11 token URI (hsm_uri.c). */
bool ch_hsm_uri_valid(const char *uri);

/* True when the token info matches uri (hsm_uri.c). */
bool ch_hsm_uri_match(const char *uri, const CK_TOKEN_INFO *info);

typedef struct ch_hsm ch_hsm;

/* Loads c's module (or shares it), initializes it and finds c's token.
 * CKR_OK with *out; on failure the reason is logged at error level and the
 * module's or the token's code returned (CKR_TOKEN_NOT_PRESENT: no such
 * token; CKR_GENERAL_ERROR: the module cannot be loaded). */
CK_RV ch_hsm_open(const ch_hsm_conf *c, ch_hsm **out);

/* Lets go of the module (finalized and unloaded with its last user, when we
 * initialized it).  Accepts NULL. */
void ch_hsm_close(ch_hsm *h);

/* The module's function table and the token's slot. */
CK_FUNCTION_LIST *ch_hsm_fn(const ch_hsm *h);
CK_SLOT_ID ch_hsm_slot(const ch_hsm *h);

/* The module file's name (no directory), for slot descriptions and logs. */
const char *ch_hsm_module_name(const ch_hsm *h);

/* Finds the token again (after the backend reported it gone).  CKR_OK or
 * CKR_TOKEN_NOT_PRESENT. */
CK_RV ch_hsm_refind(ch_hsm *h);

/* Finalizes and initializes the module again (only when we initialized it:
 * an application's own module is left alone), then finds the token: what
 * some modules need to see a token that went and came back.  Every session
 * of the module's other users is lost with it.  CKR_OK or the module's
 * code. */
CK_RV ch_hsm_reset(ch_hsm *h);

/* Logs session s in as the token's user with the configured PIN, read from
 * its source for this call and wiped after.  CKR_OK also when the token
 * reports the user logged in already. */
CK_RV ch_hsm_login(ch_hsm *h, CK_SESSION_HANDLE s);

/* Opens a session on the token with flags, finding the token again (in
 * another slot) when the first try fails.  CKR_OK or the module's code. */
CK_RV ch_hsm_session(ch_hsm *h, CK_FLAGS flags, CK_SESSION_HANDLE *s);

/* True for the codes that say a module lost its sessions or its token. */
bool ch_hsm_lost(CK_RV rv);

/* A CK_RV for log lines: its name ("CKR_PIN_INCORRECT"), else "CKR 0x..."
 * written into buf. */
#define CH_RV_TEXT_LEN 24
const char *ch_rv_text(CK_RV rv, char buf[CH_RV_TEXT_LEN]);

#endif
