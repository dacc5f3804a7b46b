/*
 * dlcurl [-n] [-i]: process start plus loading libcurl the way pam_csms does (src/http.c:
 * RTLD_LAZY | RTLD_LOCAL), so that dlcurl - noop is the cost of loading libcurl and the
 * libraries it brings. -n loads it RTLD_NOW instead (what binding every symbol up front
 * would add); -i then calls curl_global_init as the module does before its first request.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	int mode = RTLD_LAZY, init = 0;
	void *h;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0) {
			mode = RTLD_NOW;
		} else if (strcmp(argv[i], "-i") == 0) {
			init = 1;
		} else {
			fprintf(stderr, "usage: dlcurl [-n] [-i]\n");
			return 64;
		}
	}
	h = dlopen("libcurl.so.4", mode | RTLD_LOCAL);
	if (h == NULL) {
		fprintf(stderr, "dlcurl: %s\n", dlerror());
		return 1;
	}
	if (init) {
		int (*global_init)(long) = (int (*)(long))dlsym(h, "curl_global_init");

		/* CURL_GLOBAL_DEFAULT is 3; curl/curl.h is not needed for one constant */
		if (global_init == NULL || global_init(3) != 0) {
			fprintf(stderr, "dlcurl: curl_global_init failed\n");
			return 1;
		}
	}
	return 0;
}
