#!/usr/bin/env python3
"""Independent emulators of telephone devices on a pseudo-terminal, for
callpop's tests. Written from the devices' documented behaviour, sharing
no code with callpop (its own simulators live in src/sim/).

Usage: phone_devices.py voice-modem|ht9032 LINK

The device's serial port appears at LINK (a symlink to the pty's slave).
Commands arrive on stdin, one a line; each is answered "ok" on stdout once
its bytes are written (or "error <why>"):

  ring                       a ring (RING / status 0xA5 0x01 0xFE)
  cid NUMBER [NAME]          caller ID; NAME is sent GBK-encoded
                             voice modem: DATE/TIME/NMBR/NAME lines
                             ht9032: seizure, marks, an MDMF message
  oddcid ODDHEX NUMBER NAME  ht9032: seizure, then one odd byte of value
                             ODDHEX straight after it, then the MDMF message
  clock MMDDHHMM | now       the date and time later caller IDs tell (as
                             the exchange sets it): fixed, or the clock's
  offhook / onhook           ht9032 status codes 0x02 / 0x03
  unplug                     closes the pty and removes LINK
  plug                       a new pty at LINK
  quit

The voice modem answers every AT command with OK (its init sequence).
"""

import datetime
import os
import select
import sys
import threading
import tty

STATUS_PREFIX = 0xA5

# The date and time caller IDs tell, MMDDHHMM; None: the local clock's.
TOLD = None


def told():
    """MMDDHHMM, as the exchange sends it with a caller ID."""
    if TOLD is not None:
        return TOLD
    return datetime.datetime.now().strftime("%m%d%H%M")


class Port:
    """A pty whose slave is reachable at `link`."""

    def __init__(self, link):
        self.link = link
        self.master = None
        self.lock = threading.Lock()

    def plug(self):
        master, slave = os.openpty()
        tty.setraw(slave)
        name = os.ttyname(slave)
        # The slave stays open here too, so bytes written while nobody
        # else has it open are kept in the pty, as in a real USB bridge's
        # buffer, and a reader's close does not hang up the line.
        self.slave = slave
        tmp = self.link + ".new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(name, tmp)
        os.replace(tmp, self.link)
        with self.lock:
            self.master = master

    def unplug(self):
        with self.lock:
            master, self.master = self.master, None
        if os.path.lexists(self.link):
            os.unlink(self.link)
        if master is not None:
            os.close(master)
            os.close(self.slave)

    def write(self, data):
        with self.lock:
            if self.master is None:
                raise RuntimeError("unplugged")
            os.write(self.master, data)


def mdmf(number, name):
    """An MDMF message: date/time, number, name (GBK), checksum."""
    params = bytearray()
    stamp = told().encode()
    params += bytes([0x01, len(stamp)]) + stamp
    num = number.encode()
    params += bytes([0x02, len(num)]) + num
    if name:
        nm = name.encode("gbk")
        params += bytes([0x07, len(nm)]) + nm
    msg = bytearray([0x80, len(params)]) + params
    msg.append((-sum(msg)) & 0xFF)
    return bytes(msg)


def voice_modem_cid(number, name):
    stamp = told().encode()
    out = b"\r\nDATE = " + stamp[:4]
    out += b"\r\nTIME = " + stamp[4:]
    out += b"\r\nNMBR = " + number.encode()
    if name:
        out += b"\r\nNAME = " + name.encode("gbk")
    return out + b"\r\n"


def status(code):
    return bytes([STATUS_PREFIX, code, code ^ 0xFF])


def answer_at(port):
    """The voice modem's command side: OK to every AT command."""
    pending = b""
    while True:
        master = port.master
        if master is None:
            threading.Event().wait(0.02)
            continue
        try:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            data = os.read(master, 256)
        except OSError:
            threading.Event().wait(0.02)
            continue
        pending += data
        while b"\r" in pending:
            line, pending = pending.split(b"\r", 1)
            if line.strip().upper().startswith(b"AT"):
                try:
                    port.write(b"\r\nOK\r\n")
                except (OSError, RuntimeError):
                    pass


def main():
    global TOLD
    kind, link = sys.argv[1], sys.argv[2]
    port = Port(link)
    port.plug()
    if kind == "voice-modem":
        threading.Thread(target=answer_at, args=(port,), daemon=True).start()
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd, args = words[0], words[1:]
        try:
            if cmd == "quit":
                break
            elif cmd == "plug":
                port.plug()
            elif cmd == "unplug":
                port.unplug()
            elif cmd == "ring":
                port.write(b"\r\nRING\r\n" if kind == "voice-modem" else status(0x01))
            elif cmd == "cid":
                number, name = args[0], (args[1] if len(args) > 1 else "")
                if kind == "voice-modem":
                    port.write(voice_modem_cid(number, name))
                else:
                    port.write(b"\x55" * 30 + b"\xff" * 5 + mdmf(number, name))
            elif cmd == "oddcid":
                odd, number, name = int(args[0], 16), args[1], args[2]
                port.write(b"\x55" * 30 + bytes([odd]) + mdmf(number, name))
            elif cmd == "clock":
                stamp = args[0]
                if stamp == "now":
                    TOLD = None
                elif len(stamp) == 8 and stamp.isdigit():
                    TOLD = stamp
                else:
                    raise RuntimeError("clock MMDDHHMM or now")
            elif cmd == "offhook":
                port.write(status(0x02))
            elif cmd == "onhook":
                port.write(status(0x03))
            else:
                raise RuntimeError("unknown command " + cmd)
            print("ok", flush=True)
        except Exception as e:  # the test reads why
            print("error", e, flush=True)
    port.unplug()


if __name__ == "__main__":
    main()
