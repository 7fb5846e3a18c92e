/*
 * The attribute set (token/attrs.c): sorted storage, replacement, removal,
 * deep copies, typed readers, template import and the find-matching rule.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "attrs.h"

/* A result pointer that a failing call must reset to NULL. */
static ch_attrs not_set;

/* True when a->v is strictly ascending by type. */
static bool sorted(const ch_attrs *a)
{
	for (size_t i = 1; i < a->n; i++)
		if (a->v[i - 1].type >= a->v[i].type)
			return false;
	return true;
}

static void test_attrs_set_keeps_types_sorted_and_get_finds_each(void)
{
	static const CK_ATTRIBUTE_TYPE types[] = { CKA_VALUE, CKA_CLASS,    CKA_LABEL,   CKA_ID,
		                                   CKA_TOKEN, CKA_KEY_TYPE, CKA_MODULUS, CKA_SIGN };
	size_t nt = sizeof(types) / sizeof(types[0]);
	ch_attrs *a = ch_attrs_new();

	if (!CHECK(a != NULL))
		return;
	for (size_t i = 0; i < nt; i++)
		CHECK_RV(ch_attrs_set_ulong(a, types[i], 1000 + i), CKR_OK);
	CHECK_UL(a->n, nt);
	CHECK(sorted(a));
	for (size_t i = 0; i < nt; i++) {
		CK_ULONG v = 0;

		CHECK(ch_attrs_ulong(a, types[i], &v));
		CHECK_UL(v, 1000 + i);
	}
	CHECK(ch_attrs_get(a, CKA_SUBJECT) == NULL);
	CHECK(ch_attrs_get(NULL, CKA_CLASS) == NULL);
	ch_attrs_free(a);
}

static void test_attrs_set_replaces_existing_value(void)
{
	ch_attrs *a = ch_attrs_new();
	const ch_attr *at;

	if (!CHECK(a != NULL))
		return;
	CHECK_RV(ch_attrs_set(a, CKA_LABEL, "first label", 11), CKR_OK);
	CHECK_RV(ch_attrs_set(a, CKA_LABEL, "two", 3), CKR_OK);
	CHECK_UL(a->n, 1);
	at = ch_attrs_get(a, CKA_LABEL);
	if (CHECK(at != NULL)) {
		CHECK_UL(at->len, 3);
		CHECK(memcmp(at->value, "two", 3) == 0);
	}
	/* Replacing a value with itself (aliasing) keeps it intact. */
	at = ch_attrs_get(a, CKA_LABEL);
	CHECK_RV(ch_attrs_set(a, CKA_LABEL, at->value, at->len), CKR_OK);
	at = ch_attrs_get(a, CKA_LABEL);
	CHECK(at != NULL && at->len == 3 && memcmp(at->value, "two", 3) == 0);
	ch_attrs_free(a);
}

static void test_attrs_empty_value_has_null_pointer(void)
{
	ch_attrs *a = ch_attrs_new();
	const ch_attr *at;

	if (!CHECK(a != NULL))
		return;
	CHECK_RV(ch_attrs_set(a, CKA_LABEL, NULL, 0), CKR_OK);
	at = ch_attrs_get(a, CKA_LABEL);
	CHECK(at != NULL && at->len == 0 && at->value == NULL);
	ch_attrs_free(a);
}

static void test_attrs_remove_keeps_order_and_ignores_absent(void)
{
	ch_attrs *a = ch_attrs_new();

	if (!CHECK(a != NULL))
		return;
	for (CK_ATTRIBUTE_TYPE t = 1; t <= 5; t++)
		CHECK_RV(ch_attrs_set_ulong(a, t, t * 10), CKR_OK);
	ch_attrs_remove(a, 3);
	ch_attrs_remove(a, 42);
	ch_attrs_remove(NULL, 1);
	CHECK_UL(a->n, 4);
	CHECK(sorted(a));
	CHECK(ch_attrs_get(a, 3) == NULL);
	CHECK(ch_attrs_get(a, 4) != NULL);
	ch_attrs_remove(a, 5);
	ch_attrs_remove(a, 1);
	CHECK_UL(a->n, 2);
	CHECK(a->v[0].type == 2 && a->v[1].type == 4);
	ch_attrs_free(a);
}

