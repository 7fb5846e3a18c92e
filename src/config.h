/*
 * Configuration: where the store is, how costly the PIN KDF is, where logs go.
 *
 * Read once by C_Initialize from the INI file named by CIPHERHUB_CONF, else
 * /etc/cipherhub/cipherhub.conf when it exists, else nothing: with no file at
 * all the module works on the embedded default store under the user's data
 * directory.  CIPHERHUB_STORE names the store and wins over the file.
 */
#ifndef CH_SRC_CONFIG_H
#define CH_SRC_CONFIG_H

#include "hsm.h"
#include "seal.h"

#define CH_CONFIG_SYSTEM "/etc/cipherhub/cipherhub.conf"

typedef struct ch_config {
	char *store_path;       /* always set after a successful load */
	ch_kdf_params kdf;      /* PIN KDF for newly set PINs */
	CK_ULONG max_failures;  /* consecutive wrong PINs that lock a participant */
	int log_level;          /* ch_log_level */
	char *log_file;         /* NULL: stderr */
	char *legacy_key_roles; /* [policy] legacy_key_roles: registration names */
	ch_hsm_conf *forward;   /* [forward:NAME]: registrations forwarded to an HSM */
	size_t nforward;
	ch_hsm_conf *root; /* [root:NAME]: registrations whose root key an HSM holds */
	size_t nroot;
} ch_config;

/* Loads the configuration as described above.  CKR_OK, CKR_HOST_MEMORY, or
 * CKR_GENERAL_ERROR for a file that cannot be read or parsed (the reason and
 * line are logged).  The caller frees with ch_config_free. */
CK_RV ch_config_load(ch_config *cfg);

/* Frees what ch_config_load allocated.  Accepts a zeroed config. */
void ch_config_free(ch_config *cfg);

#endif
