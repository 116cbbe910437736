// vcat: the guest side of the vsock end-to-end test (built static with the host's gcc).
//   vcat connect PORT       connect to the host (CID 2) at PORT, copy stdin -> socket and
//                           socket -> stdout; stdin's end shuts the socket's write side, the
//                           socket's end finishes
//   vcat listen PORT        accept one connection on PORT, then the same copy
//   vcat echo PORT COUNT    accept COUNT connections, each echoed back by its own process
#include <errno.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char* what) {
    fprintf(stderr, "vcat: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int write_all(int fd, const char* data, size_t size) {
    while (size > 0) {
        ssize_t done = write(fd, data, size);
        if (done < 0 && errno == EINTR) continue;
        if (done <= 0) return -1;
        data += done;
        size -= (size_t)done;
    }
    return 0;
}

// Copies in -> socket and socket -> out until the socket ends.
static void copy(int socket_fd, int in, int out) {
    static char buffer[65536];
    int in_open = 1;
    for (;;) {
        struct pollfd fds[2] = {{socket_fd, POLLIN, 0}, {in, POLLIN, 0}};
        if (poll(fds, in_open ? 2 : 1, -1) < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (fds[0].revents) {
            ssize_t got = read(socket_fd, buffer, sizeof buffer);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) return;
            if (write_all(out, buffer, (size_t)got) != 0) die("write output");
        }
        if (in_open && fds[1].revents) {
            ssize_t got = read(in, buffer, sizeof buffer);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                in_open = 0;
                shutdown(socket_fd, SHUT_WR);
            } else if (write_all(socket_fd, buffer, (size_t)got) != 0) {
                die("write socket");
            }
        }
    }
}

static int listen_on(unsigned port) {
    int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_vm address = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
                                  .svm_port = port};
    if (bind(fd, (struct sockaddr*)&address, sizeof address) != 0) die("bind");
    if (listen(fd, 32) != 0) die("listen");
    return fd;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: vcat connect|listen PORT | vcat echo PORT COUNT\n");
        return 2;
    }
    unsigned port = (unsigned)strtoul(argv[2], NULL, 10);
    if (strcmp(argv[1], "connect") == 0) {
        int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
        if (fd < 0) die("socket");
        struct sockaddr_vm address = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST,
                                      .svm_port = port};
        if (connect(fd, (struct sockaddr*)&address, sizeof address) != 0) die("connect");
        copy(fd, 0, 1);
        return 0;
    }
    if (strcmp(argv[1], "listen") == 0) {
        int listener = listen_on(port);
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) die("accept");
        copy(fd, 0, 1);
        return 0;
    }
    if (strcmp(argv[1], "echo") == 0 && argc == 4) {
        int count = atoi(argv[3]);
        int listener = listen_on(port);
        for (int i = 0; i < count; ++i) {
            int fd = accept(listener, NULL, NULL);
            if (fd < 0) die("accept");
            if (fork() == 0) {
                static char buffer[65536];
                for (;;) {
                    ssize_t got = read(fd, buffer, sizeof buffer);
                    if (got < 0 && errno == EINTR) continue;
                    if (got <= 0) break;
                    if (write_all(fd, buffer, (size_t)got) != 0) die("echo");
                }
                shutdown(fd, SHUT_WR);
                _exit(0);
            }
            close(fd);
        }
        while (wait(NULL) > 0) {
        }
        return 0;
    }
    fprintf(stderr, "vcat: unknown mode %s\n", argv[1]);
    return 2;
}
