/*
 * SDK-HMAC-SHA256 against published vectors, byte for byte: the signing guide's (V1), the Go
 * SDK's (V2, V3), the CSMS-shaped ones (V4, V5; confirmed by the Node and Python SDKs), the
 * ones the SDKs were run for (V6 to V9), the Python SDK's own tests and its query-string
 * case (../shared/reference/csms-api.md section 5, credentials.md section 7). HMAC-SHA256
 * against RFC 4231.
 */
#include "buildconf.h"

#include "sha256.h"
#include "sign.h"

#include "testlib.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define V1_AK "QTWAOYTTINDUT2QVKYUC"
#define V1_SK "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define KMS_HOST "kms.cn-north-4.myhuaweicloud.com"
#define PID "0123456789abcdef0123456789abcdef"
#define KMS_PATH "/v1/" PID "/secrets/db-root-pw"
#define D24 "20240101T000000Z"

struct vector {
	const char *name;
	const char *method, *path;
	struct csms_sign_param params[8];
	size_t nparams;
	struct csms_sign_header headers[8];
	size_t nheaders;
	const char *body;
	const char *date, *ak, *sk;
	const char *canonical; /* the whole canonical request, or NULL */
	const char *cr_sha256; /* hex SHA-256 of it, or NULL */
	const char *authorization;
};

