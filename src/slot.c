/*
 * Slot and token management (PKCS#11 3.0 section 5.5): the slot list, slot
 * and token information, mechanisms, C_InitToken, C_InitPIN, C_SetPIN; and
 * the vendor interface's registration information.
 *
 * Slots are registrations.  The table here only grows while the module is
 * initialized (a registration created by another process appears at the next
 * C_GetSlotList), so a ch_slot pointer stays valid until C_Finalize.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "module.h"
#include "util.h"

static void slot_add(void *arg, CK_SLOT_ID id, const ch_backend_ops *ops, void *be)
{
	ch_slot *sl, **nv;

	for (size_t i = 0; i < ch_mod.nslot; i++)
		if (ch_mod.slot[i]->id == id)
			return;
	if ((sl = calloc(1, sizeof(*sl))) == NULL)
		return;
	if ((nv = realloc(ch_mod.slot, (ch_mod.nslot + 1) * sizeof(*nv))) == NULL) {
		free(sl);
		return;
	}
	ch_mod.slot = nv;
	sl->id = id;
	sl->ops = ops;
	sl->be = be;
	sl->user = CH_NOBODY;
	pthread_mutex_init(&sl->lock, NULL);
	ch_mod.slot[ch_mod.nslot++] = sl;
}

void ch_slots_refresh_unlocked(void)
{
	if (ch_mod.soft == NULL && ch_soft_open(&ch_mod.cfg, &ch_mod.soft) != CKR_OK)
		return;
	(void)ch_soft_slots(ch_mod.soft, slot_add, NULL);
}

void ch_slots_free_unlocked(void)
{
	for (size_t i = 0; i < ch_mod.nslot; i++) {
		pthread_mutex_destroy(&ch_mod.slot[i]->lock);
		free(ch_mod.slot[i]);
	}
	free(ch_mod.slot);
	ch_mod.slot = NULL;
	ch_mod.nslot = 0;
}

CK_RV ch_slot_get(CK_SLOT_ID id, ch_slot **out)
{
	CK_RV rv = CKR_SLOT_ID_INVALID;

	pthread_mutex_lock(&ch_mod.lock);
	for (int pass = 0; pass < 2 && rv != CKR_OK; pass++) {
		/* A slot not seen yet may have been created by another process. */
		if (pass == 1)
			ch_slots_refresh_unlocked();
		for (size_t i = 0; i < ch_mod.nslot; i++) {
			if (ch_mod.slot[i]->id == id) {
				*out = ch_mod.slot[i];
				rv = CKR_OK;
				break;
			}
		}
	}
	pthread_mutex_unlock(&ch_mod.lock);
	return rv;
}

static int slot_cmp(const void *a, const void *b)
{
	CK_SLOT_ID x = (*(ch_slot *const *)a)->id, y = (*(ch_slot *const *)b)->id;

	return x < y ? -1 : x > y;
}

/* The slot's description and flags (ch_mod.lock may be held: backends
 * answer this without waiting). */
static void slot_info(const ch_slot *sl, CK_SLOT_INFO *info)
{
	memset(info, 0, sizeof(*info));
	ch_pad(info->slotDescription, sizeof(info->slotDescription),
	       "Cipher Hub service registration");
	ch_pad(info->manufacturerID, sizeof(info->manufacturerID), "Cipher Hub");
	info->flags = CKF_TOKEN_PRESENT;
	info->hardwareVersion.minor = 1;
	info->firmwareVersion.minor = 1;
	if (sl->ops->slot_info != NULL)
		sl->ops->slot_info(sl->be, info);
}

static bool token_present(const ch_slot *sl)
{
	CK_SLOT_INFO info;

	slot_info(sl, &info);
	return (info.flags & CKF_TOKEN_PRESENT) != 0;
}

/* PKCS#11 3.0, 5.5 C_GetSlotList.  A forwarded slot whose backend is
 * missing has no token. */
CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = ch_module_check()) != CKR_OK)
		return rv;
	CH_CHECK_ARG(pulCount != NULL);
	pthread_mutex_lock(&ch_mod.lock);
	ch_slots_refresh_unlocked();
	if (ch_mod.nslot > 1)
		qsort(ch_mod.slot, ch_mod.nslot, sizeof(*ch_mod.slot), slot_cmp);
	for (size_t i = 0; i < ch_mod.nslot; i++) {
		if (tokenPresent && !token_present(ch_mod.slot[i]))
			continue;
		if (pSlotList != NULL && n < *pulCount)
			pSlotList[n] = ch_mod.slot[i]->id;
		n++;
	}
	if (pSlotList != NULL && n > *pulCount)
		rv = CKR_BUFFER_TOO_SMALL;
	*pulCount = n;
	pthread_mutex_unlock(&ch_mod.lock);
	return rv;
}

