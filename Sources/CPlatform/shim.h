#include <malloc.h>
#include <sys/resource.h>
#include <stdio.h>

/// Makes standard output line-buffered (Swift 6 cannot name the global `stdout` safely).
static inline void locallearn_line_buffer_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
#include <signal.h>
#include <unistd.h>

/// Interrupt (Ctrl-C) handling: the first SIGINT or SIGTERM (`kill`, a shutdown) only counts, so the
/// training loop can finish its step and save a checkpoint, and a suite can hand it to its running
/// row instead of leaving it orphaned; a second one exits at once with status 130.
static volatile sig_atomic_t locallearn_interrupts = 0;

static void locallearn_on_interrupt(int signal) {
    (void)signal;
    if (locallearn_interrupts > 0) {
        static const char message[] = "\nsecond interrupt: exiting without a checkpoint\n";
        (void)!write(2, message, sizeof message - 1);
        _exit(130);
    }
    locallearn_interrupts = 1;
}

static inline void locallearn_install_interrupt_handler(void) {
    struct sigaction action;
    action.sa_handler = locallearn_on_interrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    // A parent may have started this process with SIGINT blocked; make sure it is delivered.
    sigset_t interrupt;
    sigemptyset(&interrupt);
    sigaddset(&interrupt, SIGINT);
    sigaddset(&interrupt, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &interrupt, NULL);
}

static inline int locallearn_interrupted(void) { return locallearn_interrupts > 0; }
