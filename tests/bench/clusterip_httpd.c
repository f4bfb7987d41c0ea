/* The backend of `fip-lab bench clusterip`: a minimal HTTP/1.0 responder, so the benchmark
 * measures the path to the backend, not a Python web server. `httpd PORT WORKERS`: WORKERS
 * processes share the port (SO_REUSEPORT); each accepts a connection, reads the request, answers
 * a fixed 200 and closes (one request per connection: the short-connection case). Built by the
 * benchmark with the system cc into a temporary directory. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char reply[] =
    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

static void serve(int port, int announce)
{
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    char buf[4096];

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 4096) < 0) {
        perror("bind/listen");
        exit(1);
    }
    if (announce) {
        printf("ready\n");
        fflush(stdout);
    }
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        size_t got = 0;
        while (got < sizeof(buf) - 1) {
            ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);
            if (n <= 0)
                break;
            got += n;
            buf[got] = 0;
            if (strstr(buf, "\r\n\r\n"))
                break;
        }
        if (write(c, reply, sizeof(reply) - 1) < 0) {
        }
        close(c);
    }
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080, workers = argc > 2 ? atoi(argv[2]) : 1;
    for (int i = 1; i < workers; i++)
        if (fork() == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* end with the benchmark's kill of the parent */
            serve(port, 0);
        }
    serve(port, 1);
    return 0;
}
