"""The RUN seccomp filter: Docker's default profile as a classic BPF program of mason's own.

Docker and BuildKit give every RUN their default seccomp profile (moby ``profiles/seccomp``;
BuildKit uses containerd's copy of it).  With the default capability set that profile comes down
to: a fixed list of allowed system calls; ``socket`` unless the family is ``AF_VSOCK``;
``personality`` for five personas; ``clone`` without any ``CLONE_NEW*`` flag; ``clone3`` answered
with ``ENOSYS`` (so libc falls back to ``clone``, whose flags the filter can see); ``chroot``
(the set includes CAP_SYS_CHROOT); ``ptrace`` and ``process_vm_*`` (kernels >= 4.8); every other
call fails with ``EPERM``.  So ``mount``, ``unshare``, ``setns``, ``keyctl``, ``add_key``, ``bpf``,
``kexec_load``, ``open_by_handle_at``, ``init_module``, ``perf_event_open``, ``userfaultfd`` …
are refused, whatever capabilities a process might regain.

Why not libseccomp's Python binding: Debian's ``python3-seccomp`` is built for Debian's own
interpreter and is not importable from the helper (``python -I -S``, another interpreter), and
the filter is small enough to write directly.  The program is built here, on mason's side,
as bytes (``struct sock_filter[]``) and installed by the helper with ``prctl(PR_SET_SECCOMP)``
just before ``execve``.  A system call of another ABI on the same CPU (32-bit ``int 0x80`` or
x32 numbers, AArch32 on aarch64) is refused: Docker translates its list for those ABIs, mason
does not run them.

Machines: x86_64 and aarch64 (the filter is the *host's*: under qemu-user binfmt emulation the
kernel sees qemu's own system calls, of the host's ABI, so an emulated RUN gets the host's
filter, which applies to the calls qemu makes for the guest; see docs/security.md).

The kernel (>= 5.11) caches "always allowed" numbers in a bitmap, so the linear program costs
nothing on the common path.
"""

from __future__ import annotations

import os
import struct

from mason.errors import NotSupportedError

