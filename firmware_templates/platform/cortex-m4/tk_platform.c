/*
 * tk_platform.c, Cortex-M4F on QEMU mps2-an386: the instruction counter.
 * (Host output and exit: ../cortex-m/tk_semihost.c.)
 */
#include "tk_platform.h"

#define TIMER_CTRL   (*(volatile uint32_t *)(TK_PLATFORM_TIMER0_BASE + 0x00u))
#define TIMER_RELOAD (*(volatile uint32_t *)(TK_PLATFORM_TIMER0_BASE + 0x08u))
#define TIMER_CTRL_ENABLE 0x1u

void tk_platform_init(void)
{
    TIMER_CTRL = 0u;
    TIMER_RELOAD = 0xFFFFFFFFu; /* writing RELOAD also loads VALUE */
    TIMER_CTRL = TIMER_CTRL_ENABLE; /* no interrupt: a free-running counter */
}
