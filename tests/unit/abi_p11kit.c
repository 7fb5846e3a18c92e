/*
 * abi_p11kit: prints what p11-kit's <p11-kit/pkcs11.h> says about the names
 * in abi_names.inc, one record per line:
 *
 *	const NAME 0xVALUE
 *	size TYPE BYTES
 *	field STRUCT.FIELD OFFSET BYTES
 *
 * test_header_abi runs this program and compares its records with the same
 * records taken from include/cipherhub/pkcs11.h: an independent header,
 * compiled by the same compiler, is the reference for every name both
 * define.  This file must include p11-kit's header and not ours (the two
 * cannot share a translation unit), which is why it is a separate program
 * and not named test_*.c.
 *
 * A name p11-kit does not define is skipped.  To make such a name compile
 * at all, every listed constant is first declared as an enumerator; when
 * the header then defines it as a macro, the macro wins, and the test
 * "does the name expand to something other than itself" tells the two apart.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define ABI_C(name) name = 0,
#define ABI_T(type)
#define ABI_F(s, f)
#define ABI_TN(type)
#define ABI_FN(s, f)
enum abi_undefined_names {
#include "abi_names.inc"
	abi_undefined_names_end
};
#undef ABI_C
#undef ABI_T
#undef ABI_F
#undef ABI_TN
#undef ABI_FN

#include <p11-kit/pkcs11.h>

#define ABI_STR_(x)  #x
#define ABI_XSTR_(x) ABI_STR_(x)

int main(void)
{
#define ABI_C(name)                                                                                \
	if (strcmp(#name, ABI_XSTR_(name)) != 0)                                                   \
		printf("const %s 0x%lx\n", #name, (unsigned long)(name));
#define ABI_T(type) printf("size %s %zu\n", #type, sizeof(type));
#define ABI_F(s, f) printf("field %s.%s %zu %zu\n", #s, #f, offsetof(s, f), sizeof(((s *)0)->f));
#define ABI_TN(type)
#define ABI_FN(s, f)
#include "abi_names.inc"
	return fflush(stdout) == 0 ? 0 : 1;
}
