/*
 * tk_platform.h, Cortex-M55 on QEMU mps3-an547 (Arm AN547, SSE-300).
 *
 * Instruction counter: SysTick on the processor clock (32 MHz), reloading
 * 0xFFFFFF, extended to 32 bits by its interrupt. Under QEMU with
 * `-icount shift=0` one instruction is one virtual nanosecond, so one tick
 * is 31.25 instructions (125 / 4), the same on every run. (The SSE-300's own
 * timers at 0x48000000 are system-counter timers, not CMSDK down-counters.)
 *
 * Host I/O: Arm semihosting (`bkpt 0xab`); newlib's stdio reaches the host
 * through librdimon (link with --specs=rdimon.specs -nostartfiles).
 * Startup code: ../cortex-m/startup.c. The core runs in Secure state.
 */
#ifndef TK_PLATFORM_H
#define TK_PLATFORM_H

#include <stdint.h>

#define TK_PLATFORM_NAME "cortex-m55 (qemu mps3-an547)"
/* Instructions per tick of tk_platform_ticks() under `qemu -icount shift=0`: NUM / DEN. */
#define TK_PLATFORM_TICK_INSTRUCTIONS_NUM 125u
#define TK_PLATFORM_TICK_INSTRUCTIONS_DEN 4u
/* The AN547's 96 external interrupts (startup.c: vector table). */
#define TK_PLATFORM_IRQ_VECTORS TK_HANDLERS_32, TK_HANDLERS_32, TK_HANDLERS_32

/* A free-running up-counter; differences are valid modulo 2^32. */
uint32_t tk_platform_ticks(void);

/* Start the counter; called by the reset handler before main. */
void tk_platform_init(void);

/* Write a NUL-terminated string to the host console without stdio (QEMU: its stderr). */
void tk_platform_write(const char *text);

/* Stop the emulator with this exit status (semihosting SYS_EXIT_EXTENDED). */
void tk_platform_exit(int status) __attribute__((noreturn));

#endif /* TK_PLATFORM_H */
