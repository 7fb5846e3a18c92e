/*
 * An HSM as the root of trust of a software registration ([root:NAME]).
 *
 * When registration NAME is created while [root:NAME] is configured, a
 * random 32-byte root secret S is drawn and encrypted in the HSM under the
 * AES key labelled `key` (CKM_AES_GCM, random 12-byte IV, 128-bit tag, the
 * registration's UUID as associated data); the store keeps IV || ciphertext
 * || tag in reg_root.  The key that seals the registration's objects is then
 *
 *   HKDF-SHA256(ikm = registration key || S, salt = UUID,
 *               info = "cipherhub registration root")
 *
 * while the PINs keep wrapping the plain registration key, so C_InitPIN,
 * C_SetPIN and participants work as before.  A store file and a PIN give the
 * registration key only, which opens nothing without S, which only the HSM
 * decrypts.
 *
 * Every login (and SO re-initialization) of such a registration decrypts S
 * through the HSM: a session is opened, logged in with the configured PIN,
 * the key found by label, S decrypted, the session closed again; nothing is
 * held open between logins.  The session is never logged out explicitly: a
 * forwarded slot on the same token may share the login state, and closing
 * our last session ends it anyway.  Any failure is CKR_DEVICE_ERROR and a log
 * line at error level, never a wrong PIN.
 *
 * Locking: the slot lock is held by the callers (it serializes one
 * registration's logins); a root's own lock guards only its connection
 * (opening it, finding the token again), never the store or another slot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/params.h>

#include "hsm.h"
#include "log.h"
#include "soft_internal.h"

#define ROOT_INFO "cipherhub registration root"
#define IV_LEN    12
#define TAG_LEN   16

struct soft_root {
	const ch_hsm_conf *conf; /* the configuration's, which outlives us */
	pthread_mutex_t lock;    /* guards hsm */
	ch_hsm *hsm;             /* opened at first use, kept until close */
	bool warned;             /* "applies to new registrations only" logged */
};

/* True when name is a [forward:] section's: its keys are the HSM's own. */
static bool forwarded(const ch_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nforward; i++)
		if (strcmp(cfg->forward[i].name, name) == 0)
			return true;
	return false;
}

CK_RV soft_roots_open(ch_soft *sf, const ch_config *cfg)
{
	if (cfg->nroot == 0)
		return CKR_OK;
	if ((sf->root = calloc(cfg->nroot, sizeof(*sf->root))) == NULL)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < cfg->nroot; i++) {
		soft_root *rt = &sf->root[sf->nroot];

		if (forwarded(cfg, cfg->root[i].name)) {
			ch_log(CH_LOG_WARNING,
			       "[root:%s] ignored: \"%s\" is a forwarded registration, whose keys "
			       "the HSM holds already",
			       cfg->root[i].name, cfg->root[i].name);
			continue;
		}
		rt->conf = &cfg->root[i];
		pthread_mutex_init(&rt->lock, NULL);
		sf->nroot++;
	}
	return CKR_OK;
}

void soft_roots_close(ch_soft *sf)
{
	for (size_t i = 0; i < sf->nroot; i++) {
		ch_hsm_close(sf->root[i].hsm);
		pthread_mutex_destroy(&sf->root[i].lock);
	}
	free(sf->root);
	sf->root = NULL;
	sf->nroot = 0;
}

/* The [root:] section of registration label, or NULL. */
static soft_root *root_of(ch_soft *sf, const char *label)
{
	for (size_t i = 0; i < sf->nroot; i++)
		if (strcmp(sf->root[i].conf->name, label) == 0)
			return &sf->root[i];
	return NULL;
}

static void log_fail(const char *reg, const soft_root *rt, const char *what, CK_RV rv)
{
	char buf[CH_RV_TEXT_LEN];

	ch_log(CH_LOG_ERROR, "registration \"%s\": HSM root [root:%s]: %s: %s", reg, rt->conf->name,
	       what, ch_rv_text(rv, buf));
}

/* Codes after which a module may need a new start to see its token again
 * (SoftHSM, whose token directory went and came back, answers
 * CKR_GENERAL_ERROR until then). */
static bool lost_code(CK_RV rv)
{
	return rv == CKR_GENERAL_ERROR || ch_hsm_lost(rv);
}

/* Opens a session on rt's token and logs it in as the token's user: *s.
 * rt->hsm is open. */
