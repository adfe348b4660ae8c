/*
 * Fake NVML: a TEST DOUBLE of NVIDIA's libnvidia-ml.so.1 for machines without an NVIDIA GPU (absent hardware).
 *
 * Built by tools/fakenvml/__init__.py (gcc -shared, SONAME libnvidia-ml.so.1) for the agent's GPU tests
 * (tests/agent/test_gpu*.py) and the GPU cost bench (bench/gpu_scrape.py). It exports the NVML symbols that the
 * real `nvidia-ml-py` binding (pynvml) resolves for the calls the agent makes, with NVML's C signatures and struct
 * layouts, so the binding's own ctypes code runs unchanged against it. What it returns is scripted by a text file
 * named by the environment variable FAKE_NVML_SCENARIO, re-read whenever its path, size or mtime changes (so a test
 * can change the scene between two collections). One directive per line, '#' starts a comment:
 *
 *   device UUID NAME...                 a physical GPU; indexes follow the order of the lines
 *   mig PARENT SLOT UUID GI CI          a MIG device in slot SLOT of GPU PARENT (turns MIG mode on for PARENT)
 *   proc DEV PID BYTES [graphics]       a process holding a context on DEV (index, or PARENT:SLOT for a MIG
 *                                       device); BYTES "na" is NVML_VALUE_NOT_AVAILABLE; compute unless "graphics"
 *   util DEV PID SM MEM ENC DEC TS      a utilisation sample (percent) taken at CPU timestamp TS (microseconds;
 *                                       "now": the time of each call, so every read finds it new)
 *   fail FUNC CODE [DEV]                FUNC returns NVML error CODE (for device DEV only, when given)
 *   sleep FUNC MS                       FUNC sleeps MS milliseconds before answering (to test deadlines)
 *
 * fake_nvml_calls(name) returns how often an exported function was called since fake_nvml_reset().
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef int nvmlReturn_t;
typedef struct fake_dev *nvmlDevice_t;

#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_VALUE_NOT_AVAILABLE_ULL (~0ULL)
#define NO_INSTANCE 0xFFFFFFFFu

typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_t;

typedef struct {
    unsigned int pid;
    unsigned long long timeStamp;
    unsigned int smUtil, memUtil, encUtil, decUtil;
} nvmlProcessUtilizationSample_t;

#define MAX_DEV 128
#define MAX_PROC 16384
#define MAX_RULE 256
#define MAX_SLOT 8

struct fake_dev {
    int used;
    int mig;          /* 1 for a MIG device */
    int parent;       /* index of the physical GPU */
    int slot;         /* MIG slot, -1 for a physical GPU */
    unsigned gi, ci;
    char uuid[96];
    char name[96];
};

struct proc { int dev; unsigned pid; unsigned long long bytes; int graphics; };
struct util { int dev; unsigned pid; unsigned sm, mem, enc, dec; unsigned long long ts; };
struct rule { char func[80]; int code; int dev; int ms; };

static struct fake_dev devs[MAX_DEV];       /* [0, ngpu) physical GPUs, then MIG devices */
static int ngpu, ndev;
static struct proc procs[MAX_PROC];
static int nproc;
static struct util utils[MAX_PROC];
static int nutil;
static struct rule rules[MAX_RULE];
static int nrule;
static int initialised;
static char loaded_path[4096];
static long long loaded_mtime = -1, loaded_size = -1;

struct counter { char name[80]; long n; };
static struct counter counters[64];
static int ncounters;

static void count(const char *name) {
    for (int i = 0; i < ncounters; i++)
        if (strcmp(counters[i].name, name) == 0) { counters[i].n++; return; }
    if (ncounters < 64) {
        snprintf(counters[ncounters].name, sizeof counters[0].name, "%s", name);
        counters[ncounters++].n = 1;
    }
}

long fake_nvml_calls(const char *name) {
    for (int i = 0; i < ncounters; i++)
        if (strcmp(counters[i].name, name) == 0) return counters[i].n;
    return 0;
}

void fake_nvml_reset(void) { ncounters = 0; }

/* "3" -> physical GPU 3; "0:2" -> the MIG device in slot 2 of GPU 0; -1 when unknown. */
static int dev_ref(const char *s) {
    char *end;
    long a = strtol(s, &end, 10);
    if (*end == '\0') return (a >= 0 && a < ngpu) ? (int)a : -1;
    if (*end != ':') return -1;
    long b = strtol(end + 1, NULL, 10);
    for (int i = ngpu; i < ndev; i++)
        if (devs[i].parent == a && devs[i].slot == b) return i;
    return -1;
}

