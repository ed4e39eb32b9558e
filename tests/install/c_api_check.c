/* <upcheck.h> as a C program sees it: compiled as strict C99 against the installed header
 * and linked against the installed shared library. Exit 0 when a missing segment is
 * reported as such. */
#include <stdio.h>
#include <upcheck.h>

int main(void) {
  upcheck_shm* shm = NULL;
  int rc = upcheck_shm_attach("upcheck-install-check-no-such-segment", &shm);
  printf("%d %s\n", rc, upcheck_last_error());
  return rc == UPCHECK_ESHM ? 0 : 1;
}