static CK_RV open_login(soft_root *rt, const char *reg, CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE *s)
{
	CK_RV rv = ch_hsm_session(rt->hsm, CKF_SERIAL_SESSION, s);

	if (rv != CKR_OK) {
		log_fail(reg, rt, "C_OpenSession", rv);
		return rv;
	}
	/* ch_hsm_login logs its own failure, without the PIN. */
	if ((rv = ch_hsm_login(rt->hsm, *s)) != CKR_OK) {
		log_fail(reg, rt, "login with the configured PIN", rv);
		(void)fn->C_CloseSession(*s);
	}
	return rv;
}

/* A session on rt's token, logged in as its user: *fn and *s.  Connects at
 * first use (and again after a failed connection); when the token seems
 * lost, starts the module afresh once (ch_hsm_reset: only a module we
 * initialized ourselves) and tries again. */
static CK_RV root_session(soft_root *rt, const char *reg, CK_FUNCTION_LIST **fn,
                          CK_SESSION_HANDLE *s)
{
	CK_RV rv = CKR_OK;

	pthread_mutex_lock(&rt->lock);
	if (rt->hsm == NULL && (rv = ch_hsm_open(rt->conf, &rt->hsm)) != CKR_OK)
		rt->hsm = NULL;
	if (rt->hsm != NULL)
		*fn = ch_hsm_fn(rt->hsm);
	pthread_mutex_unlock(&rt->lock);
	if (rv != CKR_OK) {
		log_fail(reg, rt, "cannot reach the module or its token", rv);
		return rv;
	}
	rv = open_login(rt, reg, *fn, s);
	if (rv != CKR_OK && lost_code(rv)) {
		pthread_mutex_lock(&rt->lock);
		rv = ch_hsm_reset(rt->hsm);
		pthread_mutex_unlock(&rt->lock);
		if (rv == CKR_OK)
			rv = open_login(rt, reg, *fn, s);
		else
			log_fail(reg, rt, "starting the module afresh", rv);
	}
	return rv;
}

/* The one AES secret key labelled rt's key on session s. */
static CK_RV root_key(soft_root *rt, const char *reg, CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE s,
                      CK_OBJECT_HANDLE *key)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_LABEL, rt->conf->key, (CK_ULONG)strlen(rt->conf->key) },
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = fn->C_FindObjectsInit(s, t, 3)) != CKR_OK) {
		log_fail(reg, rt, "C_FindObjectsInit", rv);
		return rv;
	}
	rv = fn->C_FindObjects(s, found, 2, &n);
	(void)fn->C_FindObjectsFinal(s);
	if (rv != CKR_OK) {
		log_fail(reg, rt, "C_FindObjects", rv);
		return rv;
	}
	if (n != 1) {
		ch_log(CH_LOG_ERROR,
		       "registration \"%s\": HSM root [root:%s]: %s AES secret key labelled \"%s\" "
		       "on the token",
		       reg, rt->conf->name, n == 0 ? "no" : "more than one", rt->conf->key);
		return CKR_KEY_HANDLE_INVALID;
	}
	*key = found[0];
	return CKR_OK;
}

/* Encrypts (enc) secret into blob, or decrypts blob into secret, in rt's
 * HSM with AES-GCM and the UUID as associated data.  CKR_OK, else
 * CKR_DEVICE_ERROR (logged). */