static const struct vector vectors[] = {
	{ "V1 signing guide",
	  "GET",
	  "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
	  { { "limit", "2" }, { "marker", "13551d6b-755d-4757-b956-536f674975c0" } },
	  2,
	  { { "Content-Type", "application/json" },
	    { "Host", "service.region.example.com" },
	    { "X-Sdk-Date", "20191115T033655Z" } },
	  3,
	  NULL,
	  "20191115T033655Z",
	  V1_AK,
	  V1_SK,
	  "GET\n/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/\n"
	  "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0\n"
	  "content-type:application/json\nhost:service.region.example.com\n"
	  "x-sdk-date:20191115T033655Z\n\ncontent-type;host;x-sdk-date\n" EMPTY_SHA,
	  "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a",
	  "SDK-HMAC-SHA256 Access=" V1_AK ", SignedHeaders=content-type;host;x-sdk-date, "
	  "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe" },
	{ "V2 Go testParam1",
	  "GET",
	  "/path",
	  { { "limit", "1" } },
	  1,
	  { { "X-Sdk-Date", "20060102T150405Z" } },
	  1,
	  NULL,
	  "20060102T150405Z",
	  "AccessKey",
	  "SecretKey",
	  "GET\n/path/\nlimit=1\nx-sdk-date:20060102T150405Z\n\nx-sdk-date\n" EMPTY_SHA,
	  NULL,
	  "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, "
	  "Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624" },
	{ "V3 Go testParam2 (POST)",
	  "POST",
	  "/path",
	  { { "key", "value" } },
	  1,
	  { { "X-Sdk-Date", "20060102T150405Z" } },
	  1,
	  "{\"Name\":\"test\",\"Id\":1}\n",
	  "20060102T150405Z",
	  "AccessKey",
	  "SecretKey",
	  NULL,
	  NULL,
	  "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, "
	  "Signature=cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59" },
	{ "V4 ShowSecret",
	  "GET",
	  KMS_PATH,
	  { { 0 } },
	  0,
	  { { "Host", KMS_HOST }, { "X-Sdk-Date", D24 } },
	  2,
	  NULL,
	  D24,
	  V1_AK,
	  V1_SK,
	  "GET\n" KMS_PATH "/\n\nhost:" KMS_HOST "\nx-sdk-date:" D24
	  "\n\nhost;x-sdk-date\n" EMPTY_SHA,
	  "9da6f7b9b85a1c7bf8c00c331426a9756653b2d2432900337b6a8a81ba0e7d64",
	  "SDK-HMAC-SHA256 Access=" V1_AK ", SignedHeaders=host;x-sdk-date, "
	  "Signature=6650c452c75dbd1fde4f0823fcbc99295aea90687e86e95d8c35bb990462ce3d" },
	/* the headers the module signs, given in another order: the signer sorts them */
	{ "V5 ShowSecret with a security token",
	  "GET",
	  KMS_PATH,
	  { { 0 } },
	  0,
	  { { "X-Security-Token", "EXAMPLE-SECURITY-TOKEN" },
	    { "X-Sdk-Date", D24 },
	    { "X-Project-Id", PID },
	    { "Host", KMS_HOST } },
	  4,
	  NULL,
	  D24,
	  V1_AK,
	  V1_SK,
	  "GET\n" KMS_PATH "/\n\nhost:" KMS_HOST "\nx-project-id:" PID "\nx-sdk-date:" D24
	  "\nx-security-token:EXAMPLE-SECURITY-TOKEN\n\nhost;x-project-id;x-sdk-date;x-security-"
	  "token\n" EMPTY_SHA,
	  "dc69c423320ae063041f8670cd637d282ee76bf15e11b47c572f0d3b70d5a5a4",
	  "SDK-HMAC-SHA256 Access=" V1_AK
	  ", SignedHeaders=host;x-project-id;x-sdk-date;x-security-token, "
	  "Signature=113e594f51ae8a4c9abd65a482391b8d817494e30c5b795350b08f69331b62d3" },
	{ "V6 Node/Python with content-type",
	  "GET",
	  KMS_PATH,
	  { { 0 } },
	  0,
	  { { "Content-Type", "application/json" },
	    { "Host", KMS_HOST },
	    { "X-Project-Id", PID },
	    { "X-Sdk-Date", D24 },
	    { "X-Security-Token", "EXAMPLE-SECURITY-TOKEN" } },
	  5,
	  NULL,
	  D24,
	  V1_AK,
	  V1_SK,
	  NULL,
	  NULL,
	  "SDK-HMAC-SHA256 Access=" V1_AK
	  ", SignedHeaders=content-type;host;x-project-id;x-sdk-date;x-security-token, "
	  "Signature=e3bd77742aababae813e64a9b11e31b240ba692d9904bcd1e8ec5d8d7b8f01f1" },
	/* values trimmed, as Python does (Node does not: d5084526...) */
	{ "V7 padded X-Project-Id",
	  "GET",
	  KMS_PATH,
	  { { 0 } },
	  0,
	  { { "Host", KMS_HOST }, { "X-Project-Id", "  " PID "  " }, { "X-Sdk-Date", D24 } },
	  3,
	  NULL,
	  D24,
	  V1_AK,
	  V1_SK,
	  "GET\n" KMS_PATH "/\n\nhost:" KMS_HOST "\nx-project-id:" PID "\nx-sdk-date:" D24
	  "\n\nhost;x-project-id;x-sdk-date\n" EMPTY_SHA,
	  NULL,
	  "SDK-HMAC-SHA256 Access=" V1_AK ", SignedHeaders=host;x-project-id;x-sdk-date, "
	  "Signature=343c2388c60c7423d63a7eb329eb9c8a7480676158e6d2097f7b00c97a758024" },
	/* a port in Host changes the signature: the module signs exactly the Host it sends */
	{ "V8 host with :443",
	  "GET",
	  KMS_PATH,
	  { { 0 } },
	  0,
	  { { "Host", KMS_HOST ":443" }, { "X-Sdk-Date", D24 } },
	  2,
	  NULL,
	  D24,
	  V1_AK,
	  V1_SK,
	  NULL,
	  NULL,
	  "SDK-HMAC-SHA256 Access=" V1_AK ", SignedHeaders=host;x-sdk-date, "
	  "Signature=5f06ced5d25d45ec2671a0375dd5564d3fbf534839578e84b273949bf9771eb2" },
	{ "V9 Go-shaped",
	  "GET",
	  KMS_PATH,
	  { { 0 } },
	  0,
	  { { "User-Agent", "huaweicloud-usdk-go/3.0" },
	    { "X-Project-Id", PID },
	    { "X-Sdk-Date", D24 } },
	  3,
	  NULL,
	  D24,
	  V1_AK,
	  V1_SK,
	  NULL,
	  NULL,
	  "SDK-HMAC-SHA256 Access=" V1_AK ", SignedHeaders=user-agent;x-project-id;x-sdk-date, "
	  "Signature=b549ee86d4cec138cbc442b5f197faf3ae64c0992fb9a78708f456a8ecd059f9" },
	{ "Python test_signer1",
	  "GET",
	  "/resources",
	  { { "size", "1" } },
	  1,
	  { { "Host", "service.endpoint.myhuaweicloud.com" },
	    { "X-Sdk-Date", "20200608T023900Z" } },
	  2,
	  NULL,
	  "20200608T023900Z",
	  "AccessKey",
	  "SecretKey",
	  NULL,
	  NULL,
	  "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-sdk-date, "
	  "Signature=cfb4171acec81de07d50e53d57eb77edd537414d66ddb1d7d780f128e12cd842" },
	{ "Python test_signer2 (POST)",
	  "POST",
	  "/resources",
	  { { "size", "1" } },
	  1,
	  { { "Host", "service.endpoint.myhuaweicloud.com" },
	    { "X-Sdk-Date", "20200608T023900Z" } },
	  2,
	  "{\"name\":\"test\",\"id\":1}",
	  "20200608T023900Z",
	  "AccessKey",
	  "SecretKey",
	  NULL,
	  NULL,
	  "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-sdk-date, "
	  "Signature=436b1ac0a1ae03705934bb70ef2f2e09f7bfed2117d731a38235053199323a1f" },
};

