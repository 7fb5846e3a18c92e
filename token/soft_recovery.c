/*
 * The software token's recovery key (vendor interface, issue 8): a random
 * key under which the registration key is kept wrapped, as under a PIN, in a
 * credential of its own that no login can use.  Its holder (in practice: M
 * of the N Shamir shares the admin tool made of it) can give the "so"
 * participant a new PIN when every admin PIN is lost.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"
#include "soft_internal.h"

static void recovery_ident(soft_ident *id)
{
	memset(id, 0, sizeof(*id));
	id->who = SOFT_RECOVERY_USER;
}

CK_RV soft_recovery_setup(void *be, CK_BYTE key[CH_RECOVERY_KEY_LEN])
{
	soft_slot *sl = be;
	soft_ident id;
	CK_RV rv;

	recovery_ident(&id);
	pthread_mutex_lock(&sl->lock);
	if (sl->seal == NULL) {
		rv = CKR_USER_NOT_LOGGED_IN;
	} else if ((rv = ch_seal_random(key, CH_RECOVERY_KEY_LEN)) == CKR_OK) {
		/* Replaces the earlier recovery credential, if any. */
		rv = soft_put_credential(sl, &id, 0, key, CH_RECOVERY_KEY_LEN, sl->regkey);
	}
	if (rv != CKR_OK)
		OPENSSL_cleanse(key, CH_RECOVERY_KEY_LEN);
	if (sl->seal != NULL)
		soft_audit(sl, sl->seal, sl->participant, "recovery.setup", NULL, rv, NULL);
	pthread_mutex_unlock(&sl->lock);
	return rv;
}

CK_RV soft_recover(void *be, const CK_BYTE *key, CK_ULONG len, const CK_UTF8CHAR *pin,
                   CK_ULONG pin_len)
{
	soft_slot *sl = be;
	uint8_t regkey[CH_REGKEY_LEN];
	soft_ident rid, so;
	ch_cred cred;
	CK_RV rv;

	if ((rv = soft_pin_check(pin_len)) != CKR_OK)
		return rv;
	recovery_ident(&rid);
	soft_ident_of(CKU_SO, NULL, &so);
	pthread_mutex_lock(&sl->lock);
	if ((rv = soft_slot_refresh(sl)) != CKR_OK)
		goto out;
	if (!sl->initialized) {
		rv = CKR_USER_PIN_NOT_INITIALIZED;
		goto out;
	}
	/* A wrong key counts toward the recovery credential's lockout. */
	rv = soft_verify_pin(sl, &rid, key, len, regkey, &cred);
	if (rv == CKR_OK)
		rv = soft_put_credential(sl, &so, CH_ROLE_ADMIN, pin, pin_len, regkey);
	OPENSSL_cleanse(regkey, sizeof(regkey));
	soft_audit(sl, NULL, SOFT_NAME_SO, "recovery.use", NULL, rv, NULL);
	if (rv == CKR_OK)
		ch_log(CH_LOG_WARNING,
		       "registration \"%s\": admin access restored with the "
		       "recovery key",
		       sl->reg.label);
out:
	pthread_mutex_unlock(&sl->lock);
	return rv;
}