static void test_attrs_grow_past_initial_capacity(void)
{
	ch_attrs *a = ch_attrs_new();

	if (!CHECK(a != NULL))
		return;
	/* Descending inserts: every one shifts the whole array. */
	for (CK_ULONG i = 300; i > 0; i--)
		CHECK_RV(ch_attrs_set(a, i, &i, sizeof(i)), CKR_OK);
	CHECK_UL(a->n, 300);
	CHECK(sorted(a));
	for (CK_ULONG i = 1; i <= 300; i++) {
		CK_ULONG v = 0;

		CHECK(ch_attrs_ulong(a, i, &v) && v == i);
	}
	ch_attrs_free(a);
}

static void test_attrs_dup_is_deep(void)
{
	ch_attrs *a = ch_attrs_new(), *d;
	const ch_attr *at;

	if (!CHECK(a != NULL))
		return;
	CHECK_RV(ch_attrs_set(a, CKA_VALUE, "secret!", 7), CKR_OK);
	CHECK_RV(ch_attrs_set(a, CKA_ID, NULL, 0), CKR_OK);
	d = ch_attrs_dup(a);
	if (!CHECK(d != NULL))
		goto out;
	CHECK_UL(d->n, 2);
	at = ch_attrs_get(d, CKA_VALUE);
	CHECK(at != NULL && at != ch_attrs_get(a, CKA_VALUE));
	CHECK(at != NULL && at->value != ch_attrs_get(a, CKA_VALUE)->value);
	CHECK_RV(ch_attrs_set(d, CKA_VALUE, "changed", 7), CKR_OK);
	at = ch_attrs_get(a, CKA_VALUE);
	CHECK(at != NULL && memcmp(at->value, "secret!", 7) == 0);
	CHECK(ch_attrs_dup(NULL) == NULL);
out:
	ch_attrs_free(d);
	ch_attrs_free(a);
}

static void test_attrs_dup_of_empty_set(void)
{
	ch_attrs *a = ch_attrs_new(), *d = NULL;

	if (CHECK(a != NULL) && CHECK((d = ch_attrs_dup(a)) != NULL)) {
		CHECK_UL(d->n, 0);
		CHECK_RV(ch_attrs_set_bool(d, CKA_TOKEN, true), CKR_OK);
	}
	ch_attrs_free(d);
	ch_attrs_free(a);
}

static void test_attrs_readers_return_default_when_absent_or_malformed(void)
{
	ch_attrs *a = ch_attrs_new();
	CK_ULONG out = 77;
	CK_BYTE two[2] = { 1, 1 };

	if (!CHECK(a != NULL))
		return;
	CHECK(ch_attrs_bool(a, CKA_TOKEN, true) == true);
	CHECK(ch_attrs_bool(a, CKA_TOKEN, false) == false);
	CHECK_RV(ch_attrs_set(a, CKA_TOKEN, two, sizeof(two)), CKR_OK);
	CHECK(ch_attrs_bool(a, CKA_TOKEN, false) == false);
	CHECK_RV(ch_attrs_set_bool(a, CKA_TOKEN, true), CKR_OK);
	CHECK(ch_attrs_bool(a, CKA_TOKEN, false) == true);
	CHECK_RV(ch_attrs_set_bool(a, CKA_TOKEN, false), CKR_OK);
	CHECK(ch_attrs_bool(a, CKA_TOKEN, true) == false);

	CHECK(!ch_attrs_ulong(a, CKA_CLASS, &out));
	CHECK_UL(out, 77);
	CHECK_RV(ch_attrs_set(a, CKA_CLASS, two, sizeof(two)), CKR_OK);
	CHECK(!ch_attrs_ulong(a, CKA_CLASS, &out));
	CHECK_UL(out, 77);
	CHECK_RV(ch_attrs_set_ulong(a, CKA_CLASS, CKO_SECRET_KEY), CKR_OK);
	CHECK(ch_attrs_ulong(a, CKA_CLASS, &out));
	CHECK_UL(out, CKO_SECRET_KEY);
	ch_attrs_free(a);
}