/* PKCS#11 3.0, 5.5 C_GetSlotInfo. */
CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
	ch_slot *sl;
	CK_RV rv;

	if ((rv = ch_module_check()) != CKR_OK)
		return rv;
	CH_CHECK_ARG(pInfo != NULL);
	if ((rv = ch_slot_get(slotID, &sl)) != CKR_OK)
		return rv;
	slot_info(sl, pInfo);
	return CKR_OK;
}

/* PKCS#11 3.0, 5.5 C_GetTokenInfo. */
CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
	ch_slot *sl;
	CK_RV rv;

	if ((rv = ch_module_check()) != CKR_OK)
		return rv;
	CH_CHECK_ARG(pInfo != NULL);
	if ((rv = ch_slot_get(slotID, &sl)) != CKR_OK)
		return rv;
	if ((rv = sl->ops->token_info(sl->be, pInfo)) != CKR_OK)
		return rv;
	pthread_mutex_lock(&sl->lock);
	pInfo->ulSessionCount = sl->sessions;
	pInfo->ulRwSessionCount = sl->rw_sessions;
	pthread_mutex_unlock(&sl->lock);
	return CKR_OK;
}

/* PKCS#11 3.0, 5.5 C_GetMechanismList. */
CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
                         CK_ULONG_PTR pulCount)
{
	ch_slot *sl;
	CK_RV rv;

	if ((rv = ch_module_check()) != CKR_OK)
		return rv;
	CH_CHECK_ARG(pulCount != NULL);
	if ((rv = ch_slot_get(slotID, &sl)) != CKR_OK)
		return rv;
	return sl->ops->mechanism_list(sl->be, pMechanismList, pulCount);
}

/* PKCS#11 3.0, 5.5 C_GetMechanismInfo. */
CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo)
{
	ch_slot *sl;
	CK_RV rv;

	if ((rv = ch_module_check()) != CKR_OK)
		return rv;
	CH_CHECK_ARG(pInfo != NULL);
	if ((rv = ch_slot_get(slotID, &sl)) != CKR_OK)
		return rv;
	return sl->ops->mechanism_info(sl->be, type, pInfo);
}

/* PKCS#11 3.0, 5.5 C_InitToken: on the free slot, creates a registration
 * named label; on a registration, erases it (right SO PIN required). */
CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
                  CK_UTF8CHAR_PTR pLabel)
{
	ch_slot *sl;
	CK_RV rv;

	if ((rv = ch_module_check()) != CKR_OK)
		return rv;
	/* No protected authentication path: the PIN must be given. */
	CH_CHECK_ARG(pPin != NULL);
	CH_CHECK_ARG(pLabel != NULL);
	if ((rv = ch_slot_get(slotID, &sl)) != CKR_OK)
		return rv;
	pthread_mutex_lock(&sl->lock);
	if (sl->sessions != 0) {
		pthread_mutex_unlock(&sl->lock);
		return CKR_SESSION_EXISTS;
	}
	rv = sl->ops->init_token(sl->be, pPin, ulPinLen, pLabel);
	pthread_mutex_unlock(&sl->lock);
	if (rv == CKR_OK) {
		pthread_mutex_lock(&ch_mod.lock);
		ch_slots_refresh_unlocked();
		pthread_mutex_unlock(&ch_mod.lock);
	}
	return rv;
}

/* PKCS#11 3.0, 5.5 C_InitPIN: the SO sets the user's PIN. */
CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if (pPin == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (!ch_session_rw(s))
		rv = CKR_SESSION_READ_ONLY;
	else if (ch_session_user(s) != CKU_SO)
		rv = CKR_USER_NOT_LOGGED_IN;
	else
		rv = s->slot->ops->init_pin(s->slot->be, pPin, ulPinLen);
	ch_session_put(s);
	return rv;
}

/* PKCS#11 3.0, 5.5 C_SetPIN: the logged-in user's PIN, or the user PIN when
 * nobody is logged in. */
CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
               CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
	ch_session *s;
	CK_USER_TYPE who;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	who = ch_session_user(s);
	if (pOldPin == NULL || pNewPin == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else if (!ch_session_rw(s)) {
		rv = CKR_SESSION_READ_ONLY;
	} else {
		/* A 2.40 client repeats the "name:pin" it logged in with. */
		char name[CH_NAME_MAX + 1];
		const CK_UTF8CHAR *pin = pOldPin;
		CK_ULONG len = ulOldLen;
		bool named = ch_split_name_pin(&pin, &len, name);

		rv = s->slot->ops->set_pin(s->slot->be, who == CH_NOBODY ? CKU_USER : who,
		                           named ? name : NULL, pin, len, pNewPin, ulNewLen);
	}
	ch_session_put(s);
	return rv;
}
