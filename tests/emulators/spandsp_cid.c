/*
 * A caller-ID sender that is not callpop's: spandsp's ADSI transmitter
 * (Debian libspandsp-dev) builds and modulates the message itself, and
 * this writes the line audio (8 kHz, signed 16-bit little-endian) to
 * stdout. The tests add noise and offsets and give it to callpop's
 * decoders, minimodem, multimon-ng and spandsp's own receiver:
 *
 *   spandsp_cid bell202|v23|dtmf sdmf|mdmf NUMBER [NAME|-] [MMDDHHMM|-] [SEIZURE_BITS]
 *   spandsp_cid rx bell202|v23|dtmf < AUDIO
 *
 * The second form runs spandsp's ADSI receiver over line audio read from
 * stdin (the same format) and prints every message it accepts (its
 * checksum or, for DTMF, its start and end codes right) as one line of
 * hex bytes.
 *
 * bell202 is spandsp's CLASS standard, v23 its ETSI CLIP standard, dtmf
 * its CLIP_DTMF standard with the number between the start code A and the
 * end code C (how Chinese exchanges send DTMF caller ID).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spandsp.h>

static int field(adsi_tx_state_t *s, uint8_t *msg, int len, int type, const char *text)
{
    return adsi_add_field(s, msg, len, (uint8_t) type, (const uint8_t *) text, (int) strlen(text));
}

static int standard_of(const char *name)
{
    if (strcmp(name, "bell202") == 0)
        return ADSI_STANDARD_CLASS;
    if (strcmp(name, "v23") == 0)
        return ADSI_STANDARD_CLIP;
    if (strcmp(name, "dtmf") == 0)
        return ADSI_STANDARD_CLIP_DTMF;
    return -1;
}

static void print_message(void *user_data, const uint8_t *msg, int len)
{
    (void) user_data;
    for (int i = 0; i < len; i++)
        printf("%02x", msg[i]);
    printf("\n");
    fflush(stdout);
}

static int receive(const char *standard)
{
    int kind = standard_of(standard);
    if (kind < 0) {
        fprintf(stderr, "unknown standard %s\n", standard);
        return 2;
    }
    adsi_rx_state_t *s = adsi_rx_init(NULL, kind, print_message, NULL);
    if (s == NULL)
        return 1;
    int16_t amp[160];
    size_t n;
    while ((n = fread(amp, sizeof(int16_t), 160, stdin)) > 0)
        adsi_rx(s, amp, (int) n);
    /* A second of silence lets a message that ends the audio finish. */
    memset(amp, 0, sizeof amp);
    for (int i = 0; i < 50; i++)
        adsi_rx(s, amp, 160);
    adsi_rx_free(s);
    return 0;
}

static int usage(const char *self)
{
    fprintf(stderr,
            "usage: %s bell202|v23|dtmf sdmf|mdmf NUMBER [NAME|-] [MMDDHHMM|-] [SEIZURE_BITS]\n"
            "       %s rx bell202|v23|dtmf < AUDIO\n",
            self, self);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "rx") == 0)
        return argc == 3 ? receive(argv[2]) : usage(argv[0]);
    if (argc < 4)
        return usage(argv[0]);
    const char *standard = argv[1];
    int sdmf = strcmp(argv[2], "sdmf") == 0;
    const char *number = argv[3];
    const char *name = argc > 4 && strcmp(argv[4], "-") != 0 ? argv[4] : NULL;
    const char *when = argc > 5 && strcmp(argv[5], "-") != 0 ? argv[5] : NULL;
    int seizure = argc > 6 ? atoi(argv[6]) : -1;

    int kind = standard_of(standard);
    if (kind < 0) {
        fprintf(stderr, "unknown standard %s\n", standard);
        return 2;
    }
    adsi_tx_state_t *s = adsi_tx_init(NULL, kind);
    if (s == NULL)
        return 1;
    if (seizure >= 0 && kind != ADSI_STANDARD_CLIP_DTMF)
        /* seizure bits, then 180 mark bits (Bellcore), 5 after, 1 stop bit */
        adsi_tx_set_preamble(s, seizure, 180, 5, 1);

    uint8_t msg[256];
    int len;
    if (kind == ADSI_STANDARD_CLIP_DTMF) {
        len = adsi_add_field(s, msg, -1, CLIP_DTMF_C_TERMINATED, NULL, 0);
        len = field(s, msg, len, CLIP_DTMF_C_CALLER_NUMBER, number);
    } else if (sdmf && kind == ADSI_STANDARD_CLASS) {
        len = adsi_add_field(s, msg, -1, CLASS_SDMF_CALLERID, NULL, 0);
        len = field(s, msg, len, 0, when ? when : "01010000");
        len = field(s, msg, len, 0, number);
    } else {
        /* MDMF: the same parameter codes in CLASS and ETSI CLIP. */
        len = adsi_add_field(s, msg, -1, kind == ADSI_STANDARD_CLASS ? CLASS_MDMF_CALLERID : CLIP_MDMF_CALLERID, NULL, 0);
        if (when)
            len = field(s, msg, len, CLIP_DATETIME, when);
        len = field(s, msg, len, CLIP_CALLER_NUMBER, number);
        if (name)
            len = field(s, msg, len, CLIP_CALLER_NAME, name);
    }
    if (adsi_tx_put_message(s, msg, len) < 0) {
        fprintf(stderr, "spandsp refused the message\n");
        return 1;
    }
    int16_t amp[160];
    int n;
    /* 300 ms of silence before and after, as a line has. */
    int16_t quiet[2400] = {0};
    fwrite(quiet, sizeof(int16_t), 2400, stdout);
    while ((n = adsi_tx(s, amp, 160)) > 0)
        fwrite(amp, sizeof(int16_t), (size_t) n, stdout);
    fwrite(quiet, sizeof(int16_t), 2400, stdout);
    adsi_tx_free(s);
    return 0;
}