static void hex_sha256(const char *s, char out[2 * CSMS_SHA256_LEN + 1])
{
	csms_sha256_hex(s, strlen(s), out);
}

static void request_of(const struct vector *v, struct csms_sign_request *rq)
{
	*rq = (struct csms_sign_request){
		.method = v->method,
		.path = v->path,
		.params = v->params,
		.nparams = v->nparams,
		.headers = v->headers,
		.nheaders = v->nheaders,
		.body = v->body,
		.body_len = v->body != NULL ? strlen(v->body) : 0,
	};
}

START_TEST(t_vector)
{
	const struct vector *v = &vectors[_i];
	struct csms_sign_request rq;
	char cr[4096], sts[256], auth[512], hex[2 * CSMS_SHA256_LEN + 1], want_sts[256];

	request_of(v, &rq);
	ck_assert_int_eq(csms_sign_canonical_request(&rq, cr, sizeof(cr)), 0);
	if (v->canonical != NULL)
		ck_assert_msg(strcmp(cr, v->canonical) == 0, "%s: canonical request\n%s\nwant\n%s",
			      v->name, cr, v->canonical);
	hex_sha256(cr, hex);
	if (v->cr_sha256 != NULL)
		ck_assert_str_eq(hex, v->cr_sha256);
	ck_assert_int_eq(csms_sign_string_to_sign(&rq, v->date, sts, sizeof(sts)), 0);
	snprintf(want_sts, sizeof(want_sts), "SDK-HMAC-SHA256\n%s\n%s", v->date, hex);
	ck_assert_str_eq(sts, want_sts);
	ck_assert_int_eq(csms_sign_authorization(v->ak, v->sk, strlen(v->sk), v->date, &rq, auth,
						 sizeof(auth)),
			 0);
	ck_assert_msg(strcmp(auth, v->authorization) == 0, "%s:\n%s\nwant\n%s", v->name, auth,
		      v->authorization);
}
END_TEST

/* The Go and Python SDKs' canonical query string case: sorted keys, repeated keys' values
 * sorted, both sides escaped (UTF-8 bytes, space as %20, '/' escaped). */
START_TEST(t_query_string)
{
	static const struct csms_sign_param params[] = {
		{ "limit", "1" },       { "enable", "true" }, { "test", "\xe4\xb8\x80 (&=?!#%.*)" },
		{ "path", "/tmp/123" }, { "multi", "3" },     { "multi", "1" },
		{ "multi", "2" },
	};
	static const struct csms_sign_header hdr[] = { { "X-Sdk-Date", D24 } };
	struct csms_sign_request rq = { .method = "GET",
					.path = "/",
					.params = params,
					.nparams = 7,
					.headers = hdr,
					.nheaders = 1 };
	char cr[1024], *q;

	ck_assert_int_eq(csms_sign_canonical_request(&rq, cr, sizeof(cr)), 0);
	q = strchr(cr, '\n') + 1;
	q = strchr(q, '\n') + 1;
	*strchr(q, '\n') = '\0';
	ck_assert_str_eq(q, "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123&test="
			    "%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29");
}
END_TEST