static CK_RV root_crypt(soft_root *rt, const char *reg, const uint8_t uuid[CH_UUID_LEN], bool enc,
                        uint8_t secret[CH_ROOT_SECRET_LEN], uint8_t blob[CH_ROOT_BLOB_LEN])
{
	CK_FUNCTION_LIST *fn = NULL;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE key;
	CK_GCM_PARAMS gcm;
	CK_MECHANISM m = { CKM_AES_GCM, &gcm, sizeof(gcm) };
	uint8_t iv[IV_LEN], out[CH_ROOT_SECRET_LEN + TAG_LEN];
	CK_ULONG out_len = sizeof(out);
	CK_RV rv;

	if (enc && ch_seal_random(iv, sizeof(iv)) != CKR_OK)
		return CKR_DEVICE_ERROR;
	if (!enc)
		memcpy(iv, blob, IV_LEN);
	memset(&gcm, 0, sizeof(gcm));
	gcm.pIv = iv;
	gcm.ulIvLen = IV_LEN;
	gcm.ulIvBits = IV_LEN * 8;
	gcm.pAAD = (CK_BYTE_PTR)uuid;
	gcm.ulAADLen = CH_UUID_LEN;
	gcm.ulTagBits = TAG_LEN * 8;
	if ((rv = root_session(rt, reg, &fn, &s)) != CKR_OK)
		return CKR_DEVICE_ERROR;
	if ((rv = root_key(rt, reg, fn, s, &key)) != CKR_OK)
		goto out;
	if (enc) {
		if ((rv = fn->C_EncryptInit(s, &m, key)) != CKR_OK) {
			log_fail(reg, rt, "C_EncryptInit", rv);
			goto out;
		}
		rv = fn->C_Encrypt(s, secret, CH_ROOT_SECRET_LEN, out, &out_len);
		if (rv == CKR_OK && out_len != sizeof(out))
			rv = CKR_ENCRYPTED_DATA_LEN_RANGE;
		if (rv != CKR_OK) {
			log_fail(reg, rt, "C_Encrypt", rv);
			goto out;
		}
		memcpy(blob, iv, IV_LEN);
		memcpy(blob + IV_LEN, out, sizeof(out));
	} else {
		if ((rv = fn->C_DecryptInit(s, &m, key)) != CKR_OK) {
			log_fail(reg, rt, "C_DecryptInit", rv);
			goto out;
		}
		rv = fn->C_Decrypt(s, blob + IV_LEN, CH_ROOT_SECRET_LEN + TAG_LEN, out, &out_len);
		if (rv == CKR_OK && out_len != CH_ROOT_SECRET_LEN)
			rv = CKR_ENCRYPTED_DATA_LEN_RANGE;
		if (rv != CKR_OK) {
			log_fail(reg, rt, "C_Decrypt (the stored root does not open)", rv);
			goto out;
		}
		memcpy(secret, out, CH_ROOT_SECRET_LEN);
	}
out:
	OPENSSL_cleanse(out, sizeof(out));
	(void)fn->C_CloseSession(s);
	return rv == CKR_OK ? CKR_OK : CKR_DEVICE_ERROR;
}

/* The sealing key of a registration with a root: HKDF-SHA256 as above. */
static CK_RV root_derive(const uint8_t regkey[CH_REGKEY_LEN],
                         const uint8_t secret[CH_ROOT_SECRET_LEN], const uint8_t uuid[CH_UUID_LEN],
                         uint8_t out[CH_REGKEY_LEN])
{
	uint8_t ikm[CH_REGKEY_LEN + CH_ROOT_SECRET_LEN];
	int ok;

	memcpy(ikm, regkey, CH_REGKEY_LEN);
	memcpy(ikm + CH_REGKEY_LEN, secret, CH_ROOT_SECRET_LEN);
	ok = ch_seal_hkdf(ikm, sizeof(ikm), uuid, CH_UUID_LEN, ROOT_INFO, out, CH_REGKEY_LEN);
	OPENSSL_cleanse(ikm, sizeof(ikm));
	return ok ? CKR_OK : CKR_FUNCTION_FAILED;
}

/* The seal of registration uuid from regkey and (with_secret) secret. */
static CK_RV seal_of(const uint8_t regkey[CH_REGKEY_LEN], bool with_secret,
                     const uint8_t secret[CH_ROOT_SECRET_LEN], const uint8_t uuid[CH_UUID_LEN],
                     ch_seal **seal)
{
	uint8_t k[CH_REGKEY_LEN];
	CK_RV rv = CKR_OK;

	if (!with_secret) {
		*seal = ch_seal_new(regkey, uuid);
	} else {
		if ((rv = root_derive(regkey, secret, uuid, k)) == CKR_OK)
			*seal = ch_seal_new(k, uuid);
		OPENSSL_cleanse(k, sizeof(k));
	}
	if (rv == CKR_OK && *seal == NULL)
		rv = CKR_HOST_MEMORY;
	return rv;
}

/* Logs once per section that it does not bind registration label, which
 * was created without a root. */
static void warn_unbound(ch_soft *sf, const char *label)
{
	soft_root *rt = root_of(sf, label);

	if (rt == NULL)
		return;
	pthread_mutex_lock(&rt->lock);
	if (!rt->warned)
		ch_log(CH_LOG_WARNING,
		       "registration \"%s\" was created without an HSM root; [root:%s] applies "
		       "only to registrations created while it is configured",
		       label, rt->conf->name);
	rt->warned = true;
	pthread_mutex_unlock(&rt->lock);
}

