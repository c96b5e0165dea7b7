/*
 * Sandbox costs, against baselines measured in the same run:
 *   - set-up of a worker with every layer (spawn -> LOADED), against a plain
 *     fork + exec + wait of /bin/true;
 *   - a fork-after-fit (FORK -> child's HELLO);
 *   - the round trip of an empty predict call on a tiny PE, against a raw
 *     SOCK_SEQPACKET ping-pong between two processes.
 * Targets: set-up <= 20 ms, round trip <= 0.2 ms.
 *
 * usage: bench_sandbox [N_SPAWN [N_CALLS]]   (defaults 30 and 20000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "higgsbox/higgsbox.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double fork_exec_true(int n)
{
    double t0 = now();
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        int st;
        waitpid(p, &st, 0);
    }
    return (now() - t0) / n;
}

static double seqpacket_pingpong(int n)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
        return -1;
    pid_t p = fork();
    if (p == 0) {
        char b[64];
        close(sv[0]);
        while (read(sv[1], b, sizeof b) > 0)
            if (write(sv[1], b, 16) != 16)
                break;
        _exit(0);
    }
    close(sv[1]);
    char b[64] = {0};
    double t0 = now();
    for (int i = 0; i < n; i++)
        if (write(sv[0], b, 16) != 16 || read(sv[0], b, sizeof b) <= 0)
            break;
    double t = (now() - t0) / n;
    close(sv[0]);
    int st;
    waitpid(p, &st, 0);
    return t;
}

static hbx_sandbox *make_sandbox(int namespaces)
{
    hbx_sandbox *sb = hbx_sandbox_new();
    hbx_sandbox_set_plugin(sb, HBX_BENCH_PLUGINS "/constant/constant.so");
    hbx_sandbox_set_worker(sb, HBX_BENCH_WORKER);
    hbx_sandbox_set_memory_limit(sb, 1ull << 30);
    hbx_sandbox_set_cpu_limit(sb, 60);
    hbx_sandbox_set_namespaces(sb, namespaces);
    return sb;
}

/* Mean seconds of spawn + load; the workers are destroyed outside the
 * timing. */
static double setup(hbx_sandbox *sb, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        hbx_worker *w;
        hbx_call_record rec;
        hbx_plugin_info info;
        double t0 = now();
        if (hbx_worker_spawn(sb, &w, &rec) != 0 || hbx_worker_load(w, &info, &rec) != 0) {
            fprintf(stderr, "bench_sandbox: worker failed: %s\n", rec.detail);
            exit(1);
        }
        total += now() - t0;
        hbx_worker_destroy(w);
    }
    return total / n;
}

int main(int argc, char **argv)
{
    int n_spawn = argc > 1 ? atoi(argv[1]) : 30;
    int n_calls = argc > 2 ? atoi(argv[2]) : 20000;
    if (n_spawn < 1 || n_calls < 1) {
        fprintf(stderr, "usage: bench_sandbox [N_SPAWN [N_CALLS]]\n");
        return 2;
    }
    double base_exec = fork_exec_true(n_spawn);
    double base_ping = seqpacket_pingpong(n_calls);

    hbx_sandbox *sb = make_sandbox(1);
    hbx_sandbox_report r;
    hbx_call_record rec;
    if (hbx_sandbox_probe(sb, &r, &rec) != 0) {
        fprintf(stderr, "bench_sandbox: probe failed: %s\n", rec.detail);
        return 1;
    }
    int active = 0;
    for (int i = 0; i < HBX_N_LAYERS; i++)
        active += r.layer[i].active != 0;
    double t_setup = setup(sb, n_spawn);
    hbx_sandbox *fb = make_sandbox(0);
    double t_setup_fb = setup(fb, n_spawn);

    hbx_block train, pe;
    hbx_block_create(&train, "train", 100, HBX_TABLE_TRUTH);
    hbx_block_set_count(&train, 100);
    hbx_block_create(&pe, "pe", 10, 0);
    hbx_block_set_count(&pe, 10);
    int tfd = hbx_block_reader_fd(&train), pfd = hbx_block_reader_fd(&pe);
    hbx_worker *w, *c = NULL;
    hbx_plugin_info info;
    if (hbx_worker_spawn(sb, &w, &rec) != 0 || hbx_worker_load(w, &info, &rec) != 0 ||
        hbx_worker_fit(w, tfd, train.size, 60, &rec) != 0) {
        fprintf(stderr, "bench_sandbox: fit failed: %s\n", rec.detail);
        return 1;
    }
    double t0 = now();
    for (int i = 0; i < n_spawn; i++) {
        hbx_worker_destroy(c);
        if (hbx_worker_fork(w, &c, &rec) != 0) {
            fprintf(stderr, "bench_sandbox: fork failed: %s\n", rec.detail);
            return 1;
        }
    }
    double t_fork = (now() - t0) / n_spawn;
    hbx_prediction out;
    t0 = now();
    for (int i = 0; i < n_calls; i++)
        if (hbx_worker_predict(c, pfd, pe.size, 60, &out, &rec) != 0) {
            fprintf(stderr, "bench_sandbox: predict failed: %s\n", rec.detail);
            return 1;
        }
    double t_call = (now() - t0) / n_calls;

    printf("sandbox layers active:           %d of %d\n", active, HBX_N_LAYERS);
    printf("baseline fork+exec+wait /bin/true: %8.3f ms\n", base_exec * 1e3);
    printf("worker set-up, all layers:       %8.3f ms  (%.1fx baseline; target <= 20 ms)\n",
           t_setup * 1e3, t_setup / base_exec);
    printf("worker set-up, no namespaces:    %8.3f ms  (%.1fx baseline)\n", t_setup_fb * 1e3,
           t_setup_fb / base_exec);
    printf("fork after fit (FORK -> HELLO):  %8.3f ms  (%.1fx baseline)\n", t_fork * 1e3,
           t_fork / base_exec);
    printf("baseline seqpacket ping-pong:    %8.3f us\n", base_ping * 1e6);
    printf("empty predict round trip:        %8.3f us  (%.1fx baseline; target <= 200 us)\n",
           t_call * 1e6, t_call / base_ping);

    hbx_worker_destroy(c);
    hbx_worker_destroy(w);
    close(tfd);
    close(pfd);
    hbx_block_destroy(&train);
    hbx_block_destroy(&pe);
    hbx_sandbox_destroy(sb);
    hbx_sandbox_destroy(fb);
    return 0;
}
