/*
 * Session management (PKCS#11 3.0 section 5.6): opening and closing
 * sessions, their information, and login -- the state machine of the spec's
 * section 4.x session states, kept per slot for the whole application.
 *
 * Sessions are reference counted: a call holds a reference and the session's
 * lock while it works, so C_CloseSession from another thread waits for it and
 * the memory outlives the last user.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "module.h"
#include "util.h"

static void session_free(ch_session *s)
{
	pthread_mutex_destroy(&s->lock);
	free(s);
}

CK_RV ch_session_get(CK_SESSION_HANDLE h, ch_session **out)
{
	ch_session *s = NULL;
	CK_RV rv;

	if ((rv = ch_module_check()) != CKR_OK)
		return rv;
	pthread_mutex_lock(&ch_mod.lock);
	for (size_t i = 0; i < ch_mod.nsession; i++) {
		if (ch_mod.session[i]->handle == h) {
			s = ch_mod.session[i];
			/* The table's own reference keeps refs above 0 here. */
			__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	pthread_mutex_unlock(&ch_mod.lock);
	if (s == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	pthread_mutex_lock(&s->lock);
	if (s->closed) {
		ch_session_put(s);
		return CKR_SESSION_HANDLE_INVALID;
	}
	*out = s;
	return CKR_OK;
}

void ch_session_put(ch_session *s)
{
	bool last;

	if (s == NULL)
		return;
	pthread_mutex_unlock(&s->lock);
	last = __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0;
	if (last)
		session_free(s);
}

/* Closes a session taken with ch_session_get (locked): the backend drops its
 * objects and operations, the slot's counts go down, and the last session of
 * a slot ends its login (5.6 C_CloseSession). */
static void session_close_locked(ch_session *s)
{
	ch_slot *sl = s->slot;

	s->closed = true;
	pthread_mutex_lock(&ch_mod.lock);
	for (size_t i = 0; i < ch_mod.nsession; i++) {
		if (ch_mod.session[i] == s) {
			ch_mod.session[i] = ch_mod.session[--ch_mod.nsession];
			/* The table's reference; the caller holds another. */
			(void)__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
			break;
		}
	}
	pthread_mutex_unlock(&ch_mod.lock);
	sl->ops->session_close(s);
	pthread_mutex_lock(&sl->lock);
	sl->sessions--;
	if (ch_session_rw(s))
		sl->rw_sessions--;
	if (sl->sessions == 0 && sl->user != CH_NOBODY) {
		sl->ops->logout(sl->be);
		sl->user = CH_NOBODY;
	}
	pthread_mutex_unlock(&sl->lock);
}

void ch_sessions_close(ch_slot *slot)
{
	for (;;) {
		CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
		ch_session *s;

		pthread_mutex_lock(&ch_mod.lock);
		for (size_t i = 0; i < ch_mod.nsession; i++) {
			if (slot == NULL || ch_mod.session[i]->slot == slot) {
				h = ch_mod.session[i]->handle;
				break;
			}
		}
		pthread_mutex_unlock(&ch_mod.lock);
		if (h == CK_INVALID_HANDLE || ch_session_get(h, &s) != CKR_OK)
			return;
		session_close_locked(s);
		ch_session_put(s);
	}
}

/* PKCS#11 3.0, 5.6 C_OpenSession.  Notification callbacks are accepted and
 * never called (we have no surrender points). */
CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication, CK_NOTIFY Notify,
                    CK_SESSION_HANDLE_PTR phSession)
{
	ch_slot *sl;
	ch_session *s = NULL, **nv;
	bool rw = (flags & CKF_RW_SESSION) != 0;
	CK_RV rv;

	if ((rv = ch_module_check()) != CKR_OK)
		return rv;
	CH_CHECK_ARG(phSession != NULL);
	if (!(flags & CKF_SERIAL_SESSION))
		return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	if ((rv = ch_slot_get(slotID, &sl)) != CKR_OK)
		return rv;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CKR_HOST_MEMORY;
	pthread_mutex_init(&s->lock, NULL);
	s->slot = sl;
	s->flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
	s->refs = 1;

	pthread_mutex_lock(&sl->lock);
	if (!rw && sl->user == CKU_SO) {
		rv = CKR_SESSION_READ_WRITE_SO_EXISTS;
		goto unlock;
	}
	if ((rv = sl->ops->session_open(s)) != CKR_OK)
		goto unlock;
	pthread_mutex_lock(&ch_mod.lock);
	if (ch_mod.nsession == ch_mod.session_cap) {
		size_t ncap = ch_mod.session_cap ? ch_mod.session_cap * 2 : 16;

		if ((nv = realloc(ch_mod.session, ncap * sizeof(*nv))) == NULL) {
			pthread_mutex_unlock(&ch_mod.lock);
			sl->ops->session_close(s);
			rv = CKR_HOST_MEMORY;
			goto unlock;
		}
		ch_mod.session = nv;
		ch_mod.session_cap = ncap;
	}
	s->handle = ch_mod.next_session++;
	ch_mod.session[ch_mod.nsession++] = s;
	pthread_mutex_unlock(&ch_mod.lock);
	sl->sessions++;
	if (rw)
		sl->rw_sessions++;
	*phSession = s->handle;
	s = NULL; /* transferred to the table */
unlock:
	pthread_mutex_unlock(&sl->lock);
	if (s != NULL)
		session_free(s);
	return rv;
}