# The allowed calls that exist on x86_64, with their numbers (asm/unistd_64.h).
_X86_64_ALLOWED = """
read:0 write:1 open:2 close:3 stat:4 fstat:5 lstat:6 poll:7 lseek:8 mmap:9 mprotect:10
munmap:11 brk:12 rt_sigaction:13 rt_sigprocmask:14 rt_sigreturn:15 ioctl:16 pread64:17
pwrite64:18 readv:19 writev:20 access:21 pipe:22 select:23 sched_yield:24 mremap:25 msync:26
mincore:27 madvise:28 shmget:29 shmat:30 shmctl:31 dup:32 dup2:33 pause:34 nanosleep:35
getitimer:36 alarm:37 setitimer:38 getpid:39 sendfile:40 connect:42 accept:43 sendto:44
recvfrom:45 sendmsg:46 recvmsg:47 shutdown:48 bind:49 listen:50 getsockname:51
getpeername:52 socketpair:53 setsockopt:54 getsockopt:55 fork:57 vfork:58 execve:59 exit:60
wait4:61 kill:62 uname:63 semget:64 semop:65 semctl:66 shmdt:67 msgget:68 msgsnd:69
msgrcv:70 msgctl:71 fcntl:72 flock:73 fsync:74 fdatasync:75 truncate:76 ftruncate:77
getdents:78 getcwd:79 chdir:80 fchdir:81 rename:82 mkdir:83 rmdir:84 creat:85 link:86
unlink:87 symlink:88 readlink:89 chmod:90 fchmod:91 chown:92 fchown:93 lchown:94 umask:95
gettimeofday:96 getrlimit:97 getrusage:98 sysinfo:99 times:100 getuid:102 getgid:104
setuid:105 setgid:106 geteuid:107 getegid:108 setpgid:109 getppid:110 getpgrp:111 setsid:112
setreuid:113 setregid:114 getgroups:115 setgroups:116 setresuid:117 getresuid:118
setresgid:119 getresgid:120 getpgid:121 setfsuid:122 setfsgid:123 getsid:124 capget:125
capset:126 rt_sigpending:127 rt_sigtimedwait:128 rt_sigqueueinfo:129 rt_sigsuspend:130
sigaltstack:131 utime:132 mknod:133 statfs:137 fstatfs:138 getpriority:140 setpriority:141
sched_setparam:142 sched_getparam:143 sched_setscheduler:144 sched_getscheduler:145
sched_get_priority_max:146 sched_get_priority_min:147 sched_rr_get_interval:148 mlock:149
munlock:150 mlockall:151 munlockall:152 prctl:157 adjtimex:159 setrlimit:160 sync:162
gettid:186 readahead:187 setxattr:188 lsetxattr:189 fsetxattr:190 getxattr:191 lgetxattr:192
fgetxattr:193 listxattr:194 llistxattr:195 flistxattr:196 removexattr:197 lremovexattr:198
fremovexattr:199 tkill:200 time:201 futex:202 sched_setaffinity:203 sched_getaffinity:204
set_thread_area:205 io_setup:206 io_destroy:207 io_getevents:208 io_submit:209 io_cancel:210
get_thread_area:211 epoll_create:213 epoll_ctl_old:214 epoll_wait_old:215
remap_file_pages:216 getdents64:217 set_tid_address:218 restart_syscall:219 semtimedop:220
fadvise64:221 timer_create:222 timer_settime:223 timer_gettime:224 timer_getoverrun:225
timer_delete:226 clock_gettime:228 clock_getres:229 clock_nanosleep:230 exit_group:231
epoll_wait:232 epoll_ctl:233 tgkill:234 utimes:235 mq_open:240 mq_unlink:241
mq_timedsend:242 mq_timedreceive:243 mq_notify:244 mq_getsetattr:245 waitid:247
ioprio_set:251 ioprio_get:252 inotify_init:253 inotify_add_watch:254 inotify_rm_watch:255
openat:257 mkdirat:258 mknodat:259 fchownat:260 futimesat:261 newfstatat:262 unlinkat:263
renameat:264 linkat:265 symlinkat:266 readlinkat:267 fchmodat:268 faccessat:269 pselect6:270
ppoll:271 set_robust_list:273 get_robust_list:274 splice:275 tee:276 sync_file_range:277
vmsplice:278 utimensat:280 epoll_pwait:281 signalfd:282 timerfd_create:283 eventfd:284
fallocate:285 timerfd_settime:286 timerfd_gettime:287 accept4:288 signalfd4:289 eventfd2:290
epoll_create1:291 dup3:292 pipe2:293 inotify_init1:294 preadv:295 pwritev:296
rt_tgsigqueueinfo:297 recvmmsg:299 fanotify_mark:301 prlimit64:302 name_to_handle_at:303
clock_adjtime:305 syncfs:306 sendmmsg:307 getcpu:309 sched_setattr:314 sched_getattr:315
renameat2:316 seccomp:317 getrandom:318 memfd_create:319 execveat:322 membarrier:324
mlock2:325 copy_file_range:326 preadv2:327 pwritev2:328 pkey_mprotect:329 pkey_alloc:330
pkey_free:331 statx:332 io_pgetevents:333 rseq:334 pidfd_send_signal:424 io_uring_setup:425
io_uring_enter:426 io_uring_register:427 pidfd_open:434 close_range:436 openat2:437
faccessat2:439 epoll_pwait2:441 landlock_create_ruleset:444 landlock_add_rule:445
landlock_restrict_self:446 memfd_secret:447 process_mrelease:448 futex_waitv:449
"""
_X86_64 = {"nr_max_x32": 0x40000000, "arch": 0xC000003E, "socket": 41, "personality": 135,
           "clone": 56, "clone3": 435, "chroot": 161, "ptrace": 101, "process_vm_readv": 310,
           "process_vm_writev": 311, "arch_prctl": 158, "modify_ldt": 154}
