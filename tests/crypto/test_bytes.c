/*
 * test_bytes.c — ms_bytes.h, the tree's one set of byte-order helpers:
 * known answers for every width and order (written out by hand from the
 * definition of little- and big-endian, not produced by the code), the
 * extremes, unaligned access that touches only its own bytes, and
 * big-endian keys sorting as their numbers do under memcmp (what LMDB
 * relies on).
 */
#include <stdint.h>
#include <string.h>

#include "ms_bytes.h"
#include "ms_test.h"

START_TEST(test_known_answers)
{
	static const uint8_t le16[2] = {0x02, 0x01};
	static const uint8_t le32[4] = {0x04, 0x03, 0x02, 0x01};
	static const uint8_t le64[8] = {0x08, 0x07, 0x06, 0x05,
	                                0x04, 0x03, 0x02, 0x01};
	static const uint8_t be64[8] = {0x01, 0x02, 0x03, 0x04,
	                                0x05, 0x06, 0x07, 0x08};
	uint8_t b[8];

	memset(b, 0xee, sizeof b);
	ms_put_le16(b, 0x0102);
	ck_assert_mem_eq(b, le16, 2);
	ck_assert_uint_eq(ms_get_le16(le16), 0x0102);

	memset(b, 0xee, sizeof b);
	ms_put_le32(b, 0x01020304);
	ck_assert_mem_eq(b, le32, 4);
	ck_assert_uint_eq(ms_get_le32(le32), 0x01020304);

	ms_put_le64(b, UINT64_C(0x0102030405060708));
	ck_assert_mem_eq(b, le64, 8);
	ck_assert_uint_eq(ms_get_le64(le64), UINT64_C(0x0102030405060708));

	ms_put_be64(b, UINT64_C(0x0102030405060708));
	ck_assert_mem_eq(b, be64, 8);
	ck_assert_uint_eq(ms_get_be64(be64), UINT64_C(0x0102030405060708));
}
END_TEST

START_TEST(test_extremes)
{
	static const uint8_t top_le[8] = {0, 0, 0, 0, 0, 0, 0, 0x80};
	static const uint8_t top_be[8] = {0x80, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t ones[8] = {0xff, 0xff, 0xff, 0xff,
	                                0xff, 0xff, 0xff, 0xff};
	static const uint8_t zeros[8] = {0};
	uint8_t b[8];

	/* The top bit must not be lost to a sign or a narrow shift. */
	ms_put_le64(b, UINT64_C(1) << 63);
	ck_assert_mem_eq(b, top_le, 8);
	ck_assert_uint_eq(ms_get_le64(top_le), UINT64_C(1) << 63);
	ms_put_be64(b, UINT64_C(1) << 63);
	ck_assert_mem_eq(b, top_be, 8);
	ck_assert_uint_eq(ms_get_be64(top_be), UINT64_C(1) << 63);
	ck_assert_uint_eq(ms_get_le32(top_le + 4), UINT32_C(0x80000000));
	ck_assert_uint_eq(ms_get_le16(top_le + 6), 0x8000);

	ms_put_le64(b, UINT64_MAX);
	ck_assert_mem_eq(b, ones, 8);
	ck_assert_uint_eq(ms_get_le64(ones), UINT64_MAX);
	ck_assert_uint_eq(ms_get_be64(ones), UINT64_MAX);
	ck_assert_uint_eq(ms_get_le32(ones), UINT32_MAX);
	ck_assert_uint_eq(ms_get_le16(ones), UINT16_MAX);
	ms_put_be64(b, 0);
	ck_assert_mem_eq(b, zeros, 8);
	ms_put_le32(b, UINT32_MAX);
	ck_assert_mem_eq(b, ones, 4);
	ms_put_le16(b + 4, UINT16_MAX);
	ck_assert_mem_eq(b + 4, ones, 2);
}
END_TEST

/* Each helper at every offset of a guarded buffer: it writes its own
 * bytes, no others, and reads back what it wrote. */
START_TEST(test_unaligned_and_bounded)
{
	const uint64_t v = UINT64_C(0x8877665544332211);

	for (size_t off = 0; off < 8; off++) {
		uint8_t b[24];

		memset(b, 0xee, sizeof b);
		ms_put_le16(b + off, (uint16_t)v);
		ck_assert_uint_eq(ms_get_le16(b + off), (uint16_t)v);
		ck_assert_uint_eq(b[off + 2], 0xee);
		ms_put_le32(b + off, (uint32_t)v);
		ck_assert_uint_eq(ms_get_le32(b + off), (uint32_t)v);
		ck_assert_uint_eq(b[off + 4], 0xee);
		ms_put_le64(b + off, v);
		ck_assert_uint_eq(ms_get_le64(b + off), v);
		ck_assert_uint_eq(b[off + 8], 0xee);
		ms_put_be64(b + off, v);
		ck_assert_uint_eq(ms_get_be64(b + off), v);
		ck_assert_uint_eq(b[off + 8], 0xee);
		for (size_t i = 0; i < off; i++)
			ck_assert_uint_eq(b[i], 0xee);
		/* Written big-endian, read little-endian: the bytes reversed. */
		ck_assert_uint_eq(ms_get_le64(b + off),
		                  UINT64_C(0x1122334455667788));
	}
}
END_TEST

/* Big-endian keys compare under memcmp as their numbers do. */
START_TEST(test_be64_sorts)
{
	static const uint64_t v[] = {0,
	                             1,
	                             255,
	                             256,
	                             65535,
	                             65536,
	                             UINT64_C(1) << 32,
	                             UINT64_C(1) << 63,
	                             UINT64_MAX - 1,
	                             UINT64_MAX};
	const size_t n = sizeof v / sizeof v[0];

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			uint8_t a[8], b[8];
			int c;

			ms_put_be64(a, v[i]);
			ms_put_be64(b, v[j]);
			c = memcmp(a, b, 8);
			ck_assert_int_eq(c < 0, v[i] < v[j]);
			ck_assert_int_eq(c == 0, v[i] == v[j]);
		}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bytes");
	TCase *tc = tcase_create("bytes");

	tcase_add_test(tc, test_known_answers);
	tcase_add_test(tc, test_extremes);
	tcase_add_test(tc, test_unaligned_and_bounded);
	tcase_add_test(tc, test_be64_sorts);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
