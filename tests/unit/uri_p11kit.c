/*
 * uri_p11kit: parses PKCS#11 URIs (RFC 7512) with p11-kit's own parser,
 * p11_kit_uri_parse, and prints what it found, one line per URI:
 *
 *	token=LABEL manufacturer=M model=M serial=S class=N id=HEX object=LABEL
 *
 * (a field absent from the URI is printed empty; class is the CKO_ number,
 * or "-" when the URI has no type), or "error: MESSAGE" when p11-kit
 * refuses the URI.  tests/integration/test_p11kit_sidecar.sh gives it the
 * URIs p11tool prints for the token's objects and compares the fields with
 * what pkcs11-tool reads from the module, so a URI that encodes an ID or a
 * label wrongly is caught by an independent parser.  Built with p11-kit's
 * headers, like abi_p11kit.
 */
#include <stdio.h>
#include <string.h>

#include <p11-kit/uri.h>

/* A blank-padded CK_UTF8CHAR field without its padding. */
static void print_padded(const char *name, const unsigned char *field, size_t size)
{
	while (size > 0 && field[size - 1] == ' ')
		size--;
	printf("%s=%.*s", name, (int)size, (const char *)field);
}

int main(int argc, char **argv)
{
	int i, bad = 0;

	for (i = 1; i < argc; i++) {
		P11KitUri *uri = p11_kit_uri_new();
		CK_TOKEN_INFO *ti;
		CK_ATTRIBUTE *a;
		int rc;

		if (uri == NULL)
			return 2;
		rc = p11_kit_uri_parse(argv[i], P11_KIT_URI_FOR_OBJECT_ON_TOKEN, uri);
		if (rc != P11_KIT_URI_OK) {
			printf("error: %s\n", p11_kit_uri_message(rc));
			p11_kit_uri_free(uri);
			bad = 1;
			continue;
		}
		ti = p11_kit_uri_get_token_info(uri);
		print_padded("token", ti->label, sizeof(ti->label));
		print_padded(" manufacturer", ti->manufacturerID, sizeof(ti->manufacturerID));
		print_padded(" model", ti->model, sizeof(ti->model));
		print_padded(" serial", ti->serialNumber, sizeof(ti->serialNumber));
		a = p11_kit_uri_get_attribute(uri, CKA_CLASS);
		if (a != NULL && a->ulValueLen == sizeof(CK_OBJECT_CLASS))
			printf(" class=%lu", *(CK_OBJECT_CLASS *)a->pValue);
		else
			printf(" class=-");
		printf(" id=");
		a = p11_kit_uri_get_attribute(uri, CKA_ID);
		for (CK_ULONG j = 0; a != NULL && j < a->ulValueLen; j++)
			printf("%02x", ((unsigned char *)a->pValue)[j]);
		a = p11_kit_uri_get_attribute(uri, CKA_LABEL);
		printf(" object=%.*s\n", a != NULL ? (int)a->ulValueLen : 0,
		       a != NULL ? (const char *)a->pValue : "");
		p11_kit_uri_free(uri);
	}
	return bad;
}