static void test_attrs_from_template_copies_every_entry(void)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {
		{ CKA_LABEL, "x", 1 },
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_ID, NULL, 0 },
	};
	ch_attrs *a = NULL;

	CHECK_RV(ch_attrs_from_template(t, 4, &a), CKR_OK);
	if (!CHECK(a != NULL))
		return;
	CHECK_UL(a->n, 4);
	CHECK(sorted(a));
	CHECK(ch_attrs_bool(a, CKA_TOKEN, false));
	CHECK(ch_attrs_get(a, CKA_ID) != NULL && ch_attrs_get(a, CKA_ID)->len == 0);
	/* The set owns copies: changing the caller's buffer changes nothing. */
	cls = CKO_SECRET_KEY;
	CK_ULONG got = 0;
	CHECK(ch_attrs_ulong(a, CKA_CLASS, &got));
	CHECK_UL(got, CKO_DATA);
	ch_attrs_free(a);

	CHECK_RV(ch_attrs_from_template(NULL, 0, &a), CKR_OK);
	CHECK(a != NULL && a->n == 0);
	ch_attrs_free(a);
}

static void test_attrs_from_template_rejects_duplicate_types(void)
{
	CK_ATTRIBUTE t[] = { { CKA_LABEL, "a", 1 }, { CKA_ID, "i", 1 }, { CKA_LABEL, "b", 1 } };
	ch_attrs *a = &not_set;

	CHECK_RV(ch_attrs_from_template(t, 3, &a), CKR_TEMPLATE_INCONSISTENT);
	CHECK(a == NULL);
}

static void test_attrs_from_template_rejects_null_value_with_length(void)
{
	CK_ATTRIBUTE t[] = { { CKA_LABEL, "a", 1 }, { CKA_ID, NULL, 4 } };
	ch_attrs *a = &not_set;

	CHECK_RV(ch_attrs_from_template(t, 2, &a), CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK(a == NULL);
}

static void test_attrs_match_requires_every_entry_equal(void)
{
	CK_OBJECT_CLASS cls = CKO_DATA, other = CKO_CERTIFICATE;
	ch_attrs *a = ch_attrs_new();

	if (!CHECK(a != NULL))
		return;
	CHECK_RV(ch_attrs_set_ulong(a, CKA_CLASS, CKO_DATA), CKR_OK);
	CHECK_RV(ch_attrs_set(a, CKA_LABEL, "payments", 8), CKR_OK);
	CHECK_RV(ch_attrs_set(a, CKA_ID, NULL, 0), CKR_OK);
	{
		CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) },
			             { CKA_LABEL, "payments", 8 } };
		CHECK(ch_attrs_match(a, t, 2));
		CHECK(ch_attrs_match(a, t, 0)); /* the empty template matches all */
	}
	{
		CK_ATTRIBUTE t[] = { { CKA_CLASS, &other, sizeof(other) },
			             { CKA_LABEL, "payments", 8 } };
		CHECK(!ch_attrs_match(a, t, 2));
	}
	{
		CK_ATTRIBUTE t[] = { { CKA_LABEL, "payment", 7 } };
		CHECK(!ch_attrs_match(a, t, 1));
	}
	{
		CK_ATTRIBUTE t[] = { { CKA_LABEL, "paymenTs", 8 } };
		CHECK(!ch_attrs_match(a, t, 1));
	}
	{
		/* A longer value that starts with the stored one. */
		CK_ATTRIBUTE t[] = { { CKA_LABEL, "payments-eu", 11 } };
		CHECK(!ch_attrs_match(a, t, 1));
	}
	{
		CK_ATTRIBUTE t[] = { { CKA_SUBJECT, "", 0 } };
		CHECK(!ch_attrs_match(a, t, 1));
	}
	{
		CK_ATTRIBUTE t[] = { { CKA_ID, NULL, 0 } };
		CHECK(ch_attrs_match(a, t, 1));
	}
	ch_attrs_free(a);
}

static void test_attrs_free_accepts_null(void)
{
	ch_attrs_free(NULL);
	CHECK(true);
}

int main(void)
{
	test_attrs_set_keeps_types_sorted_and_get_finds_each();
	test_attrs_set_replaces_existing_value();
	test_attrs_empty_value_has_null_pointer();
	test_attrs_remove_keeps_order_and_ignores_absent();
	test_attrs_grow_past_initial_capacity();
	test_attrs_dup_is_deep();
	test_attrs_dup_of_empty_set();
	test_attrs_readers_return_default_when_absent_or_malformed();
	test_attrs_from_template_copies_every_entry();
	test_attrs_from_template_rejects_duplicate_types();
	test_attrs_from_template_rejects_null_value_with_length();
	test_attrs_match_requires_every_entry_equal();
	test_attrs_free_accepts_null();
	return ch_test_done();
}
