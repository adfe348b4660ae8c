/*
 * Fake CUDA driver API: a TEST DOUBLE of libcuda.so.1 for machines without an NVIDIA GPU (absent hardware).
 *
 * Only for the dry run of bench/gpu_check.py (tests/agent/test_gpu_check_dryrun.py), together with the fake NVML:
 * each "allocation" appends `proc 0 PID TOTAL_BYTES` to the fake NVML's scenario file (FAKE_NVML_SCENARIO) and the
 * first device-to-device copy appends a utilisation sample stamped "now", so the agent sees through NVML what a
 * real driver would report for these processes. Every other call succeeds and does nothing.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int CUresult;
static unsigned long long total, next_ptr = 0x100000;
static int copied;

static void append(const char *line) {
    const char *path = getenv("FAKE_NVML_SCENARIO");
    if (!path) return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) return;
    ssize_t n = write(fd, line, strlen(line)); /* one short write: atomic with O_APPEND */
    (void)n;
    close(fd);
}

CUresult cuInit(unsigned int flags) { (void)flags; return 0; }
CUresult cuDeviceGet(int *dev, int ordinal) { *dev = ordinal; return 0; }
CUresult cuCtxCreate_v2(void **ctx, unsigned int flags, int dev) {
    (void)flags; (void)dev; *ctx = (void *)0x1; return 0;
}
CUresult cuCtxSynchronize(void) { return 0; }
CUresult cuGetErrorString(CUresult rc, const char **s) { (void)rc; *s = "fake"; return 0; }
CUresult cuMemsetD8_v2(unsigned long long p, unsigned char v, size_t n) { (void)p; (void)v; (void)n; return 0; }

CUresult cuMemAlloc_v2(unsigned long long *ptr, size_t bytes) {
    char line[128];
    total += bytes;
    *ptr = next_ptr;
    next_ptr += bytes;
    snprintf(line, sizeof line, "proc 0 %d %llu\n", (int)getpid(), total + (64ULL << 20)); /* + context */
    append(line);
    return 0;
}

CUresult cuMemcpyDtoD_v2(unsigned long long dst, unsigned long long src, size_t n) {
    (void)dst; (void)src; (void)n;
    if (!copied) {
        char line[128];
        copied = 1;
        snprintf(line, sizeof line, "util 0 %d 0 85 0 0 now\n", (int)getpid());
        append(line);
    }
    usleep(200);
    return 0;
}
