/*
 * tk_platform.c, Cortex-M55 on QEMU mps3-an547: the SysTick instruction
 * counter. (Host output and exit: ../cortex-m/tk_semihost.c.)
 */
#include "tk_platform.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_CSR_ENABLE    0x1u
#define SYST_CSR_TICKINT   0x2u
#define SYST_CSR_CLKSOURCE 0x4u /* the processor clock */
#define SYST_RELOAD        0xFFFFFFu

static volatile uint32_t g_wraps; /* SysTick periods of 2^24 ticks completed */

void SysTick_Handler(void)
{
    g_wraps = g_wraps + 1u;
}

void tk_platform_init(void)
{
    g_wraps = 0u;
    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0u; /* any write clears the count; it reloads on the next tick */
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
}

uint32_t tk_platform_ticks(void)
{
    uint32_t wraps;
    uint32_t down;
    do {
        wraps = g_wraps;
        down = SYST_CVR;
    } while (wraps != g_wraps); /* a wrap in between: read again */
    return wraps * (SYST_RELOAD + 1u) + (SYST_RELOAD - down);
}
