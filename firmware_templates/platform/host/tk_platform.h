/*
 * tk_platform.h, host: no instruction counter (TK_PLATFORM_TICK_INSTRUCTIONS_NUM 0).
 */
#ifndef TK_PLATFORM_H
#define TK_PLATFORM_H

#include <stdint.h>

#define TK_PLATFORM_NAME "host"
/* Instructions per tick of tk_platform_ticks() as NUM / DEN; NUM 0 = no counter here. */
#define TK_PLATFORM_TICK_INSTRUCTIONS_NUM 0u
#define TK_PLATFORM_TICK_INSTRUCTIONS_DEN 1u

/* A free-running up-counter; differences are valid modulo 2^32. */
static inline uint32_t tk_platform_ticks(void)
{
    return 0u;
}

#endif /* TK_PLATFORM_H */
