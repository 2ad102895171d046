/* The native fan-out loop: one encoded payload to many listeners, each with its own RTP
 * header and SRTP context, sent with sendmmsg in runs that share a socket.
 *
 * The SRTP contexts are aiortc's own (negotiated over DTLS) and are protected by the
 * libsrtp that pylibsrtp carries (built with OpenSSL), through the function pointer
 * townhall/media/native.py passes to th_init: no libsrtp of our own is linked. (Debian's
 * libsrtp2 is built with NSS, whose cost per protect grows with the number of contexts:
 * 12 us each with 1,000 of them, against 0.4 us here.) The Python loop in
 * media/session.py sends the same bytes when this cannot be built. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define TH_BATCH 64
#define TH_PACKET 1500 /* the largest SRTP packet written: header + payload + trailer */
#define TH_TRAILER (16 + 128) /* libsrtp 2's SRTP_MAX_TRAILER_LEN: tag and MKI */

/* libsrtp 2: srtp_err_status_t srtp_protect(srtp_t ctx, void *rtp_hdr, int *len_ptr) */
typedef int (*th_protect_fn)(void *srtp, void *packet, int *len);

static th_protect_fn th_protect = NULL;

struct th_outlet {
    void *srtp; /* an srtp_t, owned by its pylibsrtp Session */
    int fd;     /* -1: no route, nothing is sent */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint32_t ssrc;
    uint32_t ts;
    uint16_t seq;
    uint8_t payload_type;
};

static void th_init(void *protect) { th_protect = (th_protect_fn)protect; }

static int th_max_payload(void) { return TH_PACKET - 12 - TH_TRAILER; }

/* NULL when out of memory. The srtp context must outlive the outlet. */
static struct th_outlet *th_outlet_new(void *srtp, uint32_t ssrc, int payload_type, int seq,
                                       uint32_t ts)
{
    struct th_outlet *o = calloc(1, sizeof *o);

    if (o == NULL)
        return NULL;
    o->srtp = srtp;
    o->fd = -1;
    o->ssrc = ssrc;
    o->payload_type = (uint8_t)(payload_type & 0x7f);
    o->seq = (uint16_t)seq;
    o->ts = ts;
    return o;
}

static void th_outlet_free(struct th_outlet *o) { free(o); }

/* Send to ``addr`` (a struct sockaddr of ``addrlen`` bytes) on socket ``fd``; fd -1: stop. */
static void th_outlet_route(struct th_outlet *o, int fd, const unsigned char *addr,
                            size_t addrlen)
{
    if (fd < 0 || addrlen > sizeof o->addr) {
        o->fd = -1;
        return;
    }
    memcpy(&o->addr, addr, addrlen);
    o->addrlen = (socklen_t)addrlen;
    o->fd = fd;
}

static int th_outlet_seq(const struct th_outlet *o) { return o->seq; }

static uint32_t th_outlet_ts(const struct th_outlet *o) { return o->ts; }

/* Send ``count`` messages on ``fd``; a message the socket refuses (a full buffer) is
 * dropped for that listener and the rest still go. Returns how many were sent. */
static int th_flush(int fd, struct mmsghdr *msgs, int count)
{
    int done = 0, sent = 0, r;

    while (done < count) {
        if (count - done == 1) {
            struct msghdr *m = &msgs[done].msg_hdr;
            r = sendto(fd, m->msg_iov->iov_base, m->msg_iov->iov_len, MSG_DONTWAIT,
                       m->msg_name, m->msg_namelen) < 0 ? -1 : 1;
        } else {
            r = sendmmsg(fd, msgs + done, (unsigned int)(count - done), MSG_DONTWAIT);
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            done += 1; /* this one is lost; go on with the next */
            continue;
        }
        sent += r;
        done += r;
    }
    return sent;
}

/* The hot loop. Per listener: next sequence number and timestamp, the RTP header, the
 * payload, SRTP in place; consecutive listeners on one socket leave in one sendmmsg.
 * Returns the packets sent, or -1 when ``len`` is more than th_max_payload(). */
static int th_send(struct th_outlet *const *outlets, int n, const unsigned char *payload,
                   int len, uint32_t samples)
{
    unsigned char buffers[TH_BATCH][TH_PACKET]; /* 96 kB of stack */
    struct mmsghdr msgs[TH_BATCH];
    struct iovec iov[TH_BATCH];
    int i, k = 0, fd = -1, sent = 0, size;

    if (len < 0 || len > th_max_payload() || th_protect == NULL)
        return -1;
    for (i = 0; i < n; i++) {
        struct th_outlet *o = outlets[i];
        unsigned char *b;

        if (o->fd < 0)
            continue;
        if (k > 0 && (o->fd != fd || k == TH_BATCH)) {
            sent += th_flush(fd, msgs, k);
            k = 0;
        }
        o->seq = (uint16_t)(o->seq + 1);
        o->ts += samples;
        b = buffers[k];
        b[0] = 0x80;
        b[1] = o->payload_type;
        b[2] = (unsigned char)(o->seq >> 8);
        b[3] = (unsigned char)o->seq;
        b[4] = (unsigned char)(o->ts >> 24);
        b[5] = (unsigned char)(o->ts >> 16);
        b[6] = (unsigned char)(o->ts >> 8);
        b[7] = (unsigned char)o->ts;
        b[8] = (unsigned char)(o->ssrc >> 24);
        b[9] = (unsigned char)(o->ssrc >> 16);
        b[10] = (unsigned char)(o->ssrc >> 8);
        b[11] = (unsigned char)o->ssrc;
        memcpy(b + 12, payload, (size_t)len);
        size = 12 + len;
        if (th_protect(o->srtp, b, &size) != 0)
            continue; /* srtp_err_status_ok is 0 */
        iov[k].iov_base = b;
        iov[k].iov_len = (size_t)size;
        memset(&msgs[k], 0, sizeof msgs[k]);
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
        msgs[k].msg_hdr.msg_name = &o->addr;
        msgs[k].msg_hdr.msg_namelen = o->addrlen;
        fd = o->fd;
        k++;
    }
    if (k > 0)
        sent += th_flush(fd, msgs, k);
    return sent;
}
