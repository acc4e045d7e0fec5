/*
 * A caller-ID sender that is not callpop's: spandsp's ADSI transmitter
 * (Debian libspandsp-dev) builds and modulates the message itself, and
 * this writes the line audio (8 kHz, signed 16-bit little-endian) to
 * stdout. The tests add noise and offsets and give it to callpop's
 * decoders, minimodem and multimon-ng.
 *
 *   spandsp_cid bell202|v23|dtmf sdmf|mdmf NUMBER [NAME|-] [MMDDHHMM|-] [SEIZURE_BITS]
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

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s bell202|v23|dtmf sdmf|mdmf NUMBER [NAME|-] [MMDDHHMM|-] [SEIZURE_BITS]\n", argv[0]);
        return 2;
    }
    const char *standard = argv[1];
    int sdmf = strcmp(argv[2], "sdmf") == 0;
    const char *number = argv[3];
    const char *name = argc > 4 && strcmp(argv[4], "-") != 0 ? argv[4] : NULL;
    const char *when = argc > 5 && strcmp(argv[5], "-") != 0 ? argv[5] : NULL;
    int seizure = argc > 6 ? atoi(argv[6]) : -1;

    int kind;
    if (strcmp(standard, "bell202") == 0)
        kind = ADSI_STANDARD_CLASS;
    else if (strcmp(standard, "v23") == 0)
        kind = ADSI_STANDARD_CLIP;
    else if (strcmp(standard, "dtmf") == 0)
        kind = ADSI_STANDARD_CLIP_DTMF;
    else {
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