/* One scenario line in words: the keyword and up to seven words after it, a comment from '#' on cut off. */
struct words { char kw[16], a[128], b[128], c[128], d[128], e[128], g[128], h[128]; int n; };

static void split_line(char *line, struct words *w) {
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    memset(w, 0, sizeof *w);
    w->n = sscanf(line, "%15s %127s %127s %127s %127s %127s %127s %127s",
                  w->kw, w->a, w->b, w->c, w->d, w->e, w->g, w->h);
}

static void load_scenario(void) {
    const char *path = getenv("FAKE_NVML_SCENARIO");
    struct stat st;
    if (!path || stat(path, &st) != 0) {
        if (loaded_path[0] == '\0' && loaded_size == 0) return;
        loaded_path[0] = '\0'; loaded_size = 0; loaded_mtime = -1;
        ngpu = ndev = nproc = nutil = nrule = 0;
        return;
    }
    long long mt = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    if (strcmp(path, loaded_path) == 0 && mt == loaded_mtime && (long long)st.st_size == loaded_size) return;
    FILE *f = fopen(path, "r");
    if (!f) return;
    snprintf(loaded_path, sizeof loaded_path, "%s", path);
    loaded_mtime = mt; loaded_size = st.st_size;
    memset(devs, 0, sizeof devs);
    ngpu = ndev = nproc = nutil = nrule = 0;
    /* Two passes: physical GPUs and MIG devices first, so that proc/util lines may name any device. */
    char line[1024];
    for (int pass = 0; pass < 2; pass++) {
        rewind(f);
        while (fgets(line, sizeof line, f)) {
            struct words w;
            split_line(line, &w);
            if (w.n < 1) continue;
            if (pass == 0 && strcmp(w.kw, "device") == 0 && w.n >= 2 && ndev < MAX_DEV) {
                struct fake_dev *x = &devs[ndev];
                x->used = 1; x->mig = 0; x->parent = ndev; x->slot = -1; x->gi = x->ci = NO_INSTANCE;
                snprintf(x->uuid, sizeof x->uuid, "%.*s", (int)sizeof x->uuid - 1, w.a);
                /* the name is the rest of the line after the UUID */
                char *p = strstr(line, w.a) + strlen(w.a);
                while (*p == ' ' || *p == '\t') p++;
                snprintf(x->name, sizeof x->name, "%s", *p ? p : "Fake GPU");
                x->name[strcspn(x->name, "\r\n")] = '\0';
                ndev++; ngpu++;
            }
        }
        if (pass == 0) {
            rewind(f);
            while (fgets(line, sizeof line, f)) {
                char kw[16] = "", a[128] = "", b[128] = "", c[128] = "", d[128] = "", e[128] = "";
                int n = sscanf(line, "%15s %127s %127s %127s %127s %127s", kw, a, b, c, d, e);
                if (n >= 6 && strcmp(kw, "mig") == 0 && ndev < MAX_DEV) {
                    int parent = atoi(a);
                    if (parent < 0 || parent >= ngpu) continue;
                    struct fake_dev *x = &devs[ndev++];
                    x->used = 1; x->mig = 1; x->parent = parent; x->slot = atoi(b);
                    snprintf(x->uuid, sizeof x->uuid, "%s", c);
                    snprintf(x->name, sizeof x->name, "%s MIG", devs[parent].name);
                    x->gi = (unsigned)atoi(d); x->ci = (unsigned)atoi(e);
                }
            }
            continue;
        }
        rewind(f);
        while (fgets(line, sizeof line, f)) {
            struct words w;
            split_line(line, &w);
            if (w.n >= 4 && strcmp(w.kw, "proc") == 0 && nproc < MAX_PROC) {
                int dv = dev_ref(w.a);
                if (dv < 0) continue;
                struct proc *p = &procs[nproc++];
                p->dev = dv; p->pid = (unsigned)strtoul(w.b, NULL, 10);
                p->bytes = strcmp(w.c, "na") == 0 ? NVML_VALUE_NOT_AVAILABLE_ULL : strtoull(w.c, NULL, 10);
                p->graphics = w.n >= 5 && strcmp(w.d, "graphics") == 0;
            } else if (w.n >= 8 && strcmp(w.kw, "util") == 0 && nutil < MAX_PROC) {
                int dv = dev_ref(w.a);
                if (dv < 0) continue;
                struct util *u = &utils[nutil++];
                u->dev = dv; u->pid = (unsigned)strtoul(w.b, NULL, 10);
                u->sm = (unsigned)atoi(w.c); u->mem = (unsigned)atoi(w.d); u->enc = (unsigned)atoi(w.e);
                u->dec = (unsigned)atoi(w.g); u->ts = strcmp(w.h, "now") == 0 ? 0 : strtoull(w.h, NULL, 10);
            } else if (w.n >= 3 && strcmp(w.kw, "fail") == 0 && nrule < MAX_RULE) {
                struct rule *r = &rules[nrule++];
                snprintf(r->func, sizeof r->func, "%.*s", (int)sizeof r->func - 1, w.a);
                r->code = atoi(w.b); r->ms = 0;
                r->dev = w.n >= 4 ? dev_ref(w.c) : -1;
                if (w.n >= 4 && r->dev < 0) r->dev = -2; /* names no device: never applies */
            } else if (w.n >= 3 && strcmp(w.kw, "sleep") == 0 && nrule < MAX_RULE) {
                struct rule *r = &rules[nrule++];
                snprintf(r->func, sizeof r->func, "%.*s", (int)sizeof r->func - 1, w.a);
                r->code = 0; r->ms = atoi(w.b); r->dev = -1;
            }
        }
    }
    fclose(f);
}

