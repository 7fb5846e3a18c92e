/*
 * Object model: the PKCS#11 attribute rules for every object class the
 * software token holds (data, certificate, public key, private key, secret
 * key).
 *
 * This is pure policy over ch_attrs: it never touches the store or OpenSSL.
 * The soft backend calls it when an object is created, generated, unwrapped,
 * derived, copied, changed, read or destroyed, and stores whatever it
 * returns.  Each class has one validating factory; the rules themselves are a
 * table of attributes with the spec's footnotes (PKCS#11 3.0, section 4,
 * "Common footnotes for object attribute tables") as flags, so that
 * "may CKA_X be set on a CKO_Y after creation" is answered in one place.
 */
#ifndef CH_TOKEN_OBJECT_H
#define CH_TOKEN_OBJECT_H

#include <stdbool.h>

#include "cipherhub/pkcs11.h"
#include "attrs.h"

/* How an object comes into being; decides footnotes 1-6 of the spec's
 * attribute tables and the values of CKA_LOCAL, CKA_ALWAYS_SENSITIVE and
 * CKA_NEVER_EXTRACTABLE. */
typedef enum ch_origin {
	CH_ORIGIN_CREATE,   /* C_CreateObject */
	CH_ORIGIN_GENERATE, /* C_GenerateKey, C_GenerateKeyPair */
	CH_ORIGIN_UNWRAP,   /* C_UnwrapKey */
	CH_ORIGIN_DERIVE,   /* C_DeriveKey */
} ch_origin;

/* Who is acting: some attributes (CKA_TRUSTED = TRUE) only the SO may set. */
typedef struct ch_object_env {
	bool so;               /* the Security Officer is logged in */
	bool legacy_key_roles; /* the registration's policy relaxes key-role
	                        * separation (see ch_object_pair_roles_ok) */
} ch_object_env;

/* Builds a new object's attribute set from a caller's template.
 *
 * For CH_ORIGIN_CREATE the class (and key type) come from the template and
 * cls/kt are CK_UNAVAILABLE_INFORMATION.  For the other origins the mechanism
 * fixes them in cls/kt; a template that names another class or key type is
 * CKR_TEMPLATE_INCONSISTENT.  Where the mechanism cannot know them (C_UnwrapKey,
 * most of C_DeriveKey) pass CK_UNAVAILABLE_INFORMATION and the template must
 * give them (else CKR_TEMPLATE_INCOMPLETE).
 *
 * Checks the template (unknown or foreign attributes, read-only ones, values
 * of the wrong size or range, attributes that must or must not be given for
 * this origin) and applies the defaults.  For CH_ORIGIN_CREATE the result is
 * complete; for the other origins the caller adds the key material and then
 * calls ch_object_finish().  CKA_UNIQUE_ID is never set here (the store
 * assigns it).
 *
 * Returns CKR_OK with *out set (caller frees), or the spec's code with *out
 * NULL: CKR_TEMPLATE_INCOMPLETE, CKR_TEMPLATE_INCONSISTENT,
 * CKR_ATTRIBUTE_TYPE_INVALID, CKR_ATTRIBUTE_VALUE_INVALID,
 * CKR_ATTRIBUTE_READ_ONLY, CKR_HOST_MEMORY. */
CK_RV ch_object_build(ch_origin origin, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, const CK_ATTRIBUTE *t,
                      CK_ULONG n, const ch_object_env *env, ch_attrs **out);

/*
 * Key-role separation, against the key-management attacks on PKCS#11
 * tokens (Clulow 2003; Bortolozzo, Centenaro, Focardi and Steel 2010): a key
 * that may both wrap and decrypt hands out any key it wraps (wrap it, then
 * decrypt the blob), and one that may both unwrap and encrypt imports a key
 * of the attacker's choosing (encrypt it, then unwrap).  So no key holds
 * CKA_WRAP with CKA_DECRYPT, nor CKA_UNWRAP with CKA_ENCRYPT, unless
 * env->legacy_key_roles: ch_object_build and ch_object_copy answer
 * CKR_TEMPLATE_INCONSISTENT, ch_object_set CKR_ATTRIBUTE_VALUE_INVALID.
 * A key pair is one key to the attack (wrap with the public half, decrypt
 * with the private): C_GenerateKeyPair asks this of its two templates
 * (false: refuse with CKR_TEMPLATE_INCONSISTENT).  Halves created apart by
 * C_CreateObject are not linked, so that case is the caller's.
 */
bool ch_object_pair_roles_ok(const ch_attrs *pub, const ch_attrs *priv, const ch_object_env *env);

/* Completes an object built for GENERATE, UNWRAP or DERIVE once the key
 * material is in: checks that everything the class requires is present and
 * sets CKA_LOCAL, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE and
 * CKA_VALUE_LEN where they apply.  mech is the generating mechanism
 * (CKA_KEY_GEN_MECHANISM) or CK_UNAVAILABLE_INFORMATION.
 * Returns CKR_OK, or with a unchanged: CKR_TEMPLATE_INCOMPLETE (key material
 * missing), CKR_TEMPLATE_INCONSISTENT (a CKA_VALUE_LEN the template gave
 * differs from the material's), CKR_ATTRIBUTE_VALUE_INVALID (material of the
 * wrong size for the key type, e.g. a 20-byte AES key), CKR_HOST_MEMORY,
 * CKR_GENERAL_ERROR (a is not an object ch_object_build made).  A derived
 * key gets CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE FALSE; the derive
 * code may raise them from the base key as spec 5.16.5 says. */
