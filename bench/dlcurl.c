/*
 * dlcurl: process start plus loading libcurl the way pam_csms does (src/http.c), so that
 * dlcurl - noop is the cost of loading libcurl and the libraries it brings.
 */
#include <dlfcn.h>
#include <stdio.h>

int main(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		fprintf(stderr, "dlcurl: %s\n", dlerror());
		return 1;
	}
	return 0;
}
