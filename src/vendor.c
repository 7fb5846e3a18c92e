/*
 * The vendor interface ("Cipher Hub", cipherhub/vendor.h): what PKCS#11 has
 * no call for.  Like the standard entry points, each function checks its
 * arguments and the session's state, then hands over to the slot's backend.
 *
 * Participant management needs an R/W session logged in as an admin (the SO
 * or a participant with the admin role): anything else is
 * CKR_USER_NOT_LOGGED_IN, or CKR_SESSION_READ_ONLY for a read-only session.
 * Listing is also open to auditors.
 */
#include <string.h>

#include "log.h"
#include "module.h"
#include "util.h"

/* Vendor interface: what PKCS#11 cannot say about a registration. */
CK_RV CH_GetRegistrationInfo(CK_SLOT_ID slotID, CH_REGISTRATION_INFO *pInfo)
{
	ch_slot *sl;
	CK_RV rv;

	if ((rv = ch_module_check()) != CKR_OK)
		return rv;
	CH_CHECK_ARG(pInfo != NULL);
	if ((rv = ch_slot_get(slotID, &sl)) != CKR_OK)
		return rv;
	return sl->ops->registration_info(sl->be, pInfo);
}

/* May session s manage participants (write: also needs R/W)? */
static CK_RV admin_session(ch_session *s, bool write)
{
	if (ch_session_user(s) != CKU_SO || !(ch_session_roles(s) & CH_ROLE_ADMIN))
		return CKR_USER_NOT_LOGGED_IN;
	if (write && !ch_session_rw(s))
		return CKR_SESSION_READ_ONLY;
	return CKR_OK;
}

/* Copies a checked participant name into a C string. */
static CK_RV name_arg(const CK_UTF8CHAR *name, CK_ULONG len, char out[CH_NAME_MAX + 1])
{
	if (!ch_name_valid(name, len))
		return CKR_ARGUMENTS_BAD;
	memcpy(out, name, len);
	out[len] = '\0';
	return CKR_OK;
}

CK_RV CH_ParticipantAdd(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR name, CK_ULONG nameLen,
                        CK_FLAGS roles, CK_UTF8CHAR_PTR pin, CK_ULONG pinLen)
{
	char n[CH_NAME_MAX + 1];
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if ((rv = admin_session(s, true)) != CKR_OK)
		goto out;
	if (pin == NULL || roles == 0 || (roles & ~CH_ROLES_ALL) != 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = name_arg(name, nameLen, n)) == CKR_OK)
		rv = s->slot->ops->participant_add(s->slot->be, n, roles, pin, pinLen);
out:
	ch_session_put(s);
	return rv;
}

CK_RV CH_ParticipantRemove(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR name, CK_ULONG nameLen)
{
	char n[CH_NAME_MAX + 1];
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if ((rv = admin_session(s, true)) == CKR_OK && (rv = name_arg(name, nameLen, n)) == CKR_OK)
		rv = s->slot->ops->participant_remove(s->slot->be, n);
	ch_session_put(s);
	return rv;
}

CK_RV CH_ParticipantList(CK_SESSION_HANDLE session, CH_PARTICIPANT_INFO_PTR list,
                         CK_ULONG_PTR count)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if (count == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (admin_session(s, false) != CKR_OK && !(ch_session_roles(s) & CH_ROLE_AUDITOR))
		rv = CKR_USER_NOT_LOGGED_IN;
	else
		rv = s->slot->ops->participant_list(s->slot->be, list, count);
	ch_session_put(s);
	return rv;
}

CK_RV CH_ParticipantSetRoles(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR name, CK_ULONG nameLen,
                             CK_FLAGS roles)
{
	char n[CH_NAME_MAX + 1];
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if ((rv = admin_session(s, true)) != CKR_OK)
		goto out;
	if (roles == 0 || (roles & ~CH_ROLES_ALL) != 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = name_arg(name, nameLen, n)) == CKR_OK)
		rv = s->slot->ops->participant_set_roles(s->slot->be, n, roles);
out:
	ch_session_put(s);
	return rv;
}

CK_RV CH_ParticipantUnlock(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR name, CK_ULONG nameLen)
{
	char n[CH_NAME_MAX + 1];
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if ((rv = admin_session(s, true)) == CKR_OK && (rv = name_arg(name, nameLen, n)) == CKR_OK)
		rv = s->slot->ops->participant_unlock(s->slot->be, n);
	ch_session_put(s);
	return rv;
}