CK_RV ch_object_finish(ch_origin origin, CK_MECHANISM_TYPE mech, ch_attrs *a);

/* C_SetAttributeValue: returns in *out the object's attributes after the
 * change, leaving cur untouched; on error *out is NULL and nothing changes.
 * CKR_ACTION_PROHIBITED when CKA_MODIFIABLE is FALSE;
 * CKR_ATTRIBUTE_READ_ONLY for attributes that cannot change (or change in
 * that direction: CKA_SENSITIVE only FALSE->TRUE, CKA_EXTRACTABLE only
 * TRUE->FALSE, ...); also CKR_ATTRIBUTE_TYPE_INVALID (not an attribute of
 * the class), CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT (a type
 * given twice), CKR_HOST_MEMORY, CKR_GENERAL_ERROR (cur is not an object). */
CK_RV ch_object_set(const ch_attrs *cur, const CK_ATTRIBUTE *t, CK_ULONG n,
                    const ch_object_env *env, ch_attrs **out);

/* C_CopyObject: like ch_object_set, but CKA_TOKEN, CKA_PRIVATE and
 * CKA_MODIFIABLE may also be given; CKR_ACTION_PROHIBITED when CKA_COPYABLE
 * is FALSE.  The copy's CKA_UNIQUE_ID is removed (the store assigns a new
 * one). */
CK_RV ch_object_copy(const ch_attrs *cur, const CK_ATTRIBUTE *t, CK_ULONG n,
                     const ch_object_env *env, ch_attrs **out);

/* May a C_GenerateKey(Pair) template for a key shaped like a (its class and
 * key type) give attribute type?  False for what the token computes, what
 * generation forbids (key material, CKA_EC_POINT, ...), what only the SO
 * changes, and array attributes (their stored form is not a template).
 * The rotation code builds a new version's template with it. */
bool ch_object_may_generate(const ch_attrs *a, CK_ATTRIBUTE_TYPE type);

/* C_DestroyObject: CKR_ACTION_PROHIBITED when CKA_DESTROYABLE is FALSE.
 * (The primary of a family with other versions: soft_version_may_destroy.) */
CK_RV ch_object_may_destroy(const ch_attrs *a);

/* C_GetAttributeValue over one object, with the spec's rules for every
 * template entry: sensitive or unextractable key material and unknown types
 * get CK_UNAVAILABLE_INFORMATION in ulValueLen, NULL pValue gets the length,
 * a short buffer gets CK_UNAVAILABLE_INFORMATION.  Every entry is processed;
 * returns CKR_OK, CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID or
 * CKR_BUFFER_TOO_SMALL. */
CK_RV ch_object_get(const ch_attrs *a, CK_ATTRIBUTE *t, CK_ULONG n);

/* True when the value of this attribute is secret key material (CKA_VALUE of
 * a secret or private key, RSA private components, ...): it is never stored
 * unencrypted, never indexed, never revealed when the key is sensitive. */
bool ch_object_attr_is_secret(const ch_attrs *a, CK_ATTRIBUTE_TYPE type);

/* The C_FindObjects matching rule over one object: true when every entry of
 * t is present in a with the same value, compared as the attribute's kind
 * says (a CK_BBOOL given as any non-zero byte matches TRUE; an array
 * attribute matches its stored template).  Hidden key material (see
 * ch_object_get) never matches.  Prefer this to ch_attrs_match for
 * caller-supplied templates. */
bool ch_object_match(const ch_attrs *a, const CK_ATTRIBUTE *t, CK_ULONG n);

/* The template held by an array attribute (CKA_WRAP_TEMPLATE,
 * CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE) as a new set in *out (caller
 * frees), for the wrap, unwrap and derive code to match keys against.
 * Returns CKR_OK, CKR_ATTRIBUTE_TYPE_INVALID when a has no such attribute
 * (*out NULL: no constraint), CKR_HOST_MEMORY or CKR_GENERAL_ERROR. */
CK_RV ch_object_template(const ch_attrs *a, CK_ATTRIBUTE_TYPE type, ch_attrs **out);

/* The object's class, CKA_TOKEN and CKA_PRIVATE, read once. */
CK_OBJECT_CLASS ch_object_class(const ch_attrs *a);
bool ch_object_is_token(const ch_attrs *a);
bool ch_object_is_private(const ch_attrs *a);

/* Is a a secret (issue 8): a data object whose CKA_APPLICATION is
 * CH_SECRET_APPLICATION? */
bool ch_object_is_secret(const ch_attrs *a);

/* Bytes the object takes, for C_GetObjectSize. */
CK_ULONG ch_object_size(const ch_attrs *a);

#endif