/* Encrypts secret under the key of [root:label] into *root (present: a
 * section exists; else root stays empty and nothing is done). */
static CK_RV root_wrap(ch_soft *sf, const char *label, const uint8_t uuid[CH_UUID_LEN],
                       uint8_t secret[CH_ROOT_SECRET_LEN], ch_root_row *root)
{
	soft_root *rt = root_of(sf, label);

	if (rt == NULL)
		return CKR_OK;
	if (strlen(rt->conf->key) > CH_ROOT_LABEL_MAX) {
		ch_log(CH_LOG_ERROR, "[root:%s]: the key label is too long", rt->conf->name);
		return CKR_DEVICE_ERROR;
	}
	if (root_crypt(rt, label, uuid, true, secret, root->blob) != CKR_OK)
		return CKR_DEVICE_ERROR;
	snprintf(root->key_label, sizeof(root->key_label), "%s", rt->conf->key);
	root->present = true;
	return CKR_OK;
}

/* Decrypts the stored root of sl's registration into secret through the
 * HSM of its name's section; when next renames it, re-encrypts the secret
 * under the new name's section into *root. */
static CK_RV root_unwrap(soft_slot *sl, const ch_reg_row *next, uint8_t secret[CH_ROOT_SECRET_LEN],
                         ch_root_row *root)
{
	const char *label = sl->reg.label;
	soft_root *rt = root_of(sl->sf, label);

	if (rt == NULL) {
		ch_log(CH_LOG_ERROR,
		       "registration \"%s\" has an HSM root (key \"%s\") but no [root:%s] section "
		       "is configured: it cannot be opened",
		       label, root->key_label, label);
		return CKR_DEVICE_ERROR;
	}
	if (strcmp(root->key_label, rt->conf->key) != 0)
		ch_log(CH_LOG_WARNING,
		       "registration \"%s\": its root was made under the HSM key \"%s\"; [root:%s] "
		       "names \"%s\"",
		       label, root->key_label, rt->conf->name, rt->conf->key);
	if (root_crypt(rt, label, sl->reg.uuid, false, secret, root->blob) != CKR_OK)
		return CKR_DEVICE_ERROR;
	if (strcmp(next->label, label) == 0)
		return CKR_OK;
	/* Re-initialized under another name: the secret moves to that name's
	 * HSM key; without one the registration could not be opened again. */
	memset(root, 0, sizeof(*root));
	if (root_wrap(sl->sf, next->label, next->uuid, secret, root) != CKR_OK)
		return CKR_DEVICE_ERROR;
	if (!root->present) {
		ch_log(CH_LOG_ERROR,
		       "registration \"%s\" has an HSM root: renaming it \"%s\" needs a [root:%s] "
		       "section",
		       label, next->label, next->label);
		return CKR_DEVICE_ERROR;
	}
	return CKR_OK;
}

CK_RV soft_root_seal(soft_slot *sl, const ch_reg_row *next, bool fresh,
                     const uint8_t regkey[CH_REGKEY_LEN], ch_root_row *root, ch_seal **seal)
{
	ch_soft *sf = sl->sf;
	uint8_t secret[CH_ROOT_SECRET_LEN] = { 0 };
	CK_RV rv = CKR_OK;

	*seal = NULL;
	memset(root, 0, sizeof(*root));
	if (fresh) {
		/* A new registration: a new secret when a section names it. */
		if (root_of(sf, next->label) != NULL &&
		    ch_seal_random(secret, sizeof(secret)) != CKR_OK)
			rv = CKR_DEVICE_ERROR;
		else
			rv = root_wrap(sf, next->label, next->uuid, secret, root);
	} else {
		pthread_mutex_lock(&sf->lock);
		rv = ch_store_root_get(sf->store, (int64_t)sl->id, root);
		pthread_mutex_unlock(&sf->lock);
		if (rv != CKR_OK)
			rv = CKR_DEVICE_ERROR;
		else if (root->present)
			rv = root_unwrap(sl, next, secret, root);
		else
			warn_unbound(sf, next->label);
	}
	if (rv == CKR_OK)
		rv = seal_of(regkey, root->present, secret, next->uuid, seal);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rv != CKR_OK)
		memset(root, 0, sizeof(*root));
	return rv;
}