/* May session s manage grants (admin or operator; write: also R/W)? */
static CK_RV grant_session(ch_session *s, bool write)
{
	CK_FLAGS roles = ch_session_roles(s);

	if (!(roles & (CH_ROLE_ADMIN | CH_ROLE_OPERATOR)) && (write || !(roles & CH_ROLE_AUDITOR)))
		return CKR_USER_NOT_LOGGED_IN;
	if (write && !ch_session_rw(s))
		return CKR_SESSION_READ_ONLY;
	return CKR_OK;
}

/* A grantee: a participant name or "role:NAME". */
static CK_RV grantee_arg(const CK_UTF8CHAR *g, CK_ULONG len, char out[CH_GRANTEE_MAX + 1])
{
	if (g == NULL || len == 0 || len > CH_GRANTEE_MAX)
		return CKR_ARGUMENTS_BAD;
	if (!(len > 5 && memcmp(g, "role:", 5) == 0) && !ch_name_valid(g, len))
		return CKR_ARGUMENTS_BAD;
	memcpy(out, g, len);
	out[len] = '\0';
	return CKR_OK;
}

CK_RV CH_GrantSet(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, CK_UTF8CHAR_PTR grantee,
                  CK_ULONG granteeLen, CK_FLAGS operations)
{
	char g[CH_GRANTEE_MAX + 1];
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if ((rv = grant_session(s, true)) != CKR_OK)
		goto out;
	if ((operations & ~CH_GRANT_ALL) != 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = grantee_arg(grantee, granteeLen, g)) == CKR_OK)
		rv = s->slot->ops->grant_set(s->slot->be, key, g, operations);
out:
	ch_session_put(s);
	return rv;
}

CK_RV CH_GrantList(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, CH_GRANT_INFO_PTR list,
                   CK_ULONG_PTR count)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if (count == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if ((rv = grant_session(s, false)) == CKR_OK)
		rv = s->slot->ops->grant_list(s->slot->be, key, list, count);
	ch_session_put(s);
	return rv;
}

/* May session s read the audit log (admin or auditor)? */
static CK_RV audit_session(ch_session *s)
{
	if (admin_session(s, false) == CKR_OK || (ch_session_roles(s) & CH_ROLE_AUDITOR))
		return CKR_OK;
	return CKR_USER_NOT_LOGGED_IN;
}

CK_RV CH_AuditRead(CK_SESSION_HANDLE session, CK_ULONG fromSeq, CH_AUDIT_RECORD_PTR list,
                   CK_ULONG_PTR count)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if (count == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if ((rv = audit_session(s)) == CKR_OK)
		rv = s->slot->ops->audit_read(s->slot->be, fromSeq, list, count);
	ch_session_put(s);
	return rv;
}

CK_RV CH_AuditVerify(CK_SESSION_HANDLE session, CK_ULONG_PTR firstBad, CK_ULONG_PTR unauthenticated)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if (firstBad == NULL || unauthenticated == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if ((rv = audit_session(s)) == CKR_OK)
		rv = s->slot->ops->audit_verify(s->slot->be, firstBad, unauthenticated);
	ch_session_put(s);
	return rv;
}

/* ---- Recovery (issue 8) ---- */

CK_RV CH_RecoverySetup(CK_SESSION_HANDLE session, CK_BYTE_PTR key, CK_ULONG_PTR keyLen)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if ((rv = admin_session(s, true)) != CKR_OK)
		goto out;
	if (key == NULL || keyLen == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (*keyLen < CH_RECOVERY_KEY_LEN)
		rv = CKR_BUFFER_TOO_SMALL;
	else /* straight into the caller's buffer: no copy of ours to wipe */
		rv = s->slot->ops->recovery_setup(s->slot->be, key);
	if (keyLen != NULL)
		*keyLen = CH_RECOVERY_KEY_LEN;
out:
	ch_session_put(s);
	return rv;
}

CK_RV CH_Recover(CK_SESSION_HANDLE session, CK_BYTE_PTR key, CK_ULONG keyLen,
                 CK_UTF8CHAR_PTR newPin, CK_ULONG newPinLen)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if (key == NULL || newPin == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (ch_session_user(s) != CH_NOBODY)
		rv = CKR_USER_ALREADY_LOGGED_IN;
	else if (!ch_session_rw(s))
		rv = CKR_SESSION_READ_ONLY;
	else
		rv = s->slot->ops->recover(s->slot->be, key, keyLen, newPin, newPinLen);
	ch_session_put(s);
	return rv;
}

/* ---- Backup and restore (issue 8) ---- */

CK_RV CH_BackupExport(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG_PTR outLen)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if (outLen == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (s->slot->ops->backup_export == NULL)
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	else if ((rv = admin_session(s, false)) == CKR_OK)
		rv = s->slot->ops->backup_export(s->slot->be, out, outLen);
	ch_session_put(s);
	return rv;
}

