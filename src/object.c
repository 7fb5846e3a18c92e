/*
 * Object management (PKCS#11 3.0 section 5.7): argument checks, then the
 * slot's backend.  The attribute rules are the backend's (token/object.c for
 * the software token).
 */
#include "log.h"
#include "module.h"

/* A template pointer may be NULL only when it is empty. */
#define TEMPLATE_OK(t, n) ((t) != NULL || (n) == 0)

/* PKCS#11 3.0, 5.7 C_CreateObject. */
CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                     CK_OBJECT_HANDLE_PTR phObject)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if (!TEMPLATE_OK(pTemplate, ulCount) || phObject == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->create_object(s, pTemplate, ulCount, phObject);
	ch_session_put(s);
	return rv;
}

/* PKCS#11 3.0, 5.7 C_CopyObject. */
CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
                   CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if (!TEMPLATE_OK(pTemplate, ulCount) || phNewObject == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->copy_object(s, hObject, pTemplate, ulCount, phNewObject);
	ch_session_put(s);
	return rv;
}

/* PKCS#11 3.0, 5.7 C_DestroyObject. */
CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	rv = s->slot->ops->destroy_object(s, hObject);
	ch_session_put(s);
	return rv;
}

/* PKCS#11 3.0, 5.7 C_GetObjectSize. */
CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG_PTR pulSize)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if (pulSize == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->object_size(s, hObject, pulSize);
	ch_session_put(s);
	return rv;
}

/* PKCS#11 3.0, 5.7 C_GetAttributeValue. */
CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                          CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if (!TEMPLATE_OK(pTemplate, ulCount))
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->get_attributes(s, hObject, pTemplate, ulCount);
	ch_session_put(s);
	return rv;
}

/* PKCS#11 3.0, 5.7 C_SetAttributeValue. */
CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                          CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if (!TEMPLATE_OK(pTemplate, ulCount))
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->set_attributes(s, hObject, pTemplate, ulCount);
	ch_session_put(s);
	return rv;
}

/* PKCS#11 3.0, 5.7 C_FindObjectsInit. */
CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if (!TEMPLATE_OK(pTemplate, ulCount))
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->find_init(s, pTemplate, ulCount);
	ch_session_put(s);
	return rv;
}

/* PKCS#11 3.0, 5.7 C_FindObjects. */
CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                    CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if ((phObject == NULL && ulMaxObjectCount != 0) || pulObjectCount == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->find(s, phObject, ulMaxObjectCount, pulObjectCount);
	ch_session_put(s);
	return rv;
}

/* PKCS#11 3.0, 5.7 C_FindObjectsFinal. */
CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	rv = s->slot->ops->find_final(s);
	ch_session_put(s);
	return rv;
}
