/*
 * PKCS#11 URIs (RFC 7512) for HSM connections, parsed and matched by
 * p11-kit.  This file alone includes p11-kit's headers: their PKCS#11 types
 * are the same ABI as ours (test_header_abi proves it), so a CK_TOKEN_INFO
 * crosses as a pointer.
 */
#include <stdbool.h>

#include <p11-kit/uri.h>

/* hsm.h's declarations, repeated: its PKCS#11 header and p11-kit's cannot
 * meet in one file. */
bool ch_hsm_uri_valid(const char *uri);
bool ch_hsm_uri_match(const char *uri, const CK_TOKEN_INFO *info);

bool ch_hsm_uri_valid(const char *uri)
{
	P11KitUri *u = p11_kit_uri_new();
	bool ok;

	if (u == NULL)
		return false;
	ok = p11_kit_uri_parse(uri, P11_KIT_URI_FOR_TOKEN, u) == P11_KIT_URI_OK;
	p11_kit_uri_free(u);
	return ok;
}

bool ch_hsm_uri_match(const char *uri, const CK_TOKEN_INFO *info)
{
	P11KitUri *u = p11_kit_uri_new();
	bool ok = false;

	if (u == NULL)
		return false;
	if (p11_kit_uri_parse(uri, P11_KIT_URI_FOR_TOKEN, u) == P11_KIT_URI_OK)
		ok = p11_kit_uri_match_token_info(u, info) == 1;
	p11_kit_uri_free(u);
	return ok;
}
