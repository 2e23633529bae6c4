/*
 * tk_stack_probe.c: stack high-water mark by painting (see tk_stack_probe.h).
 */
#include "tk_stack_probe.h"

#define TK_STACK_PATTERN 0x5AA5C33Cu
#define TK_STACK_GUARD_WORDS 16u /* left alone below the painting function's own frame */

extern uint32_t __stack_limit[]; /* sections.ld */
extern uint32_t _estack[];

void __attribute__((noinline)) tk_stack_probe_paint(void)
{
    uintptr_t sp;
    volatile uint32_t *word = __stack_limit;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    while ((uintptr_t)word + 4u * TK_STACK_GUARD_WORDS < sp) {
        *word++ = TK_STACK_PATTERN;
    }
}

uint32_t tk_stack_probe_used(void)
{
    const volatile uint32_t *word = __stack_limit;
    while (word < (const volatile uint32_t *)_estack && *word == TK_STACK_PATTERN) {
        ++word;
    }
    return (uint32_t)((uintptr_t)_estack - (uintptr_t)word);
}
