/*
 * tk_stack_probe.h: measured stack use on a Cortex-M bundle. The stack region
 * (sections.ld: __stack_limit .. _estack) below the caller is painted with a
 * pattern at start; the deepest word no longer holding it is the high-water mark.
 */
#ifndef TK_STACK_PROBE_H
#define TK_STACK_PROBE_H

#include <stdint.h>

/* Paint the unused stack (call first thing in main). */
void tk_stack_probe_paint(void);

/* Bytes of stack used since reset, up to now (includes the reset handler's frames). */
uint32_t tk_stack_probe_used(void);

#endif /* TK_STACK_PROBE_H */
