/*
 * startup.c, Cortex-M with FPU on QEMU (mps2-an386 Cortex-M4F, mps3-an547
 * Cortex-M55): vector table and reset handler, shared by the platforms; each
 * platform's tk_platform.h names its IRQ vectors and its counter.
 *
 * Reset: enable the FPU (CPACR CP10/CP11), copy .data from its load address,
 * zero .bss, open the semihosting stdio handles, start the instruction
 * counter, read argv from the host (SYS_GET_CMDLINE), run main, flush stdio
 * and leave the emulator with main's return value as exit status.
 * Any fault prints its exception number and exits with status 134.
 */
#include <stdint.h>
#include <stdio.h>

#include "tk_platform.h"
#include "tk_semihost.h"

#define TK_STARTUP_MAX_ARGS     16
#define TK_STARTUP_CMDLINE_SIZE 1024
#define TK_STARTUP_FAULT_STATUS 134

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

extern uint32_t _sidata[]; /* .data load address (in code memory) */
extern uint32_t _sdata[];
extern uint32_t _edata[];
extern uint32_t _sbss[];
extern uint32_t _ebss[];
extern uint32_t _estack[];

extern void initialise_monitor_handles(void); /* librdimon: stdin/stdout/stderr on the host */
extern int main(int argc, char **argv);

void Reset_Handler(void) __attribute__((noreturn));
void Default_Handler(void);
/* A platform may define its own SysTick handler (e.g. to extend a counter). */
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));

static char g_cmdline[TK_STARTUP_CMDLINE_SIZE];
static char *g_argv[TK_STARTUP_MAX_ARGS + 1];

static void init_memory(void)
{
    const uint32_t *src = _sidata;
    uint32_t *dst;
    for (dst = _sdata; dst < _edata; ++dst) {
        *dst = *src++;
    }
    for (dst = _sbss; dst < _ebss; ++dst) {
        *dst = 0u;
    }
}

/* Split the host command line on spaces; argv[0] is the program name. */
static int read_arguments(void)
{
    struct {
        char *buffer;
        int length;
    } block = {g_cmdline, TK_STARTUP_CMDLINE_SIZE - 1};
    int argc = 0;
    char *p = g_cmdline;
    if (tk_semihost_call(TK_SEMIHOST_SYS_GET_CMDLINE, &block) != 0) {
        g_argv[0] = NULL;
        return 0;
    }
    g_cmdline[TK_STARTUP_CMDLINE_SIZE - 1] = '\0';
    while (*p != '\0' && argc < TK_STARTUP_MAX_ARGS) {
        while (*p == ' ') {
            *p++ = '\0';
        }
        if (*p == '\0') {
            break;
        }
        g_argv[argc++] = p;
        while (*p != '\0' && *p != ' ') {
            ++p;
        }
    }
    g_argv[argc] = NULL;
    return argc;
}

static void __attribute__((noinline, noreturn)) run_program(void)
{
    int argc;
    int status;
    init_memory();
    initialise_monitor_handles();
    tk_platform_init();
    argc = read_arguments();
    status = main(argc, g_argv);
    fflush(NULL);
    tk_platform_exit(status);
}

void Reset_Handler(void)
{
    /* CP10 and CP11 (FPU, and MVE on v8.1-M) full access, before any FP instruction */
    SCB_CPACR |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    run_program();
}

static void write_hex(char *out, uint32_t value)
{
    int i;
    for (i = 7; i >= 0; --i) {
        const uint32_t digit = value & 0xFu;
        out[i] = (char)(digit < 10u ? '0' + digit : 'a' + digit - 10u);
        value >>= 4;
    }
}

void Default_Handler(void)
{
    char message[] = "tk_platform: fault, IPSR=0x00000000\n";
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    write_hex(message + sizeof("tk_platform: fault, IPSR=0x") - 1, ipsr);
    tk_platform_write(message);
    tk_platform_exit(TK_STARTUP_FAULT_STATUS);
}

typedef void (*tk_vector_t)(void);

#define TK_HANDLERS_8                                                                                       \
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, \
        Default_Handler, Default_Handler
#define TK_HANDLERS_32 TK_HANDLERS_8, TK_HANDLERS_8, TK_HANDLERS_8, TK_HANDLERS_8

/* Initial stack pointer, the 15 system exceptions, then the platform's IRQs. */
__attribute__((section(".isr_vector"), used)) const tk_vector_t g_vectors[] = {
    (tk_vector_t)(uintptr_t)_estack,
    Reset_Handler,
    Default_Handler, /* NMI */
    Default_Handler, /* HardFault */
    Default_Handler, /* MemManage */
    Default_Handler, /* BusFault */
    Default_Handler, /* UsageFault */
    Default_Handler, /* SecureFault (v8-M), reserved on v7-M */
    0,
    0,
    0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMonitor */
    0,
    Default_Handler, /* PendSV */
    SysTick_Handler,
    TK_PLATFORM_IRQ_VECTORS,
};
