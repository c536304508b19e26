/* A trivial loopback HTTP/1.1 target for bench/loadgen.py: one thread, epoll,
 * keep-alive, answers every request with "200 ok". It must never be the
 * bottleneck of the load generators it serves. Prints "PORT <n>" once listening.
 *
 * With an argument, each answer waits that many microseconds (a timerfd, so to
 * within tens of microseconds): a known service time that every load generator
 * should report alike.
 *
 *   cc -O2 -o loadgen_target loadgen_target.c && ./loadgen_target [delay_us]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define BUF_SIZE 65536

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";

struct conn {
    char buf[BUF_SIZE];
    size_t len;
};

static struct conn *conns[MAX_CONNS];
static unsigned generation[MAX_CONNS]; /* tells a reused fd from the one a reply was due to */

/* Delayed replies, in arrival order (the delay is constant, so also in due order). */
#define QUEUE_SIZE 65536
struct due { unsigned long long at_ns; int fd; unsigned gen; int count; };
static struct due queue[QUEUE_SIZE];
static size_t q_head, q_len;
static unsigned long long delay_ns;
static int timer_fd;

static unsigned long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static void arm(unsigned long long at_ns) {
    struct itimerspec spec = {0};
    spec.it_value.tv_sec = (time_t)(at_ns / 1000000000ULL);
    spec.it_value.tv_nsec = (long)(at_ns % 1000000000ULL);
    timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

static void reply(int fd, int count) {
    char out[64 * (sizeof RESPONSE)];
    while (count > 0) {
        size_t len = 0;
        for (; count > 0 && len + sizeof RESPONSE <= sizeof out; count--) {
            memcpy(out + len, RESPONSE, sizeof RESPONSE - 1);
            len += sizeof RESPONSE - 1;
        }
        if (write(fd, out, len) < 0) return; /* the read side notices a dead peer */
    }
}

static void defer(int fd, int count) {
    if (q_len == QUEUE_SIZE) { reply(fd, count); return; }
    struct due *d = &queue[(q_head + q_len++) % QUEUE_SIZE];
    d->at_ns = now_ns() + delay_ns;
    d->fd = fd;
    d->gen = generation[fd];
    d->count = count;
    if (q_len == 1) arm(d->at_ns);
}

static void on_timer(void) {
    unsigned long long expirations;
    if (read(timer_fd, &expirations, sizeof expirations) < 0) { /* spurious */ }
    unsigned long long now = now_ns();
    while (q_len && queue[q_head].at_ns <= now) {
        struct due *d = &queue[q_head];
        if (conns[d->fd] && generation[d->fd] == d->gen) reply(d->fd, d->count);
        q_head = (q_head + 1) % QUEUE_SIZE;
        q_len--;
    }
    if (q_len) arm(queue[q_head].at_ns);
}

/* Length of the request at the start of buf (head + Content-Length body), 0 if incomplete. */
static size_t request_length(const char *buf, size_t len) {
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t head = (size_t)(end - buf) + 4;
    size_t body = 0;
    for (const char *p = buf; p < end; p++) {
        if ((*p == '\n') && strncasecmp(p + 1, "content-length:", 15) == 0) {
            body = strtoul(p + 16, NULL, 10);
            break;
        }
    }
    return head + body <= len ? head + body : 0;
}

static void drop(int epfd, int fd) {
    generation[fd]++;
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(conns[fd]);
    conns[fd] = NULL;
}

static void serve(int epfd, int fd) {
    struct conn *c = conns[fd];
    for (;;) {
        ssize_t n = read(fd, c->buf + c->len, BUF_SIZE - c->len);
        if (n == 0 || (n < 0 && errno != EAGAIN)) { drop(epfd, fd); return; }
        if (n < 0) return;
        c->len += (size_t)n;
        size_t used = 0, req;
        int count = 0;
        while ((req = request_length(c->buf + used, c->len - used)) > 0) {
            used += req;
            count++;
        }
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        if (c->len == BUF_SIZE) { drop(epfd, fd); return; }
        if (count && delay_ns) defer(fd, count);
        else if (count) reply(fd, count);
    }
}

int main(int argc, char **argv) {
    delay_ns = argc > 1 ? strtoull(argv[1], NULL, 10) * 1000ULL : 0;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 1024) ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen)) {
        perror("listen");
        return 1;
    }
    printf("PORT %d\n", ntohs(addr.sin_port));
    fflush(stdout);
    int epfd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event tev = {.events = EPOLLIN, .data.fd = timer_fd};
    epoll_ctl(epfd, EPOLL_CTL_ADD, timer_fd, &tev);
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(epfd, events, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == timer_fd) { on_timer(); continue; }
            if (fd != lfd) { serve(epfd, fd); continue; }
            int cfd;
            while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                if (cfd >= MAX_CONNS) { close(cfd); continue; }
                setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                conns[cfd] = calloc(1, sizeof(struct conn));
                struct epoll_event cev = {.events = EPOLLIN, .data.fd = cfd};
                epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &cev);
            }
        }
    }
}