# The same calls on aarch64: the names of the x86_64 list that exist there (aarch64 has no open,
# stat, fork, pipe, dup2 … only their *at/2/3 forms), numbered by the asm-generic table as arm64
# builds it (asm/unistd.h of Debian's linux-libc-dev:arm64 6.1: RENAMEAT, NEW_STAT,
# SET_GET_RLIMIT, SYS_CLONE3, MEMFD_SECRET). Docker's profile adds nothing for arm64 itself
# (its arm-only names are the 32-bit ABI's, refused here with the rest of that ABI).
_AARCH64_ALLOWED = """
io_setup:0 io_destroy:1 io_submit:2 io_cancel:3 io_getevents:4 setxattr:5 lsetxattr:6
fsetxattr:7 getxattr:8 lgetxattr:9 fgetxattr:10 listxattr:11 llistxattr:12 flistxattr:13
removexattr:14 lremovexattr:15 fremovexattr:16 getcwd:17 eventfd2:19 epoll_create1:20
epoll_ctl:21 epoll_pwait:22 dup:23 dup3:24 fcntl:25 inotify_init1:26 inotify_add_watch:27
inotify_rm_watch:28 ioctl:29 ioprio_set:30 ioprio_get:31 flock:32 mknodat:33 mkdirat:34
unlinkat:35 symlinkat:36 linkat:37 renameat:38 statfs:43 fstatfs:44 truncate:45 ftruncate:46
fallocate:47 faccessat:48 chdir:49 fchdir:50 fchmod:52 fchmodat:53 fchownat:54 fchown:55
openat:56 close:57 pipe2:59 getdents64:61 lseek:62 read:63 write:64 readv:65 writev:66
pread64:67 pwrite64:68 preadv:69 pwritev:70 sendfile:71 pselect6:72 ppoll:73 signalfd4:74
vmsplice:75 splice:76 tee:77 readlinkat:78 newfstatat:79 fstat:80 sync:81 fsync:82 fdatasync:83
sync_file_range:84 timerfd_create:85 timerfd_settime:86 timerfd_gettime:87 utimensat:88
capget:90 capset:91 exit:93 exit_group:94 waitid:95 set_tid_address:96 futex:98
set_robust_list:99 get_robust_list:100 nanosleep:101 getitimer:102 setitimer:103
timer_create:107 timer_gettime:108 timer_getoverrun:109 timer_settime:110 timer_delete:111
clock_gettime:113 clock_getres:114 clock_nanosleep:115 sched_setparam:118 sched_setscheduler:119
sched_getscheduler:120 sched_getparam:121 sched_setaffinity:122 sched_getaffinity:123
sched_yield:124 sched_get_priority_max:125 sched_get_priority_min:126 sched_rr_get_interval:127
restart_syscall:128 kill:129 tkill:130 tgkill:131 sigaltstack:132 rt_sigsuspend:133
rt_sigaction:134 rt_sigprocmask:135 rt_sigpending:136 rt_sigtimedwait:137 rt_sigqueueinfo:138
rt_sigreturn:139 setpriority:140 getpriority:141 setregid:143 setgid:144 setreuid:145 setuid:146
setresuid:147 getresuid:148 setresgid:149 getresgid:150 setfsuid:151 setfsgid:152 times:153
setpgid:154 getpgid:155 getsid:156 setsid:157 getgroups:158 setgroups:159 uname:160
getrlimit:163 setrlimit:164 getrusage:165 umask:166 prctl:167 getcpu:168 gettimeofday:169
adjtimex:171 getpid:172 getppid:173 getuid:174 geteuid:175 getgid:176 getegid:177 gettid:178
sysinfo:179 mq_open:180 mq_unlink:181 mq_timedsend:182 mq_timedreceive:183 mq_notify:184
mq_getsetattr:185 msgget:186 msgctl:187 msgrcv:188 msgsnd:189 semget:190 semctl:191
semtimedop:192 semop:193 shmget:194 shmctl:195 shmat:196 shmdt:197 socketpair:199 bind:200
listen:201 accept:202 connect:203 getsockname:204 getpeername:205 sendto:206 recvfrom:207
setsockopt:208 getsockopt:209 shutdown:210 sendmsg:211 recvmsg:212 readahead:213 brk:214
munmap:215 mremap:216 execve:221 mmap:222 fadvise64:223 mprotect:226 msync:227 mlock:228
munlock:229 mlockall:230 munlockall:231 mincore:232 madvise:233 remap_file_pages:234
rt_tgsigqueueinfo:240 accept4:242 recvmmsg:243 wait4:260 prlimit64:261 fanotify_mark:263
name_to_handle_at:264 clock_adjtime:266 syncfs:267 sendmmsg:269 sched_setattr:274
sched_getattr:275 renameat2:276 seccomp:277 getrandom:278 memfd_create:279 execveat:281
membarrier:283 mlock2:284 copy_file_range:285 preadv2:286 pwritev2:287 pkey_mprotect:288
pkey_alloc:289 pkey_free:290 statx:291 io_pgetevents:292 rseq:293 pidfd_send_signal:424
io_uring_setup:425 io_uring_enter:426 io_uring_register:427 pidfd_open:434 close_range:436
openat2:437 faccessat2:439 epoll_pwait2:441 landlock_create_ruleset:444 landlock_add_rule:445
landlock_restrict_self:446 memfd_secret:447 process_mrelease:448 futex_waitv:449
"""
# AUDIT_ARCH_AARCH64 = EM_AARCH64 (183) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE; no x32-like range.
_AARCH64 = {"arch": 0xC00000B7, "socket": 198, "personality": 92, "clone": 220, "clone3": 435,
            "chroot": 51, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271}


