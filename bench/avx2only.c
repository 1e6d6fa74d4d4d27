/*
 * Runs a program as if its CPU had AVX2 and nothing newer: no AVX-512, no VNNI (neither
 * AVX-512 VNNI nor AVX-VNNI), no AMX. Libraries that pick their kernels by CPUID (ONNX
 * Runtime's MLAS, numpy, PyTorch, oneDNN) then run the kernels an AVX2-only server runs,
 * on this machine's cores, so the indexing figures of such a server can be measured here.
 *
 *     gcc -shared -fPIC -O2 -o /tmp/avx2only.so bench/avx2only.c
 *     LD_PRELOAD=/tmp/avx2only.so .venv/bin/python bench/knowledge_index.py --sizes ""
 *
 * How: the kernel's CPUID faulting (arch_prctl ARCH_SET_CPUID; /proc/cpuinfo shows
 * "cpuid_fault" where the CPU or hypervisor offers it) makes every CPUID instruction raise
 * SIGSEGV; the handler runs the real CPUID, clears the feature bits above and steps over the
 * instruction. The setting is inherited by threads and forks and dropped on exec (LD_PRELOAD
 * loads this again there). The C library chose its own string functions before this loads;
 * they are not what indexing spends its time in.
 * What it cannot change: the clock, caches and memory of this machine, which are not an
 * older server's. Compare builds with it on one machine; do not read it as another CPU.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

/* CPUID leaf 7, sub-leaf 0. EBX: AVX512 F, DQ, IFMA, PF, ER, CD, BW, VL. */
#define L7_EBX ((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31))
/* ECX: AVX512 VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ. */
#define L7_ECX ((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14))
/* EDX: AVX512 4VNNIW, 4FMAPS, VP2INTERSECT, AMX BF16, AVX512 FP16, AMX TILE, AMX INT8. */
#define L7_EDX ((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25))
/* Leaf 7, sub-leaf 1. EAX: AVX-VNNI, AVX512 BF16, AMX FP16; EDX: AVX-VNNI-INT8, AVX10. */
#define L71_EAX ((1u << 4) | (1u << 5) | (1u << 21))
#define L71_EDX ((1u << 4) | (1u << 19))

static long cpuid_enabled(int on) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, on); }

static void on_fault(int sig, siginfo_t *info, void *context) {
    (void)info;
    ucontext_t *uc = context;
    greg_t *reg = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)reg[REG_RIP];
    if (ip[0] != 0x0f || ip[1] != 0xa2) {
        /* A real fault: let it happen again with the default action (a core dump). */
        signal(sig, SIG_DFL);
        return;
    }
    unsigned leaf = (unsigned)reg[REG_RAX], sub = (unsigned)reg[REG_RCX];
    unsigned a, b, c, d;
    cpuid_enabled(1);
    __cpuid_count(leaf, sub, a, b, c, d);
    cpuid_enabled(0);
    if (leaf == 7 && sub == 0) {
        b &= ~L7_EBX;
        c &= ~L7_ECX;
        d &= ~L7_EDX;
    } else if (leaf == 7 && sub == 1) {
        a &= ~L71_EAX;
        d &= ~L71_EDX;
    } else if (leaf == 0x24) { /* AVX10: nothing to describe */
        a = b = c = d = 0;
    }
    reg[REG_RAX] = a;
    reg[REG_RBX] = b;
    reg[REG_RCX] = c;
    reg[REG_RDX] = d;
    reg[REG_RIP] += 2;
}

__attribute__((constructor)) static void mask_cpuid(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &action, NULL);
    if (cpuid_enabled(0) != 0) {
        perror("avx2only: arch_prctl(ARCH_SET_CPUID) (no cpuid_fault on this CPU?)");
        exit(2);
    }
}
