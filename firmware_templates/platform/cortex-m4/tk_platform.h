/*
 * tk_platform.h, Cortex-M4F on QEMU mps2-an386 (Arm AN386 FPGA image).
 *
 * Instruction counter: the CMSDK APB timer 0 at 0x40000000 runs free from
 * 0xFFFFFFFF down at the 25 MHz system clock. Under QEMU with
 * `-icount shift=0` one instruction is one virtual nanosecond, so one tick
 * is exactly 40 instructions, the same on every run.
 *
 * Host I/O: Arm semihosting (`bkpt 0xab`); newlib's stdio reaches the host
 * through librdimon (link with --specs=rdimon.specs -nostartfiles).
 * Startup code: ../cortex-m/startup.c.
 */
#ifndef TK_PLATFORM_H
#define TK_PLATFORM_H

#include <stdint.h>

#define TK_PLATFORM_NAME "cortex-m4 (qemu mps2-an386)"
/* Instructions per tick of tk_platform_ticks() under `qemu -icount shift=0`: NUM / DEN. */
#define TK_PLATFORM_TICK_INSTRUCTIONS_NUM 40u
#define TK_PLATFORM_TICK_INSTRUCTIONS_DEN 1u
/* The AN386's 32 external interrupts (startup.c: vector table). */
#define TK_PLATFORM_IRQ_VECTORS TK_HANDLERS_32

#define TK_PLATFORM_TIMER0_BASE 0x40000000u

/* A free-running up-counter; differences are valid modulo 2^32. */
static inline uint32_t tk_platform_ticks(void)
{
    /* VALUE counts down from RELOAD = 0xFFFFFFFF; invert it to count up */
    return ~*(volatile const uint32_t *)(TK_PLATFORM_TIMER0_BASE + 0x04u);
}

/* Start the counter; called by the reset handler before main. */
void tk_platform_init(void);

/* Write a NUL-terminated string to the host console without stdio (QEMU: its stderr). */
void tk_platform_write(const char *text);

/* Stop the emulator with this exit status (semihosting SYS_EXIT_EXTENDED). */
void tk_platform_exit(int status) __attribute__((noreturn));

#endif /* TK_PLATFORM_H */
