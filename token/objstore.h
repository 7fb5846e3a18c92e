/*
 * The token-facing store: objects as attribute sets in, sealed rows out.
 *
 * Sits between the soft backend (which thinks in ch_attrs) and the raw store
 * (which thinks in rows).  Decides which attribute is sealed (secret key
 * material always; every attribute of a private object except its class,
 * CKA_TOKEN and CKA_PRIVATE), computes blind indexes and the object MAC, and
 * on load verifies the MAC and opens every sealed value before anything is
 * released.
 */
#ifndef CH_TOKEN_OBJSTORE_H
#define CH_TOKEN_OBJSTORE_H

#include <stdbool.h>

#include "attrs.h"
#include "seal.h"
#include "store.h"

/* Writes object a of registration reg, created by participant owner (its
 * store key: "" for the default ones; kept only for a new object): a new
 * object when *id == 0 (then *id is set), else replaces object *id.  Requires seal (someone logged
 * in) and an open transaction.  CKR_OK, CKR_HOST_MEMORY, CKR_DEVICE_ERROR. */
CK_RV ch_objstore_save(ch_store *st, const ch_seal *seal, int64_t reg, const ch_attrs *a,
                       const char *owner, int64_t *id);

/* Loads object id of registration reg.  With seal, verifies the MAC and opens
 * sealed values; without (nobody logged in), only public objects load and
 * their sealed (secret) attributes are left out.  CKR_OK with *out (caller
 * frees); CKR_OBJECT_HANDLE_INVALID when absent, of another registration, or
 * private without seal; CKR_DEVICE_ERROR when the object fails its integrity
 * check (logged, naming the object).  owner (may be NULL) gets the creator. */
CK_RV ch_objstore_load(ch_store *st, const ch_seal *seal, int64_t reg, int64_t id, ch_attrs **out,
                       char owner[CH_NAME_MAX + 1]);

/* ch_objstore_load, also giving the generation of the rows it read (gen may
 * be NULL): the key cache's proof that a copy is current. */
CK_RV ch_objstore_load_gen(ch_store *st, const ch_seal *seal, int64_t reg, int64_t id,
                           ch_attrs **out, char owner[CH_NAME_MAX + 1], int64_t *gen);

/* Candidate IDs for a find template, pre-filtered in SQL: fn is called for
 * each; the caller loads and confirms.  with_private: include private objects. */
CK_RV ch_objstore_find(ch_store *st, const ch_seal *seal, int64_t reg, bool with_private,
                       const CK_ATTRIBUTE *t, CK_ULONG n, int (*fn)(void *arg, int64_t id),
                       void *arg);

/* The MAC of a grant row of object id (seal.c's object MAC over a pseudo
 * row, so a grant cannot be moved to another object or edited). */
CK_RV ch_objstore_grant_mac(const ch_seal *seal, int64_t id, const char *grantee, CK_FLAGS ops,
                            uint8_t mac[CH_MAC_LEN]);

#endif