/* Segments escaped, '/' kept, a trailing '/' once; an empty path is "/". */
START_TEST(t_path_escape)
{
	static const struct {
		const char *path, *want;
	} rows[] = {
		{ "/v1/p/secrets/a.b_c-d~e", "/v1/p/secrets/a.b_c-d~e/" },
		{ "/v1/p/secrets/a b", "/v1/p/secrets/a%20b/" },
		{ "/a%2Fb", "/a%252Fb/" },
		{ "/dir/", "/dir/" },
		{ "", "/" },
	};
	static const struct csms_sign_header hdr[] = { { "X-Sdk-Date", D24 } };

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct csms_sign_request rq = {
			.method = "GET", .path = rows[i].path, .headers = hdr, .nheaders = 1
		};
		char cr[512], *line;

		ck_assert_int_eq(csms_sign_canonical_request(&rq, cr, sizeof(cr)), 0);
		line = strchr(cr, '\n') + 1;
		*strchr(line, '\n') = '\0';
		ck_assert_str_eq(line, rows[i].want);
	}
}
END_TEST

/* What cannot be signed is refused, never signed some other way. */
START_TEST(t_refused)
{
	static const struct csms_sign_header twice[] = { { "Host", "a" }, { "host", "b" } };
	static const struct csms_sign_header ctl[] = { { "Host", "a\r\nX-Evil: 1" } };
	static const struct csms_sign_header colon[] = { { "Ho:st", "a" } };
	struct csms_sign_request rq = {
		.method = "GET", .path = "/", .headers = twice, .nheaders = 2
	};
	char cr[512], auth[512];

	ck_assert_int_eq(csms_sign_canonical_request(&rq, cr, sizeof(cr)), -EINVAL);
	ck_assert_int_eq(csms_sign_authorization("ak", "sk", 2, D24, &rq, auth, sizeof(auth)),
			 -EINVAL);
	rq.headers = ctl;
	rq.nheaders = 1;
	ck_assert_int_eq(csms_sign_canonical_request(&rq, cr, sizeof(cr)), -EINVAL);
	rq.headers = colon;
	ck_assert_int_eq(csms_sign_canonical_request(&rq, cr, sizeof(cr)), -EINVAL);
	rq.nheaders = 0;
	ck_assert_int_eq(csms_sign_canonical_request(&rq, cr, 8), -ENOSPC);
	ck_assert_int_eq(csms_sign_authorization("ak", "sk", 2, D24, &rq, auth, 40), -ENOSPC);
}
END_TEST

START_TEST(t_date)
{
	char d[CSMS_SIGN_DATE_LEN + 1];

	csms_sign_date(1573789015, d);
	ck_assert_str_eq(d, "20191115T033655Z");
	csms_sign_date(1704067200, d);
	ck_assert_str_eq(d, D24);
	csms_sign_date(0, d);
	ck_assert_str_eq(d, "19700101T000000Z");
}
END_TEST

/* RFC 4231 test cases 1, 2, 4, 6 (a key longer than the block) and 7. */
START_TEST(t_hmac)
{
	static const struct {
		const char *key;
		size_t keylen;
		const char *msg, *want;
	} rows[] = {
		{ "\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b",
		  20, "Hi There",
		  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
		{ "Jefe", 4, "what do ya want for nothing?",
		  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
		{ "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15"
		  "\x16\x17\x18\x19",
		  25,
		  "\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd"
		  "\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd"
		  "\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd",
		  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
		{ NULL, 131, "Test Using Larger Than Block-Size Key - Hash Key First",
		  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
		{ NULL, 131,
		  "This is a test using a larger than block-size key and a larger than block-size "
		  "data. The key needs to be hashed before being used by the HMAC algorithm.",
		  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
	};
	unsigned char big[131];
	char out[2 * CSMS_SHA256_LEN + 1];

	memset(big, 0xaa, sizeof(big));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const void *key = rows[i].key != NULL ? (const void *)rows[i].key : big;

		csms_hmac_sha256_hex(key, rows[i].keylen, rows[i].msg, strlen(rows[i].msg), out);
		ck_assert_msg(strcmp(out, rows[i].want) == 0, "row %zu: %s", i, out);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sign");
	TCase *tc = tcase_create("sign");

	tcase_add_loop_test(tc, t_vector, 0, sizeof(vectors) / sizeof(vectors[0]));
	tcase_add_test(tc, t_query_string);
	tcase_add_test(tc, t_path_escape);
	tcase_add_test(tc, t_refused);
	tcase_add_test(tc, t_date);
	tcase_add_test(tc, t_hmac);
	suite_add_tcase(s, tc);
	return t_run(s);
}
