/* Hostile: sends a UDP datagram to 127.0.0.1. Expected:
 * SYSCALL_DENIED(socket). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostile.h"

static long udp(void)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    long r = sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof a);
    close(s);
    return r;
}

HOSTILE_SYSCALL("udp_socket", udp())
