/* What a hostile RUN tries, as one static binary the sandbox tests copy into a busybox image.
 *
 *   sbxprobe sniff MARKER SECONDS   AF_PACKET socket on every interface; "seen" if MARKER passes
 *   sbxprobe try NAME...            one system call each; prints "NAME ok" or "NAME errno=E..."
 *   sbxprobe status                 capability sets, no_new_privs and seccomp mode (no /proc needed)
 *
 * Built by tests/support/probe.py with `gcc -static`; busybox alone has no raw-socket reader
 * and cannot make arbitrary system calls. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

static const char *errname(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EROFS: return "EROFS";
    default: return "other";
    }
}

static int sniff(const char *marker, int seconds) {
    int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (s < 0) {
        printf("socket errno=%s\n", errname(errno));
        return 2;
    }
    printf("socket ok\n");
    fflush(stdout);
    struct timeval tv = {0, 200000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    time_t end = time(NULL) + seconds;
    static char buf[70000];
    while (time(NULL) < end) {
        ssize_t n = recv(s, buf, sizeof buf, 0);
        if (n > 0 && memmem(buf, (size_t)n, marker, strlen(marker))) {
            printf("seen\n");
            return 0;
        }
    }
    printf("not seen\n");
    return 1;
}

static long attempt(const char *name) {
    if (!strcmp(name, "unshare")) return unshare(CLONE_NEWNS);
    if (!strcmp(name, "unshare-user")) return unshare(CLONE_NEWUSER);
    if (!strcmp(name, "mount")) return mount("none", "/sbxprobe-no-such-dir", "tmpfs", 0, NULL);
    if (!strcmp(name, "keyctl")) return syscall(SYS_keyctl, 1 /* JOIN_SESSION_KEYRING */, NULL);
    if (!strcmp(name, "add_key")) return syscall(SYS_add_key, "user", "probe", "x", 1, -3 /* session */);
    if (!strcmp(name, "bpf")) return syscall(SYS_bpf, 0, NULL, 0);
    if (!strcmp(name, "ptrace-pid1")) return ptrace(PTRACE_ATTACH, 1, NULL, NULL);
    if (!strcmp(name, "kexec_load")) return syscall(SYS_kexec_load, 0, 0, NULL, 0);
    if (!strcmp(name, "open_by_handle_at")) {
        char h[16] = {0};
        return syscall(SYS_open_by_handle_at, AT_FDCWD, h, O_RDONLY);
    }
    if (!strcmp(name, "setns")) return syscall(SYS_setns, 0, 0);
    if (!strcmp(name, "init_module")) return syscall(SYS_init_module, NULL, 0, "");
    if (!strcmp(name, "perf_event_open")) return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
    if (!strcmp(name, "userfaultfd")) return syscall(SYS_userfaultfd, 0);
    if (!strcmp(name, "clone3")) return syscall(SYS_clone3, NULL, 0);
    if (!strcmp(name, "clone-newnet")) {
        long pid = syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
        if (pid == 0) _exit(0);
        if (pid > 0) waitpid((pid_t)pid, NULL, 0);
        return pid < 0 ? -1 : 0;
    }
    if (!strcmp(name, "fork")) {
        pid_t pid = fork();
        if (pid == 0) _exit(0);
        if (pid > 0) waitpid(pid, NULL, 0);
        return pid < 0 ? -1 : 0;
    }
    if (!strcmp(name, "vsock")) return socket(40 /* AF_VSOCK */, SOCK_STREAM, 0);
    if (!strcmp(name, "packet")) return socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (!strcmp(name, "personality-linux32")) return personality(PER_LINUX32);
    if (!strcmp(name, "personality-other")) return personality(0x0400000 /* READ_IMPLIES_EXEC */);
    if (!strcmp(name, "chroot")) return chroot("/");
    if (!strcmp(name, "syslog")) return syscall(SYS_syslog, 10 /* SIZE_BUFFER */, NULL, 0);
    errno = ENOENT;
    return -2;
}

/* The status lines /proc/self/status would show, without /proc (chroot mode has none). */
static int status(void) {
    struct { unsigned version; int pid; } hdr = {0x20080522, 0};
    struct { unsigned eff, prm, inh; } data[2];
    if (syscall(SYS_capget, &hdr, data) != 0) return 1;
    unsigned long long bnd = 0;
    for (int cap = 0; cap < 64; cap++) {
        int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (r < 0) break;
        if (r) bnd |= 1ULL << cap;
    }
    printf("CapInh %08x%08x\nCapPrm %08x%08x\nCapEff %08x%08x\nCapBnd %016llx\n",
           data[1].inh, data[0].inh, data[1].prm, data[0].prm, data[1].eff, data[0].eff, bnd);
    printf("NoNewPrivs %d\nSeccomp %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "status")) return status();
    if (argc == 4 && !strcmp(argv[1], "sniff")) return sniff(argv[2], atoi(argv[3]));
    if (argc >= 3 && !strcmp(argv[1], "try")) {
        for (int i = 2; i < argc; i++) {
            errno = 0;
            long r = attempt(argv[i]);
            if (r == -2) printf("%s unknown\n", argv[i]);
            else if (r < 0) printf("%s errno=%s\n", argv[i], errname(errno));
            else printf("%s ok\n", argv[i]);
        }
        return 0;
    }
    fprintf(stderr, "usage: sbxprobe sniff MARKER SECONDS | try NAME...\n");
    return 64;
}
