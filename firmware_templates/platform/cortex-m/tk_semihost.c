/*
 * tk_semihost.c: the platform calls every Cortex-M platform answers the same
 * way through Arm semihosting: write a string, leave with a status.
 */
#include "tk_platform.h"
#include "tk_semihost.h"

void tk_platform_write(const char *text)
{
    (void)tk_semihost_call(TK_SEMIHOST_SYS_WRITE0, (void *)text);
}

void tk_platform_exit(int status)
{
    /* SYS_EXIT_EXTENDED {reason, status}: the A32/T32 SYS_EXIT drops the status */
    uint32_t block[2];
    block[0] = TK_SEMIHOST_ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)status;
    (void)tk_semihost_call(TK_SEMIHOST_SYS_EXIT_EXTENDED, block);
    /* a debugger without the extension: report success or failure only */
    (void)tk_semihost_call(TK_SEMIHOST_SYS_EXIT,
                           (void *)(uintptr_t)(status == 0 ? TK_SEMIHOST_ADP_STOPPED_APPLICATION_EXIT
                                                           : TK_SEMIHOST_ADP_STOPPED_RUNTIME_ERROR));
    for (;;) {
    }
}