/* Bookkeeping at the top of every exported call: count it, reload the scene, sleep and fail as scripted. */
static nvmlReturn_t enter(const char *func, int dev) {
    count(func);
    load_scenario();
    for (int i = 0; i < nrule; i++) {
        struct rule *r = &rules[i];
        if (strcmp(r->func, func) != 0) continue;
        if (r->ms > 0) {
            struct timespec ts = { r->ms / 1000, (long)(r->ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
        if (r->code != 0 && (r->dev == -1 || r->dev == dev)) return r->code;
    }
    return NVML_SUCCESS;
}

static int dev_index(nvmlDevice_t d) {
    if (d == NULL || d < devs || d >= devs + ndev || !d->used) return -1;
    return (int)(d - devs);
}

#define CHECK_DEV(func, d, idx)                                                             \
    int idx = dev_index(d);                                                                 \
    nvmlReturn_t rc_ = enter(func, idx);                                                    \
    if (rc_ != NVML_SUCCESS) return rc_;                                                    \
    if (!initialised) return NVML_ERROR_UNINITIALIZED;                                      \
    if (idx < 0) return NVML_ERROR_INVALID_ARGUMENT;

nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    nvmlReturn_t rc = enter("nvmlInitWithFlags", -1);
    if (rc == NVML_SUCCESS) initialised = 1;
    return rc;
}
nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }
nvmlReturn_t nvmlInit(void) { return nvmlInitWithFlags(0); }

nvmlReturn_t nvmlShutdown(void) {
    nvmlReturn_t rc = enter("nvmlShutdown", -1);
    initialised = 0;
    return rc;
}

const char *nvmlErrorString(nvmlReturn_t result) {
    count("nvmlErrorString");
    switch (result) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 6: return "Not Found";
    case 7: return "Insufficient Size";
    case 9: return "Driver Not Loaded";
    case 10: return "Timeout";
    case 15: return "GPU is lost";
    case 16: return "GPU requires restart";
    default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    nvmlReturn_t rc = enter("nvmlSystemGetDriverVersion", -1);
    if (rc != NVML_SUCCESS) return rc;
    snprintf(version, length, "%s", "999.99-fake");
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n) {
    nvmlReturn_t rc = enter("nvmlDeviceGetCount_v2", -1);
    if (rc != NVML_SUCCESS) return rc;
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    *n = (unsigned)ngpu;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    nvmlReturn_t rc = enter("nvmlDeviceGetHandleByIndex_v2", (int)index);
    if (rc != NVML_SUCCESS) return rc;
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    if ((int)index >= ngpu) return NVML_ERROR_INVALID_ARGUMENT;
    *device = &devs[index];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int length) {
    CHECK_DEV("nvmlDeviceGetUUID", d, i);
    snprintf(uuid, length, "%s", devs[i].uuid);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int length) {
    CHECK_DEV("nvmlDeviceGetName", d, i);
    snprintf(name, length, "%s", devs[i].name);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t d, unsigned int *index) {
    CHECK_DEV("nvmlDeviceGetIndex", d, i);
    *index = (unsigned)devs[i].parent;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t d, unsigned int *current, unsigned int *pending) {
    CHECK_DEV("nvmlDeviceGetMigMode", d, i);
    if (devs[i].mig) return NVML_ERROR_NOT_SUPPORTED;
    int on = 0;
    for (int j = ngpu; j < ndev; j++) on |= devs[j].parent == i;
    *current = *pending = (unsigned)on;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t d, unsigned int *n) {
    CHECK_DEV("nvmlDeviceGetMaxMigDeviceCount", d, i);
    *n = devs[i].mig ? 0 : MAX_SLOT;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t d, unsigned int index, nvmlDevice_t *mig) {
    CHECK_DEV("nvmlDeviceGetMigDeviceHandleByIndex", d, i);
    for (int j = ngpu; j < ndev; j++)
        if (devs[j].parent == i && devs[j].slot == (int)index) { *mig = &devs[j]; return NVML_SUCCESS; }
    return NVML_ERROR_NOT_FOUND;
}

nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t d, unsigned int *is_mig) {
    CHECK_DEV("nvmlDeviceIsMigDeviceHandle", d, i);
    *is_mig = (unsigned)devs[i].mig;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t d, unsigned int *id) {
    CHECK_DEV("nvmlDeviceGetGpuInstanceId", d, i);
    if (!devs[i].mig) return NVML_ERROR_INVALID_ARGUMENT;
    *id = devs[i].gi;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t d, unsigned int *id) {
    CHECK_DEV("nvmlDeviceGetComputeInstanceId", d, i);
    if (!devs[i].mig) return NVML_ERROR_INVALID_ARGUMENT;
    *id = devs[i].ci;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t d, nvmlDevice_t *parent) {
    CHECK_DEV("nvmlDeviceGetDeviceHandleFromMigDeviceHandle", d, i);
    if (!devs[i].mig) return NVML_ERROR_INVALID_ARGUMENT;
    *parent = &devs[devs[i].parent];
    return NVML_SUCCESS;
}