CK_RV CH_BackupImport(CK_SLOT_ID slotID, CK_BYTE_PTR data, CK_ULONG len, CK_UTF8CHAR_PTR soPin,
                      CK_ULONG soPinLen)
{
	ch_slot *sl;
	CK_RV rv;

	if ((rv = ch_module_check()) != CKR_OK)
		return rv;
	CH_CHECK_ARG(data != NULL);
	CH_CHECK_ARG(soPin != NULL);
	if ((rv = ch_slot_get(slotID, &sl)) != CKR_OK)
		return rv;
	if (sl->ops->backup_import == NULL)
		return CKR_FUNCTION_NOT_SUPPORTED;
	/* As C_InitToken: nobody may be working on the slot meanwhile. */
	pthread_mutex_lock(&sl->lock);
	if (sl->sessions != 0)
		rv = CKR_SESSION_EXISTS;
	else
		rv = sl->ops->backup_import(sl->be, data, len, soPin, soPinLen);
	pthread_mutex_unlock(&sl->lock);
	if (rv == CKR_OK) {
		pthread_mutex_lock(&ch_mod.lock);
		ch_slots_refresh_unlocked();
		pthread_mutex_unlock(&ch_mod.lock);
	}
	return rv;
}

/* ---- Key versions (issue 8) ---- */

/* May session s change keys (R/W; the backend checks the operator role)? */
static CK_RV key_session(ch_session *s, bool have)
{
	if (!have)
		return CKR_FUNCTION_NOT_SUPPORTED;
	if (ch_session_user(s) != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	if (!ch_session_rw(s))
		return CKR_SESSION_READ_ONLY;
	return CKR_OK;
}

CK_RV CH_KeyRotate(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, CK_OBJECT_HANDLE_PTR newKey)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if (newKey == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if ((rv = key_session(s, s->slot->ops->key_rotate != NULL)) == CKR_OK)
		rv = s->slot->ops->key_rotate(s, key, newKey);
	ch_session_put(s);
	return rv;
}

CK_RV CH_KeySetState(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, CK_ULONG state)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if (state != CH_KEY_STATE_ACTIVE && state != CH_KEY_STATE_DISABLED &&
	    state != CH_KEY_STATE_DESTROYED)
		rv = CKR_ARGUMENTS_BAD;
	else if ((rv = key_session(s, s->slot->ops->key_set_state != NULL)) == CKR_OK)
		rv = s->slot->ops->key_set_state(s, key, state);
	ch_session_put(s);
	return rv;
}

CK_RV CH_KeySetMinVersion(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, CK_ULONG minVersion)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if (minVersion == 0)
		rv = CKR_ARGUMENTS_BAD;
	else if ((rv = key_session(s, s->slot->ops->key_set_min_version != NULL)) == CKR_OK)
		rv = s->slot->ops->key_set_min_version(s, key, minVersion);
	ch_session_put(s);
	return rv;
}

/* ---- Versioned encryption (issue 8) ---- */

/* May session s use keys through a backend that has the call? */
static CK_RV use_session(ch_session *s, bool have)
{
	if (!have)
		return CKR_FUNCTION_NOT_SUPPORTED;
	return ch_session_user(s) == CKU_USER ? CKR_OK : CKR_USER_NOT_LOGGED_IN;
}

CK_RV CH_Rewrap(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key,
                CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR out, CK_ULONG_PTR outLen)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if (mech == NULL || outLen == NULL || (in == NULL && inLen > 0))
		rv = CKR_ARGUMENTS_BAD;
	else if ((rv = use_session(s, s->slot->ops->rewrap != NULL)) == CKR_OK)
		rv = s->slot->ops->rewrap(s, mech, key, in, inLen, out, outLen);
	ch_session_put(s);
	return rv;
}

CK_RV CH_DataKeyGenerate(CK_SESSION_HANDLE session, CK_MECHANISM_PTR wrapMech, CK_OBJECT_HANDLE kek,
                         CK_ULONG keyLen, CK_BYTE_PTR wrapped, CK_ULONG_PTR wrappedLen,
                         CK_BYTE_PTR plain, CK_ULONG_PTR plainLen)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(session, s);
	if (wrapMech == NULL || wrappedLen == NULL || (plain != NULL && plainLen == NULL))
		rv = CKR_ARGUMENTS_BAD;
	else if ((rv = use_session(s, s->slot->ops->datakey_generate != NULL)) == CKR_OK)
		rv = s->slot->ops->datakey_generate(s, wrapMech, kek, keyLen, wrapped, wrappedLen,
		                                    plain, plainLen);
	ch_session_put(s);
	return rv;
}
