/* A trivial loopback HTTP/1.1 target for bench/loadgen.py: one thread, epoll,
 * keep-alive, answers every request with "200 ok". It must never be the
 * bottleneck of the load generators it serves. Prints "PORT <n>" once listening.
 *
 *   cc -O2 -o loadgen_target loadgen_target.c && ./loadgen_target
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
        char out[64 * (sizeof RESPONSE)];
        size_t out_len = 0, used = 0, req;
        while ((req = request_length(c->buf + used, c->len - used)) > 0) {
            used += req;
            if (out_len + sizeof RESPONSE > sizeof out) break;
            memcpy(out + out_len, RESPONSE, sizeof RESPONSE - 1);
            out_len += sizeof RESPONSE - 1;
        }
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        if (c->len == BUF_SIZE) { drop(epfd, fd); return; }
        if (out_len && write(fd, out, out_len) < 0) { drop(epfd, fd); return; }
    }
}

int main(void) {
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
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(epfd, events, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
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
