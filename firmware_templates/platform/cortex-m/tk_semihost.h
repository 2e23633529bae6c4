/*
 * tk_semihost.h: Arm semihosting calls for M-profile cores (BKPT 0xAB).
 * Operation numbers from the Arm "Semihosting for AArch32 and AArch64" spec.
 */
#ifndef TK_SEMIHOST_H
#define TK_SEMIHOST_H

#include <stdint.h>

#define TK_SEMIHOST_SYS_WRITE0        0x04
#define TK_SEMIHOST_SYS_GET_CMDLINE   0x15
#define TK_SEMIHOST_SYS_EXIT          0x18
#define TK_SEMIHOST_SYS_EXIT_EXTENDED 0x20

#define TK_SEMIHOST_ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define TK_SEMIHOST_ADP_STOPPED_RUNTIME_ERROR    0x20023u

/* r0 = operation, r1 = argument (usually a parameter block); result in r0. */
static inline int tk_semihost_call(int operation, void *argument)
{
    register int r0 __asm__("r0") = operation;
    register void *r1 __asm__("r1") = argument;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

#endif /* TK_SEMIHOST_H */
