/* Hostile: connects to 127.0.0.1 over TCP. Expected: SYSCALL_DENIED(socket). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostile.h"

static long tcp(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(22)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    long r = connect(s, (struct sockaddr *)&a, sizeof a);
    close(s);
    return r;
}

HOSTILE_SYSCALL("tcp_socket", tcp())