/* PKCS#11 3.0, 5.6 C_CloseSession. */
CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
	ch_session *s;

	CH_SESSION_ENTER(hSession, s);
	session_close_locked(s);
	ch_session_put(s);
	return CKR_OK;
}

/* PKCS#11 3.0, 5.6 C_CloseAllSessions. */
CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
	ch_slot *sl;
	CK_RV rv;

	if ((rv = ch_module_check()) != CKR_OK)
		return rv;
	if ((rv = ch_slot_get(slotID, &sl)) != CKR_OK)
		return rv;
	ch_sessions_close(sl);
	return CKR_OK;
}

/* PKCS#11 3.0, 5.6 C_GetSessionInfo. */
CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
	ch_session *s;
	CK_USER_TYPE user;
	bool rw;

	CH_SESSION_ENTER(hSession, s);
	if (pInfo == NULL) {
		ch_session_put(s);
		return CKR_ARGUMENTS_BAD;
	}
	user = ch_session_user(s);
	rw = ch_session_rw(s);
	memset(pInfo, 0, sizeof(*pInfo));
	pInfo->slotID = s->slot->id;
	pInfo->flags = s->flags;
	if (user == CKU_SO)
		pInfo->state = CKS_RW_SO_FUNCTIONS;
	else if (user == CKU_USER)
		pInfo->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
	else
		pInfo->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
	ch_session_put(s);
	return CKR_OK;
}

/* The login state rules of 5.6 C_Login, for slot sl (its lock held). */
static CK_RV login_allowed(ch_slot *sl, CK_USER_TYPE who)
{
	if (who != CKU_SO && who != CKU_USER && who != CKU_CONTEXT_SPECIFIC)
		return CKR_USER_TYPE_INVALID;
	if (who == CKU_CONTEXT_SPECIFIC)
		/* No key of ours needs CKA_ALWAYS_AUTHENTICATE yet. */
		return sl->user == CH_NOBODY ? CKR_USER_NOT_LOGGED_IN
		                             : CKR_OPERATION_NOT_INITIALIZED;
	if (sl->user == who)
		return CKR_USER_ALREADY_LOGGED_IN;
	if (sl->user != CH_NOBODY)
		return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
	if (who == CKU_SO && sl->rw_sessions != sl->sessions)
		return CKR_SESSION_READ_ONLY_EXISTS;
	return CKR_OK;
}

/* Logs the application in on the session's slot as participant name (NULL:
 * the default SO or user) with pin. */
static CK_RV login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, const char *name,
                   const CK_UTF8CHAR *pin, CK_ULONG pin_len)
{
	ch_session *s;
	ch_slot *sl;
	CK_FLAGS roles = 0;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	sl = s->slot;
	pthread_mutex_lock(&sl->lock);
	if ((rv = login_allowed(sl, userType)) != CKR_OK)
		goto out;
	/* No protected authentication path: the PIN must be given. */
	if (pin == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	rv = sl->ops->login(sl->be, userType, name, pin, pin_len, &roles);
	if (rv == CKR_OK) {
		sl->user = userType;
		sl->roles = roles;
	} else if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED) {
		ch_log(CH_LOG_INFO, "slot %lu: login of %s failed: %s", (unsigned long)sl->id,
		       name != NULL ? name : (userType == CKU_SO ? "so" : "default"),
		       rv == CKR_PIN_LOCKED ? "locked" : "wrong PIN");
	}
out:
	pthread_mutex_unlock(&sl->lock);
	ch_session_put(s);
	return rv;
}

/* PKCS#11 3.0, 5.6 C_Login.  The login holds for every session of the
 * application on that slot.  For PKCS#11 2.40 clients, a PIN of the form
 * "name:pin" whose name is a well-formed participant name logs in that
 * participant (the convention of network HSMs); any other PIN is the default
 * SO's or user's. */
CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
              CK_ULONG ulPinLen)
{
	char name[CH_NAME_MAX + 1];
	const CK_UTF8CHAR *pin = pPin;
	CK_ULONG len = ulPinLen;

	if (ch_split_name_pin(&pin, &len, name))
		return login(hSession, userType, name, pin, len);
	return login(hSession, userType, NULL, pPin, ulPinLen);
}

/* PKCS#11 3.0, 5.6 C_LoginUser: C_Login as a named participant. */
CK_RV C_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
                  CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen)
{
	char name[CH_NAME_MAX + 1];
	CK_RV rv;

	if ((rv = ch_module_check()) != CKR_OK)
		return rv;
	if (pUsername == NULL || ulUsernameLen == 0)
		return login(hSession, userType, NULL, pPin, ulPinLen);
	/* A name that cannot exist is a wrong login, told apart from nothing. */
	if (!ch_name_valid(pUsername, ulUsernameLen))
		return CKR_ARGUMENTS_BAD;
	memcpy(name, pUsername, ulUsernameLen);
	name[ulUsernameLen] = '\0';
	return login(hSession, userType, name, pPin, ulPinLen);
}

/* PKCS#11 3.0, 5.6 C_Logout. */
CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
	ch_session *s;
	ch_slot *sl;
	CK_RV rv = CKR_OK;

	CH_SESSION_ENTER(hSession, s);
	sl = s->slot;
	pthread_mutex_lock(&sl->lock);
	if (sl->user == CH_NOBODY) {
		rv = CKR_USER_NOT_LOGGED_IN;
	} else {
		sl->ops->logout(sl->be);
		sl->user = CH_NOBODY;
	}
	pthread_mutex_unlock(&sl->lock);
	ch_session_put(s);
	return rv;
}