/* NVML's two-call protocol: with too small a buffer, set *count to what is needed and say INSUFFICIENT_SIZE. A
 * physical GPU in MIG mode reports its instances' processes with their instance ids (the aggregate view). */
static nvmlReturn_t running(nvmlDevice_t d, unsigned int *count_, nvmlProcessInfo_t *infos, int graphics,
                            const char *func) {
    CHECK_DEV(func, d, i);
    unsigned n = 0;
    for (int k = 0; k < nproc; k++) {
        const struct proc *p = &procs[k];
        if (p->graphics != graphics) continue;
        int mine = p->dev == i || (!devs[i].mig && devs[p->dev].mig && devs[p->dev].parent == i);
        if (!mine) continue;
        if (infos != NULL && n < *count_) {
            infos[n].pid = p->pid;
            infos[n].usedGpuMemory = p->bytes;
            infos[n].gpuInstanceId = devs[p->dev].gi;
            infos[n].computeInstanceId = devs[p->dev].ci;
        }
        n++;
    }
    if (infos == NULL || n > *count_) {
        *count_ = n;
        return n == 0 ? NVML_SUCCESS : NVML_ERROR_INSUFFICIENT_SIZE;
    }
    *count_ = n;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *n, nvmlProcessInfo_t *infos) {
    return running(d, n, infos, 0, "nvmlDeviceGetComputeRunningProcesses_v3");
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d, unsigned int *n, nvmlProcessInfo_t *infos) {
    return running(d, n, infos, 1, "nvmlDeviceGetGraphicsRunningProcesses_v3");
}

/* Samples newer than lastSeen; NOT_FOUND when there are none (an idle GPU), as the real driver answers. MIG
 * devices do not support per-process utilisation. */
nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t d, nvmlProcessUtilizationSample_t *samples,
                                             unsigned int *count_, unsigned long long last_seen) {
    CHECK_DEV("nvmlDeviceGetProcessUtilization", d, i);
    if (devs[i].mig) return NVML_ERROR_NOT_SUPPORTED;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    unsigned long long now_us = (unsigned long long)now.tv_sec * 1000000ULL + (unsigned long long)now.tv_nsec / 1000;
    unsigned n = 0;
    for (int k = 0; k < nutil; k++) {
        const struct util *u = &utils[k];
        unsigned long long ts = u->ts ? u->ts : now_us;
        if (u->dev != i || ts <= last_seen) continue;
        if (samples != NULL && n < *count_) {
            samples[n].pid = u->pid;
            samples[n].timeStamp = ts;
            samples[n].smUtil = u->sm;
            samples[n].memUtil = u->mem;
            samples[n].encUtil = u->enc;
            samples[n].decUtil = u->dec;
        }
        n++;
    }
    if (n == 0) return NVML_ERROR_NOT_FOUND;
    if (samples == NULL || n > *count_) {
        *count_ = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    *count_ = n;
    return NVML_SUCCESS;
}
