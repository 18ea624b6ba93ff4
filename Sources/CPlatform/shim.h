#include <malloc.h>
#include <sys/resource.h>
#include <stdio.h>

/// Makes standard output line-buffered (Swift 6 cannot name the global `stdout` safely).
static inline void locallearn_line_buffer_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