def _table(text: str) -> dict[str, int]:
    return {name: int(nr) for name, nr in (item.split(":") for item in text.split())}


# The allow list of each supported machine: name -> number.
ALLOWED = {"x86_64": _table(_X86_64_ALLOWED), "aarch64": _table(_AARCH64_ALLOWED)}
SPECIAL = {"x86_64": _X86_64, "aarch64": _AARCH64}
# The calls of SPECIAL allowed outright (Docker: by capability or kernel version, all true here).
_ALWAYS = ("chroot", "ptrace", "process_vm_readv", "process_vm_writev")
ALWAYS = {"x86_64": (*_ALWAYS, "arch_prctl", "modify_ldt"), "aarch64": _ALWAYS}

AF_VSOCK = 40
# personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32,
# and 0xffffffff (query the current persona).
PERSONAS = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET: no new namespaces.
CLONE_NEW_FLAGS = 0x7E020000
ENOSYS, EPERM = 38, 1

RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
RET_KILL_PROCESS = 0x80000000

# classic BPF opcodes (linux/filter.h)
_LD_ABS_W = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
# offsets in struct seccomp_data
_NR, _ARCH = 0, 4


def _arg_lo(i: int) -> int:
    return 16 + 8 * i   # little-endian: the low 32 bits first


def _arg_hi(i: int) -> int:
    return 20 + 8 * i


Instruction = tuple[int, int, int, int]   # (code, jt, jf, k)


def program(machine: str | None = None) -> list[Instruction]:
    """The filter for ``machine`` (default: this one), as instructions."""
    machine = machine or os.uname().machine
    if machine not in ALLOWED:
        raise NotSupportedError(f"mason has no seccomp filter for {machine}: RUN cannot get Docker's default "
                                "profile here", hint="RUN --security=insecure with --allow security.insecure "
                                "runs without one")
    allowed, special = ALLOWED[machine], SPECIAL[machine]
    deny = RET_ERRNO | EPERM
    prog: list[Instruction] = [
        (_LD_ABS_W, 0, 0, _ARCH),
        (_JEQ_K, 1, 0, special["arch"]),
        (_RET_K, 0, 0, RET_KILL_PROCESS),   # another ABI: its numbers mean other calls
        (_LD_ABS_W, 0, 0, _NR),
    ]
    if "nr_max_x32" in special:         # x32 numbers share x86_64's audit arch
        prog += [(_JGE_K, 0, 1, special["nr_max_x32"]), (_RET_K, 0, 0, deny)]
    always = sorted(set(allowed.values()) | {special[n] for n in ALWAYS[machine]})
    for nr in always:
        prog += [(_JEQ_K, 0, 1, nr), (_RET_K, 0, 0, RET_ALLOW)]
    prog += [(_JEQ_K, 0, 1, special["clone3"]), (_RET_K, 0, 0, RET_ERRNO | ENOSYS)]
    # clone: allowed when no CLONE_NEW* bit is set in the low word of flags (all of them are there)
    prog += [(_JEQ_K, 0, 4, special["clone"]),
             (_LD_ABS_W, 0, 0, _arg_lo(0)),
             (_JSET_K, 1, 0, CLONE_NEW_FLAGS),
             (_RET_K, 0, 0, RET_ALLOW),
             (_RET_K, 0, 0, deny)]
    # socket: any family but AF_VSOCK (the kernel reads an int: only the low word counts)
    prog += [(_JEQ_K, 0, 4, special["socket"]),
             (_LD_ABS_W, 0, 0, _arg_lo(0)),
             (_JEQ_K, 0, 1, AF_VSOCK),
             (_RET_K, 0, 0, deny),
             (_RET_K, 0, 0, RET_ALLOW)]
    # personality: one of PERSONAS, compared as 64-bit values
    checks = [(_JEQ_K, len(PERSONAS) - i, 0, p) for i, p in enumerate(PERSONAS)]
    prog += [(_JEQ_K, 0, 5 + len(checks), special["personality"]),
             (_LD_ABS_W, 0, 0, _arg_hi(0)),
             (_JEQ_K, 0, 1 + len(checks), 0),
             (_LD_ABS_W, 0, 0, _arg_lo(0)),
             *checks,
             (_RET_K, 0, 0, deny),
             (_RET_K, 0, 0, RET_ALLOW)]
    prog.append((_RET_K, 0, 0, deny))
    return prog


def encode(prog: list[Instruction]) -> bytes:
    """``struct sock_filter[]`` as the kernel reads it."""
    return b"".join(struct.pack("=HBBI", *ins) for ins in prog)
